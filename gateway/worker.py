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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from gateway.aio import LoopThread
from gateway.jobs.engine import Engine
from gateway.jobs.states import Status
from gateway.store import idempotency, leases
from gateway.store.models import Video
from gateway.store.videos import claim_videos

log = logging.getLogger(__name__)


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
    _running: dict[str, tuple[leases.Claim, asyncio.Task[None]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _scheduler: BackgroundScheduler | None = None

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
        """New work was accepted in this process: claim it now, not at the next tick."""
        if self._scheduler is not None:
            self._scheduler.modify_job("claim", next_run_time=utcnow())

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
            pass
        except Exception:
            log.exception("video %s crashed its runner", claim.id)
        finally:
            with self._lock:
                self._running.pop(claim.id, None)

    def renew_tick(self) -> None:
        """Extend every lease held in one statement; stop work whose lease was lost."""
        with self._lock:
            held = {vid: claim for vid, (claim, _) in self._running.items()}
        if not held:
            return
        until = utcnow() + timedelta(seconds=self.engine.timings.lease)
        kept = leases.renew(self.engine.db, Video, self.owner, list(held.values()), until)
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
        assert self.dispatcher is not None
        self.dispatcher.run_once()

    def purge_tick(self) -> None:
        removed = idempotency.purge_expired(self.engine.db, utcnow())
        if removed:
            log.info("purged %d expired idempotency keys", removed)
