"""Render jobs: a lifecycle with an explicit transition table and a small worker pool.

A job waits in a simulated queue (``pending``), then renders for real
(``processing``: its real CPU time, stretched to the simulated duration), then
ends ``completed`` with a file, or ``failed`` with a message. A client may
cancel a job that has not ended: it ends ``failed`` with the error "cancelled",
a word every client already reads as the end. What the wire shows of a job is
``render_docs``' business.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from gateway.sandbox.config import SandboxConfig
from gateway.sandbox.render import RenderResult, render_cached


class RenderStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


_NEXT = {
    # -> failed: the render_failed fault, or a cancel before the job started
    RenderStatus.PENDING: {RenderStatus.PROCESSING, RenderStatus.FAILED},
    # -> failed: the renderer gave up, or a cancel while it worked
    RenderStatus.PROCESSING: {RenderStatus.COMPLETED, RenderStatus.FAILED},
    RenderStatus.COMPLETED: set(),
    RenderStatus.FAILED: set(),
}
CANCELLED = "cancelled"
# Share of processing after which a dialect's extra state (e.g. "encoding") shows.
_EXTRA_STATE_FROM = 0.6


class IllegalTransition(RuntimeError):
    pass


@dataclass
class RenderJob:
    id: str
    session_id: str
    user_id: str
    draft: dict[str, Any]
    output: dict[str, Any]
    queue_seconds: float  # real seconds pending
    work_seconds: float  # real seconds processing, at least the render's CPU time
    fail: bool = False
    status: RenderStatus = RenderStatus.PENDING
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    result: RenderResult | None = None
    error: str | None = None

    def move(self, to: RenderStatus) -> None:
        if to not in _NEXT[self.status]:
            raise IllegalTransition(f"render {self.id}: {self.status} -> {to}")
        self.status = to
        if to is RenderStatus.PROCESSING:
            self.started_at = time.time()
        elif to in (RenderStatus.COMPLETED, RenderStatus.FAILED):
            self.finished_at = time.time()

    def progress(self) -> int:
        if self.status is RenderStatus.COMPLETED:
            return 100
        if self.status is not RenderStatus.PROCESSING or self.started_at is None:
            return 0
        share = (time.time() - self.started_at) / max(self.work_seconds, 1e-6)
        return max(1, min(95, int(share * 100)))

    @property
    def ended(self) -> bool:
        return not _NEXT[self.status]

    def shown_status(self, extra_state: str | None) -> str:
        """The status word on the wire: the last part of processing may show ``extra_state``."""
        share = self.progress() / 100
        if extra_state and self.status is RenderStatus.PROCESSING and share >= _EXTRA_STATE_FROM:
            return extra_state
        return str(self.status)


class RenderPool:
    """Runs jobs on ``render_workers`` threads; the simulated delays hold no worker."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.cache_dir = Path(config.data_dir) / "renders"
        self._pool = ThreadPoolExecutor(config.render_workers, thread_name_prefix="render")
        self._lock = threading.Lock()

    def plan_delays(self) -> tuple[float, float]:
        """Real seconds pending and processing: a third of the simulated delay queues."""
        low, high = self.config.render_queue_seconds
        total = self.config.real(random.uniform(low, high))
        return total / 3, total * 2 / 3

    def submit(self, job: RenderJob) -> None:
        timer = threading.Timer(job.queue_seconds, self._pool.submit, args=(self._run, job))
        timer.daemon = True
        timer.start()

    def _run(self, job: RenderJob) -> None:
        with self._lock:
            if job.status is not RenderStatus.PENDING:
                return
            job.move(RenderStatus.PROCESSING)
        begun = time.monotonic()
        try:
            result = None if job.fail else render_cached(job.draft, self.cache_dir, **_size(job))
        except Exception as exc:  # a broken draft is a failed render, not a dead worker
            self._end(job, error=f"render failed: {exc}")
            return
        if result is None:
            end = {"error": "render failed: the renderer gave up on this draft"}
        else:
            end = {"result": result}
        # The rest of the simulated duration holds no render worker (a timer
        # ends the job), so two workers serve thousands of jobs in flight.
        rest = job.work_seconds - (time.monotonic() - begun)
        if rest <= 0:
            self._end(job, **end)
            return
        timer = threading.Timer(rest, self._end, args=(job,), kwargs=end)
        timer.daemon = True
        timer.start()

    def cancel(self, job: RenderJob) -> None:
        """End a job that has not ended yet (IllegalTransition otherwise)."""
        with self._lock:
            if job.ended:
                raise IllegalTransition(f"render {job.id} is {job.status}: nothing to cancel")
            job.error = CANCELLED
            job.move(RenderStatus.FAILED)

    def _end(self, job: RenderJob, *, result: RenderResult | None = None, error: str = "") -> None:
        with self._lock:
            if job.ended:  # cancelled while it rendered: the timer must not revive it
                return
            job.result = result
            job.error = error or None
            job.move(RenderStatus.COMPLETED if result else RenderStatus.FAILED)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _size(job: RenderJob) -> dict[str, int]:
    out = job.output
    size = {k: int(out[k]) for k in ("width", "height", "fps") if isinstance(out.get(k), int)}
    return size
