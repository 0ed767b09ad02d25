"""The engine against a scripted upstream: how a turn ends decides what happens next.

No network and no sandbox: a fake client plays one upstream's answers, the
engine runs against a real (temporary) SQLite database, and every sleep is
skipped by claiming with a clock an hour ahead. Each test asserts what a user
of the API relies on: the final status, the error in the upstream's words, the
message posted once, the MP4 fetched from where the upstream said.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from gateway.config import Timings
from gateway.jobs.engine import Engine
from gateway.store.db import Database
from gateway.store.keys import create_key
from gateway.store.models import Video
from gateway.upstream.adk import AgentEvent, EventKind
from gateway.upstream.errors import DuplicateId, StreamDropped, UpstreamError
from gateway.upstream.models import Credits, RenderJob, SessionRef
from gateway.videos_service import create_video, utcnow
from tests.engine_support import (
    DRAFT,
    LINKS,
    MP4,
    WITH_MUSIC,
    due_claims,
    load,
    make_engine,
    run_until_terminal,
)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'gateway.db'}")
    database.upgrade()
    yield database
    database.dispose()


@dataclass
class ScriptedUpstream:
    """One upstream's answers. ``drafts`` are the state reads, in order (the last repeats)."""

    events: list[AgentEvent]
    drafts: list[dict[str, Any] | None]
    clean_close: bool = True
    render: dict[str, Any] = field(default_factory=lambda: {"status": "completed"})
    # Render answers before ``render`` (one per poll), e.g. a long "processing" run.
    render_script: list[dict[str, Any]] = field(default_factory=list)
    polls: int = 0
    submit_errors: list[UpstreamError] = field(default_factory=list)
    posted: list[str] = field(default_factory=list)
    state_reads: int = 0
    submitted: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    async def create_session(self, language: str | None = None) -> SessionRef:
        return SessionRef("task_1", "5529798706024415232")  # a digit-string id

    async def claim_url(self, task_id: str, session_id: str, web_url: str) -> str:
        return f"{web_url}/workspace/claim?ct=clm_1"

    async def credits(self) -> Credits:
        return Credits(10_000, 0, 10_000)

    async def get_state(self, session_id: str) -> dict[str, Any]:
        # The first read is the baseline before the message is sent.
        draft = (
            None if not self.posted else self.drafts[min(self.state_reads, len(self.drafts) - 1)]
        )
        if self.posted:
            self.state_reads += 1
        return {"draft": draft}

    async def stream_message(
        self, session_id: str, text: str, before_send: Any = None
    ) -> AsyncIterator[AgentEvent]:
        if before_send is not None:
            await before_send()
        self.posted.append(text)
        for event in self.events:
            yield event
        if not any(e.turn_complete or e.is_final_answer for e in self.events[-1:]):
            raise StreamDropped("closed", clean_close=self.clean_close, events_seen=1)

    async def submit_render(self, render_id: str, session_id: str, draft: Any) -> RenderJob:
        self.submitted.append(render_id)
        if self.submit_errors:
            raise self.submit_errors.pop(0)
        return RenderJob(render_id, "pending")

    async def render_status(self, render_id: str) -> RenderJob:
        self.polls += 1
        answer = self.render_script.pop(0) if self.render_script else self.render
        return RenderJob.from_payload(answer, render_id)

    def fallback_download_url(self, render_id: str) -> str:
        return f"http://upstream.test/api/render/proxy/{render_id}/download"

    async def download(self, url: str, dest: Path) -> tuple[int, str]:
        import hashlib

        self.downloaded.append(url)
        dest.write_bytes(MP4)
        return len(MP4), hashlib.sha256(MP4).hexdigest()

    async def cancel_render(self, render_id: str) -> bool:
        self.cancelled.append(render_id)
        return True


def tool(name: str, result: bool = False) -> AgentEvent:
    kind = EventKind.TOOL_RESULT if result else EventKind.TOOL_CALL
    return AgentEvent(kind, tool_name=name)


def _engine(
    db: Database, upstream: ScriptedUpstream, tmp: Path, timings: Timings | None = None
) -> Engine:
    return make_engine(db, upstream, tmp, timings)


def run_to_end(
    db: Database,
    upstream: ScriptedUpstream,
    tmp: Path,
    body: dict[str, Any],
    timings: Timings | None = None,
) -> Video:
    """Create a video and drive it to a terminal status, skipping every sleep."""
    key, _ = create_key(db, "test")
    video_id = create_video(db, key.id, body).video.id
    return drive(db, _engine(db, upstream, tmp, timings), video_id)


def drive(db: Database, engine: Engine, video_id: str) -> Video:
    """Run every due video until ``video_id`` is terminal."""
    asyncio.run(run_until_terminal(db, engine, video_id, rounds=400))
    return load(db, video_id)


def test_silent_generation_settles_on_a_steady_draft(db: Database, tmp_path: Path) -> None:
    # No text, no turnComplete (ADK): the clean close ends the turn. The first
    # state read still shows the raw clip, post-production adds music after.
    upstream = ScriptedUpstream(
        events=[tool("generate_video_with_seedance"), tool("generate_video_with_seedance", True)],
        drafts=[DRAFT, WITH_MUSIC, WITH_MUSIC],
    )
    video = run_to_end(db, upstream, tmp_path, {"prompt": "waves at dusk"})
    assert video.status == "succeeded", video.error
    assert len(upstream.posted) == 1
    assert video.draft == WITH_MUSIC, "the render waited for post-production"
    assert upstream.state_reads == 4  # settle: raw, music, music (steady); then the draft read


def test_silent_edit_goes_on_at_the_first_ready_read(db: Database, tmp_path: Path) -> None:
    upstream = ScriptedUpstream(events=[tool("edit_multitrack")], drafts=[WITH_MUSIC])
    video = run_to_end(db, upstream, tmp_path, {"prompt": "waves"})
    assert video.status == "succeeded"
    assert upstream.state_reads <= 4


@pytest.mark.parametrize(
    ("event", "message", "code"),
    [
        (
            AgentEvent(EventKind.ERROR, error="Error: the video model is overloaded"),
            "Error: the video model is overloaded",
            None,
        ),
        (
            AgentEvent(EventKind.ERROR, error="Quota exceeded", error_code="MODEL_OVERLOADED"),
            "Quota exceeded",
            "MODEL_OVERLOADED",
        ),
        (AgentEvent(EventKind.ERROR, error="busy", error_code="503"), "busy", 503),
    ],
)
def test_an_in_stream_error_fails_the_video_at_once_in_the_upstreams_words(
    db: Database, tmp_path: Path, event: AgentEvent, message: str, code: Any
) -> None:
    upstream = ScriptedUpstream(events=[tool("generate_video_with_seedance"), event], drafts=[None])
    video = run_to_end(db, upstream, tmp_path, {"prompt": "waves"})
    assert video.status == "failed"
    assert video.error["code"] == "agent_error"
    assert video.error["message"] == message
    assert video.error["upstream_code"] == code
    assert len(upstream.posted) == 1, "never re-sent"
    assert upstream.state_reads == 0, "no recovery loop"
    assert upstream.submitted == []


def test_completed_without_a_url_downloads_the_fallback(db: Database, tmp_path: Path) -> None:
    upstream = ScriptedUpstream(
        events=[AgentEvent(EventKind.TEXT, text="Your video is ready")],
        drafts=[DRAFT],
        render={"taskId": "t1", "status": "completed", "progress": 100, "output": {}},
    )
    video = run_to_end(db, upstream, tmp_path, {"prompt": "waves"})
    assert video.status == "succeeded"
    assert upstream.downloaded == [
        f"http://upstream.test/api/render/proxy/{video.render_id}/download"
    ]


def test_an_unknown_render_state_keeps_polling(db: Database, tmp_path: Path) -> None:
    upstream = ScriptedUpstream(
        events=[AgentEvent(EventKind.TEXT, text="Done")],
        drafts=[DRAFT],
        render={"status": "encoding", "progress": 80},
    )
    # The hard cap ends an endless unknown state, as it would a "processing" one.
    timings = replace(Timings(), render_hard_cap=3600.0)
    video = run_to_end(db, upstream, tmp_path, {"prompt": "waves"}, timings)
    assert video.status == "failed" and video.error["code"] == "render_timeout"
    assert upstream.downloaded == []


def test_a_duplicate_render_id_is_submitted_again_with_a_new_id(
    db: Database, tmp_path: Path
) -> None:
    duplicate = DuplicateId("duplicate render id: render_1", upstream_code=409)
    upstream = ScriptedUpstream(
        events=[AgentEvent(EventKind.TEXT, text="Done")],
        drafts=[DRAFT],
        submit_errors=[duplicate],
    )
    video = run_to_end(db, upstream, tmp_path, {"prompt": "waves"})
    assert video.status == "succeeded"
    assert len(upstream.submitted) == 2 and len(set(upstream.submitted)) == 2


def test_cancel_while_rendering_asks_the_upstream_to_stop(db: Database, tmp_path: Path) -> None:
    from gateway.videos_service import cancel_video

    upstream = ScriptedUpstream(
        events=[AgentEvent(EventKind.TEXT, text="Done")],
        drafts=[DRAFT],
        render={"status": "processing", "progress": 40},
    )
    key, _ = create_key(db, "test")
    video_id = create_video(db, key.id, {"prompt": "waves"}).video.id
    engine = _engine(db, upstream, tmp_path)

    async def until_rendering() -> None:
        while not upstream.submitted:
            for claim in due_claims(db):
                await engine.run(claim)

    asyncio.run(until_rendering())
    answer = cancel_video(db, key.id, video_id, LINKS)
    assert not answer.immediate, "a submitted render is canceled by the worker"

    async def once() -> None:
        for claim in due_claims(db):
            await engine.run(claim)

    asyncio.run(once())
    with db.session() as s:
        assert s.get(Video, video_id).status == "canceled"
    assert upstream.cancelled == upstream.submitted


# -- durability: paid work is kept, internals stay out of public errors ----------


def test_a_render_past_its_deadline_that_the_upstream_still_runs_is_kept(
    db: Database, tmp_path: Path
) -> None:
    # The turn was charged; the upstream reports the render alive for longer
    # than render_deadline (100 polls of the schedule: 12 minutes), then done.
    upstream = ScriptedUpstream(
        events=[AgentEvent(EventKind.TEXT, text="Done")],
        drafts=[DRAFT],
        render_script=[{"status": "processing"}] * 100,
    )
    from gateway.jobs.steps import _schedule_elapsed

    timings = replace(Timings(), render_deadline=300.0)
    assert _schedule_elapsed(timings, 100) > timings.render_deadline
    video = run_to_end(db, upstream, tmp_path, {"prompt": "waves"}, timings)
    assert video.status == "succeeded", video.error
    assert upstream.polls == 101 and len(upstream.submitted) == 1


def test_a_render_the_upstream_fails_after_the_deadline_fails_as_render_failed(
    db: Database, tmp_path: Path
) -> None:
    upstream = ScriptedUpstream(
        events=[AgentEvent(EventKind.TEXT, text="Done")],
        drafts=[DRAFT],
        render={"status": "failed", "error": "encoder crashed"},
        render_script=[{"status": "processing"}] * 80,
    )
    timings = replace(Timings(), render_deadline=300.0)
    video = run_to_end(db, upstream, tmp_path, {"prompt": "waves"}, timings)
    assert video.status == "failed" and video.error["code"] == "render_failed"


class LeakyUpstream(ScriptedUpstream):
    """The state read fails with an exception whose text quotes an internal request."""

    async def get_state(self, session_id: str) -> dict[str, Any]:
        raise ValueError("<Request('GET', 'http://10.0.0.7/api/state?token=nmv_usr_secret')>")


def test_an_unexpected_exception_never_reaches_the_public_error(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from gateway.jobs.engine import INTERNAL_ERROR_TEXT

    upstream = LeakyUpstream(events=[], drafts=[None])
    video = run_to_end(db, upstream, tmp_path, {"prompt": "waves"})
    assert video.status == "failed"
    assert video.error["code"] == "internal_error"
    assert video.error["message"] == INTERNAL_ERROR_TEXT
    assert "Request" not in str(video.error) and "nmv_usr" not in str(video.error)
    # The details are in the log, with the video id.
    assert any(video.id in r.getMessage() and r.exc_info for r in caplog.records)


class CrashingUpstream(ScriptedUpstream):
    """The process dies right after the message left: the stream never comes back."""

    crash: bool = True
    then: list[dict[str, Any] | None] | None = None  # the drafts once the message arrived

    async def stream_message(
        self, session_id: str, text: str, before_send: Any = None
    ) -> AsyncIterator[AgentEvent]:
        if not self.crash:
            async for event in super().stream_message(session_id, text, before_send):
                yield event
            return
        await before_send()
        self.posted.append(text)
        for event in self.events:  # what the worker saw before it died
            yield event
        if self.then is not None:
            self.drafts, self.state_reads = self.then, 0
        raise asyncio.CancelledError  # the worker is gone: nothing more is written


def _crash_then_resume(db: Database, engine: Engine, video_id: str) -> Video:
    async def crash() -> None:
        for claim in due_claims(db):
            try:
                await engine.run(claim)
            except asyncio.CancelledError:
                return

    for _ in range(5):  # session, media, send (killed mid-stream)
        asyncio.run(crash())
    with db.write() as s:
        video = s.get(Video, video_id)
        assert video.phase == "stream", "killed after the sent mark"
        video.lease_expires_at = utcnow()  # the dead worker's lease has lapsed
    return drive(db, engine, video_id)


def test_a_recovered_edit_is_charged_like_a_normal_one(db: Database, tmp_path: Path) -> None:
    from gateway.sessions_service import create_edit

    upstream = CrashingUpstream(
        events=[AgentEvent(EventKind.TEXT, text="Your video is ready")], drafts=[DRAFT]
    )
    upstream.crash = False
    parent = run_to_end(db, upstream, tmp_path, {"prompt": "waves"})
    assert parent.status == "succeeded" and parent.credits_charged == 100
    # The edit's message leaves, the worker dies; the agent adds the music meanwhile.
    upstream.crash, upstream.then = True, [WITH_MUSIC]
    edit = create_edit(db, parent.api_key_id, parent.id, {"instruction": "add lo-fi music"})
    engine = _engine(db, upstream, tmp_path)
    video = _crash_then_resume(db, engine, edit.video.id)
    assert video.status == "succeeded", video.error
    assert len(upstream.posted) == 2, "the edit was posted once"
    assert video.credits_charged == 50
    assert video.changes and video.changes[0]["change"] == "added"


def test_a_lost_turn_with_nothing_charged_says_so(db: Database, tmp_path: Path) -> None:
    # Killed between the sent mark and the POST: the upstream never saw the message.
    class NeverArrived(CrashingUpstream):
        async def stream_message(
            self, session_id: str, text: str, before_send: Any = None
        ) -> AsyncIterator[AgentEvent]:
            await before_send()
            raise asyncio.CancelledError
            yield  # pragma: no cover

    upstream = NeverArrived(events=[], drafts=[None])
    key, _ = create_key(db, "test")
    video_id = create_video(db, key.id, {"prompt": "waves"}).video.id
    video = _crash_then_resume(db, _engine(db, upstream, tmp_path), video_id)
    assert upstream.posted == [], "never re-sent"
    assert video.status == "failed" and video.error["code"] == "generation_lost"
    assert "no credits were charged" in video.error["message"]
    assert video.credits_charged == 0


def test_a_lost_turn_whose_credits_moved_does_not_claim_nothing_was_charged(
    db: Database, tmp_path: Path
) -> None:
    class Spent(CrashingUpstream):
        reads: int = 0

        async def credits(self) -> Credits:
            self.reads += 1
            return Credits(10_000, 0, 10_000) if self.reads == 1 else Credits(9_900, 100, 10_000)

    upstream = Spent(events=[], drafts=[None])
    key, _ = create_key(db, "test")
    video_id = create_video(db, key.id, {"prompt": "waves"}).video.id
    video = _crash_then_resume(db, _engine(db, upstream, tmp_path), video_id)
    assert video.error["code"] == "generation_lost"
    assert "no credits were charged" not in video.error["message"]


def test_a_recovered_edit_that_left_the_draft_as_it_was_is_charged(
    db: Database, tmp_path: Path
) -> None:
    """The tool steps seen before the crash are saved: the turn is charged as an edit."""
    from gateway.sessions_service import create_edit

    upstream = CrashingUpstream(events=[AgentEvent(EventKind.TEXT, text="Ready")], drafts=[DRAFT])
    upstream.crash = False
    parent = run_to_end(db, upstream, tmp_path, {"prompt": "waves"})
    upstream.crash, upstream.events = True, [tool("add_title"), tool("add_title", True)]
    edit = create_edit(db, parent.api_key_id, parent.id, {"instruction": "add a title 'Soak'"})
    video = _crash_then_resume(db, _engine(db, upstream, tmp_path), edit.video.id)
    assert video.status == "succeeded", video.error
    assert video.credits_charged == 50
    assert [step["tool"] for step in video.tool_steps] == ["add_title"]
