"""Garbage from the upstream ends in the documented outcome; nothing hangs, nothing is posted twice.

The real ``NemoClient`` reads a scripted upstream through ``httpx.MockTransport``
(an HTML 502 page, truncated JSON, an event stream of non-JSON, keep-alives
without end), and the engine drives a video against it with every sleep
skipped (``tests/test_engine_turns.py``). The outcomes are those of the fault
table in docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config import Timings
from gateway.store.db import Database
from gateway.store.keys import create_key
from gateway.store.models import Video
from gateway.upstream import NemoClient, TokenProvider
from gateway.upstream.models import Timeouts
from gateway.videos_service import create_video
from tests.engine_support import DRAFT, MP4, load, make_engine, run_until_terminal


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'gateway.db'}")
    database.upgrade()
    yield database
    database.dispose()


HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
TEXT = {"author": "nemo_agent", "content": {"role": "model", "parts": [{"text": "Ready"}]}}


def ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json={"code": 0, "message": "success", "data": data})


def stream(chunks: AsyncIterator[bytes]) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=chunks)


async def frames(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def heartbeats_forever() -> AsyncIterator[bytes]:
    while True:
        await asyncio.sleep(0.01)
        yield b": heartbeat\n\n"


@dataclass
class Upstream:
    """A small NemoVideo: each endpoint answers well unless a test overrides it."""

    run_sse: Callable[[], httpx.Response] = lambda: stream(
        frames(b"data: " + json.dumps(TEXT).encode() + b"\n\n")
    )
    state: Callable[[Upstream], httpx.Response] | None = None
    render_status: list[httpx.Response] = field(default_factory=list)
    posted: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # download path -> body

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        name = _endpoint(request.method, path)
        self.calls[name] = self.calls.get(name, 0) + 1
        if name == "run_sse":
            self.posted += 1
            return self.run_sse()
        if name == "state":
            if self.state is not None:
                return self.state(self)
            return ok({"state": {"draft": DRAFT if self.posted else None}})
        if name == "render_status" and self.render_status:
            return self.render_status.pop(0)
        if path in self.files or (name == "download" and "download" in self.files):
            body = self.files.get(path, self.files.get("download", b""))
            return httpx.Response(200, content=body, headers={"content-type": "video/mp4"})
        return _normal(name, path)


def _endpoint(method: str, path: str) -> str:
    if path == "/run_sse":
        return "run_sse"
    if path.startswith("/api/state/"):
        return "state"
    if path == "/api/render/proxy/lambda" and method == "POST":
        return "render_submit"
    if path.startswith("/api/render/proxy/lambda/"):
        return "render_status"
    if path.endswith("/download"):
        return "download"
    return path


def _normal(name: str, path: str) -> httpx.Response:
    if name == "render_submit":
        return ok({"id": "r", "status": "pending"})
    if name == "render_status":
        return ok({"status": "completed", "output": {"url": "http://cdn.test/out.mp4"}})
    if name == "download" or path == "/out.mp4":
        return httpx.Response(200, content=MP4, headers={"content-type": "video/mp4"})
    if path.startswith("/api/tasks/"):
        return ok({"task_id": "t1", "session_id": "s1"})
    if path == "/api/auth/claim-token":
        return ok({"claim_token": "clm_1"})
    if path == "/api/credits/balance/simple":
        return ok({"available": 10_000, "frozen": 0, "total": 10_000})
    return httpx.Response(404, json={"detail": "Not Found"})


def run(db: Database, upstream: Upstream, tmp: Path) -> Video:
    """One generation against ``upstream``; fails the test if it does not end in 60 s."""
    key, _ = create_key(db, "test")
    video_id = create_video(db, key.id, {"prompt": "waves"}).video.id
    # Upstream waits shrunk a thousandfold; the turn's own limits to a second.
    timings = Timings(tick=0.01).scaled(1000)

    async def drive() -> None:
        transport = httpx.MockTransport(upstream)
        tokens = TokenProvider("http://up.test", token="nmv_usr_test", transport=transport)
        client = NemoClient(
            "http://up.test",
            tokens,
            transport=transport,
            timeout=Timeouts(stream_idle=1.0, turn=5.0),
            retry_backoff=(0.0, 0.0),
        )
        engine = make_engine(db, client, tmp, timings)
        try:
            await run_until_terminal(db, engine, video_id, rounds=10_000)
        finally:
            await client.aclose()

    asyncio.run(asyncio.wait_for(drive(), 60))
    return load(db, video_id)


def test_a_well_behaved_upstream_makes_the_video(db: Database, tmp_path: Path) -> None:
    upstream = Upstream()
    video = run(db, upstream, tmp_path)
    assert video.status == "succeeded", video.error
    assert upstream.posted == 1


def test_an_html_502_instead_of_a_stream_is_recovered_from_state(
    db: Database, tmp_path: Path
) -> None:
    # A proxy's page may hide a message the upstream accepted: never re-sent.
    upstream = Upstream(run_sse=lambda: httpx.Response(502, content=HTML_502))
    video = run(db, upstream, tmp_path)
    assert video.status == "succeeded", video.error
    assert upstream.posted == 1


def test_an_html_502_on_every_state_read_fails_unavailable_before_posting(
    db: Database, tmp_path: Path
) -> None:
    upstream = Upstream(state=lambda up: httpx.Response(502, content=HTML_502))
    video = run(db, upstream, tmp_path)
    assert video.status == "failed"
    assert video.error["code"] == "upstream_unavailable"
    assert "<html" not in video.error["message"]
    assert upstream.posted == 0


def test_truncated_json_on_a_render_poll_is_read_again(db: Database, tmp_path: Path) -> None:
    garbled = [httpx.Response(200, content=b'{"code":0,"data":{"status":"compl') for _ in range(3)]
    upstream = Upstream(render_status=garbled)
    video = run(db, upstream, tmp_path)
    assert video.status == "succeeded", video.error
    assert upstream.calls["render_status"] >= 4


def test_an_event_stream_of_non_json_ends_without_a_video(db: Database, tmp_path: Path) -> None:
    upstream = Upstream(
        run_sse=lambda: stream(frames(b"data: <html>oops</html>\n\n", b"data: {not json\n\n")),
        state=lambda up: ok({"state": {"draft": None}}),
    )
    video = run(db, upstream, tmp_path)
    assert video.status == "failed"
    assert video.error["code"] == "no_video_produced"
    assert upstream.posted == 1


def test_keep_alives_without_end_lose_the_turn_once(db: Database, tmp_path: Path) -> None:
    upstream = Upstream(
        run_sse=lambda: stream(heartbeats_forever()),
        state=lambda up: ok({"state": {"draft": None}}),
    )
    video = run(db, upstream, tmp_path)
    assert video.status == "failed"
    assert video.error["code"] == "generation_lost"
    assert upstream.posted == 1


def test_an_error_page_served_as_the_mp4_is_fetched_from_the_fallback(
    db: Database, tmp_path: Path
) -> None:
    upstream = Upstream(files={"/out.mp4": HTML_502})
    video = run(db, upstream, tmp_path)
    assert video.status == "succeeded", video.error
    assert upstream.calls["download"] == 1
    assert video.output["size_bytes"] == len(MP4)


def test_no_playable_video_anywhere_fails_upstream_protocol(db: Database, tmp_path: Path) -> None:
    upstream = Upstream(files={"/out.mp4": HTML_502, "download": HTML_502})
    video = run(db, upstream, tmp_path)
    assert video.status == "failed"
    assert video.error["code"] == "upstream_protocol"
    assert video.error["message"] == (
        "The upstream's download is not a playable video: it is no media file FFmpeg can read."
    )
    assert upstream.posted == 1
