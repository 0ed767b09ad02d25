"""Which webhook event a video change produces, and for which URLs.

Filter semantics (which values select which events) live in
`gateway.webhooks.progress`; this module maps statuses to event types.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.webhooks.progress import PROGRESS_EVENT, should_emit

__all__ = ["PROGRESS_EVENT", "STARTED_EVENT", "TERMINAL_EVENTS", "target_urls", "wanted"]

TERMINAL_EVENTS = {
    "succeeded": "video.completed",
    "failed": "video.failed",
    "canceled": "video.canceled",
}
STARTED_EVENT = "video.started"


def wanted(events_filter: Sequence[str] | None, event_type: str) -> bool:
    return should_emit(list(events_filter) if events_filter else None, event_type)


def target_urls(
    webhook_url: str | None, events_filter: Sequence[str] | None, event_type: str
) -> list[str]:
    """The per-request webhook URL, when its filter asks for this event."""
    if webhook_url and wanted(events_filter, event_type):
        return [webhook_url]
    return []
