"""Runs one claimed video through its phases until it finishes or must wait.

Every write goes through the claim's fencing token: a worker whose lease
lapsed (another worker took the video over) gets `LeaseLost` and stops
without touching the row. Each phase saves what it learnt before acting on it,
so a process killed at any line resumes where it was without re-sending a
message to the upstream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from gateway.config import GatewayConfig
from gateway.jobs import steps
from gateway.jobs.events import (
    PROGRESS_EVENT,
    STARTED_EVENT,
    TERMINAL_EVENTS,
    target_urls,
)
from gateway.jobs.outcomes import Continue, Fail, Outcome, Sleep, Succeed
from gateway.jobs.states import PHASE_STATUS, Phase, Status, is_terminal
from gateway.media.store import MediaStore
from gateway.representation import Links, video_resource
from gateway.store import leases
from gateway.store.db import Database
from gateway.store.models import ChatSession, Video
from gateway.store.outbox import EventSpec, add_event
from gateway.store.turns import release_turn
from gateway.upstream.errors import UpstreamError

log = logging.getLogger(__name__)

# Unexpected errors are retried this many times (with backoff) before failing.
MAX_ATTEMPTS = 5
# The public message of an unexpected failure: never the exception's text.
INTERNAL_ERROR_TEXT = "the gateway failed to process this video; the error was logged"
MESSAGE_KIND = "message"
# Phases where an upstream render job may be running.
_RENDERING = frozenset({Phase.RENDER_SUBMIT.value, Phase.RENDER_POLL.value})


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Engine:
    db: Database
    client: Any  # gateway.upstream.NemoClient (async)
    media: MediaStore
    config: GatewayConfig
    links: Links
    owner: str
    on_change: Callable[[str], None] = field(default=lambda video_id: None)

    @property
    def timings(self) -> Any:
        return self.config.timings

    async def run(self, claim: leases.Claim) -> None:
        """Drive the video until it ends, sleeps, or the lease is lost."""
        try:
            await self._drive(claim)
        except leases.LeaseLost:
            log.info("lease lost on %s; another worker owns it now", claim.id)
        except asyncio.CancelledError:
            log.info("stopped working on %s", claim.id)
            raise

    async def _drive(self, claim: leases.Claim) -> None:
        while True:
            video, chat = await self.load(claim.id)
            if video is None or is_terminal(video.status):
                return
            if video.cancel_requested or _past(video.cancel_after):
                await self._stop_render(video)
                await self.finish(claim, video, Status.CANCELED)
                return
            outcome = await self._step(claim, video, chat)
            if isinstance(outcome, Continue):
                continue
            await self._conclude(claim, video, outcome)
            return

    async def _stop_render(self, video: Video) -> None:
        """A canceled video's render is asked to stop upstream (best effort)."""
        if video.render_id and video.phase in _RENDERING:
            await self.client.cancel_render(video.render_id)

    async def _step(self, claim: leases.Claim, video: Video, chat: ChatSession | None) -> Outcome:
        phase = Phase.SESSION if video.phase == "queued" else Phase(video.phase)
        try:
            return await steps.STEPS[phase](self, claim, video, chat)
        except leases.LeaseLost:
            raise
        except UpstreamError as exc:
            if exc.retryable:
                return await self._retry_later(claim, video, exc.code, str(exc.message))
            return Fail(exc.code, exc.message, False, exc.upstream_code, _extra(exc))
        except Exception:  # a bug or an unforeseen answer: retry, then fail
            # The details (which may quote an upstream request) go to the log
            # with the video id; the public error keeps a stable code and safe text.
            log.exception("step %s failed for %s", phase, video.id)
            return await self._retry_later(claim, video, "internal_error", INTERNAL_ERROR_TEXT)

    async def _retry_later(self, claim: leases.Claim, video: Video, code: str, msg: str) -> Outcome:
        attempts = video.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            return Fail(code, msg, retryable=True)
        delay = min(2.0**attempts, 60.0) * max(self.timings.tick, 0.05)
        await self.save(claim, video, attempts=attempts)
        return Sleep(utcnow() + timedelta(seconds=delay))

    async def _conclude(self, claim: leases.Claim, video: Video, outcome: Outcome) -> None:
        if isinstance(outcome, Sleep):
            until = outcome.until
            if video.cancel_after is not None and video.cancel_after < until:
                until = video.cancel_after
            await asyncio.to_thread(leases.release, self.db, Video, claim, due_at=until)
        elif isinstance(outcome, Fail):
            await self.finish(claim, video, Status.FAILED, error=outcome.as_error())
        elif isinstance(outcome, Succeed):
            await self.finish(
                claim,
                video,
                Status.SUCCEEDED,
                output=outcome.output,
                values=outcome.values,
                chat_values=outcome.chat_values,
            )

    # -- persistence -------------------------------------------------------

    async def load(self, video_id: str) -> tuple[Video | None, ChatSession | None]:
        return await asyncio.to_thread(self._load_sync, video_id)

    def _load_sync(self, video_id: str) -> tuple[Video | None, ChatSession | None]:
        with self.db.session() as s:
            video = s.get(Video, video_id)
            chat = s.get(ChatSession, video.session_id) if video and video.session_id else None
            for row in (video, chat):
                if row is not None:
                    s.expunge(row)
            return video, chat

    async def save(
        self,
        claim: leases.Claim,
        video: Video,
        *,
        chat_values: dict[str, Any] | None = None,
        release_turn: bool = False,
        **values: Any,
    ) -> None:
        """Fenced update of the video (and its session); a new stage may emit a progress event.

        ``release_turn``: the chat turn is over, the session may take the next message.
        """
        if "phase" in values and values["phase"] in PHASE_STATUS:
            values.setdefault("status", PHASE_STATUS[Phase(values["phase"])].value)
        started = video.status == Status.QUEUED.value and values.get("status", "queued") != "queued"
        stage_changed = "stage" in values and values["stage"] != video.stage
        _apply(video, values)
        event = None
        # Optional events: add_event records them only if the video's filter or
        # a webhook subscription of the key wants them.
        if started:
            event = self._event(video, STARTED_EVENT)
        elif stage_changed:
            # Stages change a handful of times per video: that is the throttle.
            event = self._event(video, PROGRESS_EVENT)
        if not has_events(video):
            event = None
        turn = _Turn(video.session_id, chat_values, video.id if release_turn else None)
        await asyncio.to_thread(self._write, claim, values, event, turn)
        self.on_change(video.id)

    async def finish(
        self,
        claim: leases.Claim,
        video: Video,
        status: Status,
        *,
        error: dict[str, Any] | None = None,
        output: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        chat_values: dict[str, Any] | None = None,
    ) -> None:
        """The terminal write, its webhook event and the end of its turn, in one transaction."""
        now = utcnow()
        values = {
            **(values or {}),
            "status": status.value,
            "phase": Phase.DONE.value,
            "stage": "done" if status == Status.SUCCEEDED else status.value,
            "completed_at": now,
            "due_at": None,
            "lease_owner": None,
            "lease_expires_at": None,
            "error": error,
        }
        if output is not None:
            values.update(output=output, progress=100)
        _apply(video, values)
        event = self._event(video, TERMINAL_EVENTS[status.value]) if has_events(video) else None
        turn = _Turn(video.session_id, chat_values, video.id)
        await asyncio.to_thread(self._write, claim, values, event, turn)
        log.info("video %s %s%s", video.id, status.value, f" ({error['code']})" if error else "")
        self.on_change(video.id)

    def _write(
        self,
        claim: leases.Claim,
        values: dict[str, Any],
        event: EventSpec | None,
        turn: _Turn,
    ) -> None:
        """One transaction: the fenced video update, its session's update, its outbox event."""
        with self.db.write() as s:
            leases.fenced_update(s, Video, claim, **values)
            if turn.session_id and turn.chat_values:
                s.execute(
                    update(ChatSession)
                    .where(ChatSession.id == turn.session_id)
                    .values(**turn.chat_values),
                    execution_options={"synchronize_session": False},
                )
            if turn.session_id and turn.release:
                release_turn(s, turn.session_id, turn.release)
            if event is not None:
                add_event(s, event)

    def _event(self, video: Video, event_type: str) -> EventSpec:
        payload = {
            "type": event_type,
            "timestamp": utcnow().isoformat().replace("+00:00", "Z"),
            "data": video_resource(video, self.links),
        }
        return EventSpec(
            type=event_type,
            payload=payload,
            api_key_id=video.api_key_id,
            video_id=video.id,
            urls=target_urls(video.webhook_url, video.webhook_events_filter, event_type),
            optional=event_type not in TERMINAL_EVENTS.values(),
        )


@dataclass(frozen=True)
class _Turn:
    """What a write does to the video's chat session besides the video row."""

    session_id: str | None
    chat_values: dict[str, Any] | None = None
    release: str | None = None  # the video id whose turn ends with this write


def has_events(video: Video) -> bool:
    """Messages are chat turns, not videos: they emit no video webhooks."""
    return video.kind != MESSAGE_KIND


def _apply(video: Video, values: dict[str, Any]) -> None:
    for key, value in values.items():
        setattr(video, key, value)
    video.updated_at = utcnow()


def _past(moment: datetime | None) -> bool:
    return moment is not None and moment <= utcnow()


def _extra(exc: UpstreamError) -> dict[str, Any] | None:
    url = getattr(exc, "registration_url", None)
    return {"registration_url": url} if url else None
