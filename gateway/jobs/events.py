"""Which webhook events a video change produces, and for which URLs.

Filter semantics follow Replicate's `webhook_events_filter`: "completed" covers
every terminal state (succeeded, failed, canceled) and is the default;
"progress" adds throttled `video.progress` events.
"""

from __future__ import annotations

from collections.abc import Sequence

TERMINAL_EVENTS = {
    "succeeded": "video.completed",
    "failed": "video.failed",
    "canceled": "video.canceled",
}
PROGRESS_EVENT = "video.progress"
DEFAULT_FILTER = ("completed",)


def wanted(events_filter: Sequence[str] | None, event_type: str) -> bool:
    chosen = set(events_filter or DEFAULT_FILTER)
    if event_type == PROGRESS_EVENT:
        return "progress" in chosen
    return "completed" in chosen


def target_urls(webhook_url: str | None, events_filter: Sequence[str] | None, event_type: str) -> list[str]:
    """The per-request webhook URL, when its filter asks for this event."""
    if webhook_url and wanted(events_filter, event_type):
        return [webhook_url]
    return []
