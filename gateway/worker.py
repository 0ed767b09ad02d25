"""The background side of a process: APScheduler ticks drive database claims.

APScheduler is only a clock here (in-memory interval jobs, `max_instances=1`,
`coalesce=True`, no persistent job store): the database decides who works on
what, through leases, so running several workers is harmless. Video pipelines
run as coroutines on one asyncio loop, so thousands of upstream streams fit in
one process without a thread each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from gateway.aio import LoopThread
from gateway.jobs.engine import Engine
from gateway.jobs.states import Status, is_terminal
from gateway.store import idempotency, leases
from gateway.store.models import Video
from gateway.store.videos import claim_videos

log = logging.getLogger(__name__)


@dataclass
class _Wake:
    """A tick job run off-schedule on a thread (at most one run at a time)."""

    job: Callable[[], None]
    wanted: bool = False
    running: bool = False


def _noop() -> None:
    pass


def _aware(moment: datetime) -> datetime:
    # SQLite hands naive datetimes back; the store writes UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# Leases renewed per statement (SQLite's expression depth limit is 1000).
RENEW_SLICE = 400


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 10000}"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Worker:
    engine: Engine
    loop: LoopThread
    dispatcher: Any | None = None  # gateway.webhooks.delivery.Dispatcher
    claim_batch: int = 200
    deliver_batch: int = 64
    # A drain gives the scheduler back its thread now and then (stop, other ticks).
    deliver_drain_seconds: float = 30.0
    _running: dict[str, tuple[leases.Claim, asyncio.Task[None]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _scheduler: BackgroundScheduler | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    # Sleeps due within this many seconds get a timer that claims them on time.
    wake_horizon: float = 600.0
    _claim_wake: _Wake = field(init=False)
    _deliver_wake: _Wake = field(init=False)

    def __post_init__(self) -> None:
        self._claim_wake = _Wake(self.claim_tick)
        self._deliver_wake = _Wake(self.deliver_tick if self.dispatcher is not None else _noop)

    @property
    def owner(self) -> str:
        return self.engine.owner

    def start(self) -> None:
        t = self.engine.timings
        sched = BackgroundScheduler(job_defaults={"max_instances": 1, "coalesce": True})
        sched.add_job(self.claim_tick, "interval", seconds=t.tick, id="claim")
        sched.add_job(self.renew_tick, "interval", seconds=max(t.lease / 3, 0.2), id="renew")
        if self.dispatcher is not None:
            sched.add_job(self.deliver_tick, "interval", seconds=t.tick, id="deliver")
        sched.add_job(self.purge_tick, "interval", minutes=30, id="purge")
        sched.start()
        self._scheduler = sched
        log.info("worker %s started", self.owner)

    def stop(self) -> None:
        self._stopping.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        with self._lock:
            tasks = [task for _, task in self._running.values()]
        for task in tasks:
            self.loop.loop.call_soon_threadsafe(task.cancel)
        if self.dispatcher is not None:
            self.dispatcher.close()

    def wake(self) -> None:
        """New work was accepted in this process: claim it now, not at the next tick.

        A wake while a claim runs makes it run once more when it ends: a burst
        of creates costs two claims, not a queue of them (nor one APScheduler
        "skipped: maximum number of running instances" warning per create).
        """
        if self._scheduler is not None:
            self._wake(self._claim_wake)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._running)

    # -- ticks ---------------------------------------------------------------

    def claim_tick(self) -> None:
        free = self.engine.config.max_in_flight - self.in_flight
        if free <= 0:
            return
        claims = claim_videos(
            self.engine.db,
            self.owner,
            utcnow(),
            min(free, self.claim_batch),
            self.engine.timings.lease,
        )
        for claim in claims:
            self.loop.submit(self._run(claim))

    async def _run(self, claim: leases.Claim) -> None:
        task = asyncio.current_task()
        assert task is not None
        with self._lock:
            self._running[claim.id] = (claim, task)
        try:
            await self.engine.run(claim)
        except asyncio.CancelledError:
            return
        except Exception:
            log.exception("video %s crashed its runner", claim.id)
        finally:
            with self._lock:
                self._running.pop(claim.id, None)
        await self._after_run(claim.id)

    async def _after_run(self, video_id: str) -> None:
        """Act on how the run ended, without waiting for the next tick.

        Finished: its webhook is in the outbox, so deliver now. Sleeping (a
        render poll, a retry): claim it again at its due time. Each tick alone
        added up to a tick to the notify latency, twice.
        """
        try:
            row = await asyncio.to_thread(self._status_and_due, video_id)
        except Exception:
            log.exception("could not read %s after its run", video_id)
            return
        if row is None:
            return
        status, due = row
        if is_terminal(status):
            self._wake(self._deliver_wake)
        elif due is not None:
            delay = (_aware(due) - utcnow()).total_seconds()
            if delay <= self.wake_horizon:
                self.loop.loop.call_later(max(delay, 0.0), self._wake, self._claim_wake)

    def _status_and_due(self, video_id: str) -> tuple[str, datetime | None] | None:
        with self.engine.db.session() as s:
            row = s.execute(select(Video.status, Video.due_at).where(Video.id == video_id)).first()
        return None if row is None else (row[0], row[1])

    def _wake(self, wake: _Wake) -> None:
        """Run ``wake.job`` on a thread now; a wake during a run makes it run once more."""
        with self._lock:
            wake.wanted = True
            if wake.running or self._stopping.is_set():
                return
            wake.running = True
        threading.Thread(target=self._run_woken, args=(wake,), daemon=True).start()

    def _run_woken(self, wake: _Wake) -> None:
        while True:
            with self._lock:
                if not wake.wanted or self._stopping.is_set():
                    wake.running = False
                    return
                wake.wanted = False
            try:
                wake.job()
            except Exception:
                log.exception("woken %s failed", getattr(wake.job, "__name__", "job"))

    def renew_tick(self) -> None:
        """Extend every lease held in one statement; stop work whose lease was lost."""
        with self._lock:
            held = {vid: claim for vid, (claim, _) in self._running.items()}
        if not held:
            return
        until = utcnow() + timedelta(seconds=self.engine.timings.lease)
        claims = list(held.values())
        kept: set[str] = set()
        # In slices: one statement over thousands of claims is an OR chain
        # deeper than SQLite accepts ("Expression tree is too large"), and a
        # failed renewal lets every lease lapse while the work goes on.
        for start in range(0, len(claims), RENEW_SLICE):
            chunk = claims[start : start + RENEW_SLICE]
            kept |= leases.renew(self.engine.db, Video, self.owner, chunk, until)
        for vid in set(held) - set(kept):
            self._cancel_task(vid)
        self._honour_cancel_requests(set(kept))

    def _honour_cancel_requests(self, ids: set[str]) -> None:
        if not ids:
            return
        with self.engine.db.session() as s:
            wanted = s.query(Video.id).filter(Video.id.in_(ids), Video.cancel_requested.is_(True))
            to_cancel = [row[0] for row in wanted]
        for vid in to_cancel:
            claim = self._running.get(vid, (None, None))[0]
            self._cancel_task(vid)
            if claim is not None:
                self.loop.submit(self._finish_canceled(claim))

    async def _finish_canceled(self, claim: leases.Claim) -> None:
        video, _ = await self.engine.load(claim.id)
        if video is not None:
            with contextlib.suppress(leases.LeaseLost):  # someone else finished it
                await self.engine.finish(claim, video, Status.CANCELED)

    def _cancel_task(self, video_id: str) -> None:
        with self._lock:
            entry = self._running.get(video_id)
        if entry is not None:
            self.loop.loop.call_soon_threadsafe(entry[1].cancel)

    def deliver_tick(self) -> None:
        """Send due webhooks; keep going while batches come back full.

        One batch per tick capped fan-out at a batch a second: a burst of
        completions (or a backlog after downtime) waited for ticks. Draining
        in this job (``max_instances=1``) keeps one dispatcher busy while there
        is work and costs one claim query a tick when there is none.
        """
        assert self.dispatcher is not None
        limit = self.deliver_batch
        deadline = time.monotonic() + self.deliver_drain_seconds
        while not self._stopping.is_set() and time.monotonic() < deadline:
            if self.dispatcher.run_once(limit) < limit:
                return

    def purge_tick(self) -> None:
        removed = idempotency.purge_expired(self.engine.db, utcnow())
        if removed:
            log.info("purged %d expired idempotency keys", removed)
