"""Which video events a webhook receives, and how often ``video.progress`` fires.

A video's ``webhook_events_filter`` lists filter values, after Replicate's
``webhook_events_filter``:

============  ==================================================
value         events
============  ==================================================
``start``     ``video.started`` (the engine began working)
``progress``  ``video.progress`` (throttled, see below)
``completed`` ``video.completed``, ``video.failed``, ``video.canceled``
============  ==================================================

A missing filter (``None``) or an empty list means ``["completed"]``: terminal
events only, which is what automation triggers want. An event type not in the
table is never sent to a per-video webhook.

``video.progress`` is throttled per video: at most one per ``interval`` seconds
(default 10), except that a jump of at least 25 points or a change of stage is
always sent. The first progress event of a video is always sent. The throttle
remembers in memory; after a worker restart a video may send one extra
progress event, which is harmless because progress is advisory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

FILTER_EVENTS: dict[str, frozenset[str]] = {
    "start": frozenset({"video.started"}),
    "progress": frozenset({"video.progress"}),
    "completed": frozenset({"video.completed", "video.failed", "video.canceled"}),
}
DEFAULT_FILTER = ("completed",)
PROGRESS_EVENT = "video.progress"
DEFAULT_INTERVAL = 10.0
BIG_JUMP = 25.0


def unknown_filter_values(values: Iterable[str]) -> list[str]:
    """The values the API should reject with a 4xx, in the order given."""
    return [value for value in values if value not in FILTER_EVENTS]


def should_emit(filter: list[str] | None, event_type: str) -> bool:
    """Whether a video whose filter is ``filter`` wants events of ``event_type``."""
    values = filter or DEFAULT_FILTER
    return any(event_type in FILTER_EVENTS.get(value, ()) for value in values)


@dataclass(frozen=True)
class ProgressMark:
    """The last progress event sent for one video."""

    at: float
    progress: float
    stage: str | None


def progress_due(
    last: ProgressMark | None,
    progress: float,
    stage: str | None,
    now: float,
    interval: float = DEFAULT_INTERVAL,
) -> bool:
    """Whether a progress update is worth an event, given the last one sent."""
    if last is None or stage != last.stage:
        return True
    if abs(progress - last.progress) >= BIG_JUMP:
        return True
    return now - last.at >= interval


class ProgressThrottle:
    """Remembers the last progress event per video and applies ``progress_due``."""

    def __init__(self, interval: float = DEFAULT_INTERVAL) -> None:
        self.interval = interval
        self._last: dict[str, ProgressMark] = {}

    def allow(
        self,
        video_id: str,
        filter: list[str] | None,
        progress: float,
        stage: str | None,
        now: float,
    ) -> bool:
        """True when a ``video.progress`` event should be emitted now; records it if so."""
        if not should_emit(filter, PROGRESS_EVENT):
            return False
        if not progress_due(self._last.get(video_id), progress, stage, now, self.interval):
            return False
        self._last[video_id] = ProgressMark(now, progress, stage)
        return True

    def forget(self, video_id: str) -> None:
        """Drop a finished video's state so the table does not grow forever."""
        self._last.pop(video_id, None)
