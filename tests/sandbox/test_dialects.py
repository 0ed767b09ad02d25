"""Every dialect on the wire: envelopes, ids, render documents, stream framing, faults.

One sandbox process per dialect (module scope), reset before every test. Where
the shape is the point, the assertions read raw bytes or whole bodies.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import av
import httpx
import pytest

from gateway.draft import is_ready
from gateway.sandbox.agent import TRAILING_ISSUE
from gateway.sandbox.dialects import DIALECTS, Dialect
from tests import processes

from .sse_raw import RawStream, run_raw
from .support import Nemo, arm, stats

SPEED = 200
PROMPT = "a 2 second video of a red balloon with upbeat music"
EDIT = 'add the title "Hello"'
OVERLOADED = "Error: the video model is overloaded, please retry later"
TINY = {
    "d": 1000,
    "m": {"ratio": "16:9", "w": 160, "h": 90, "fps": 12},
    "t": [{"tt": 0, "n": "Video", "sg": [{"s": 0, "e": 1000, "lb": "dialect card"}]}],
}
CAMEL = {"invocationId", "functionCall", "functionResponse", "turnComplete", "customMetadata"}
SNAKE = {"invocation_id", "function_call", "function_response", "turn_complete", "custom_metadata"}


@dataclass
class Wire:
    name: str
    dialect: Dialect
    http: httpx.Client
    nemo: Nemo

    def ready(self, credits: int = 1000) -> Wire:
        self.nemo.registered(credits=credits)
        self.nemo.new_session()
        return self

    def config(self, **values: Any) -> None:
        self.http.post("/_sandbox/config", json=values).raise_for_status()


@pytest.fixture(scope="module", params=list(DIALECTS))
def dialect_sandbox(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    name = request.param
    tmp = tmp_path_factory.mktemp(f"sandbox-{name}")
    proc = processes.sandbox(tmp, SPEED, dialect=name).start(timeout=30)
    try:
        yield name, proc.url
    finally:
        proc.stop()


@pytest.fixture
def wire(dialect_sandbox: tuple[str, str]) -> Iterator[Wire]:
    name, url = dialect_sandbox
    httpx.post(f"{url}/_sandbox/reset").raise_for_status()
    with httpx.Client(base_url=url, timeout=30) as http:
        yield Wire(name, DIALECTS[name], http, Nemo(http))


# -- envelopes, ids, accounts ---------------------------------------------------


def test_operator_endpoints_keep_the_code_envelope_and_name_the_dialect(wire: Wire) -> None:
    body = wire.http.get("/_sandbox/stats").json()
    assert body["code"] == 0 and body["data"]["dialect"] == wire.name
    described = wire.http.get("/_sandbox/dialect").json()["data"]
    assert described["name"] == wire.name and described == wire.dialect.public()


def test_success_envelope(wire: Wire) -> None:
    wire.nemo.registered()
    r = wire.nemo.post("/api/tasks/me/with-session/nemo_agent", {"task_name": "p"})
    body = r.json()
    assert r.status_code == 200
    if wire.name == "references":
        assert list(body) == ["success", "data"] and body["success"] is True
    else:
        assert list(body) == ["code", "message", "data"] and body["code"] == 0
    assert set(body["data"]) == {"task_id", "session_id"}


def test_error_envelope_and_status(wire: Wire) -> None:
    wire.ready()
    r = wire.nemo.get("/api/state/nemo_agent/me/nope/latest")
    assert r.status_code == 404
    body = r.json()
    if wire.name == "references":
        assert body == {
            "success": False,
            "error": {"code": 1002, "message": "session not found: nope"},
        }
    else:
        assert body == {"code": 1002, "message": "session not found: nope", "data": None}


def test_token_error_status(wire: Wire) -> None:
    wire.nemo.token = "nmv_usr_unknown"
    r = wire.nemo.get("/api/credits/balance/simple")
    assert r.status_code == (200 if wire.name == "liberal" else 401)
    assert _code(wire, r.json()) == 1001


def test_session_ids(wire: Wire) -> None:
    sid = wire.ready().nemo.session_id
    if wire.name == "references":
        assert sid.isdigit() and len(sid) == 19, sid
        assert str(int(float(sid))) != sid  # a float would mangle it
    else:
        assert len(sid) == 32 and int(sid, 16) >= 0


def test_anonymous_token_carries_user_id_and_expiry(wire: Wire) -> None:
    data = wire.nemo.anonymous()["data"]
    assert data["user_id"].startswith("anon_")
    assert isinstance(data["expires_at"], int) and data["expires_at"] > time.time()
    assert data["credits"] == 10_000  # the sandbox's generous default


def test_upload_answer(wire: Wire) -> None:
    wire.ready()
    sid = wire.nemo.session_id
    payload = b"not really a video"
    files = {"files": ("clip.mp4", payload, "video/mp4")}
    r = wire.nemo.http.post(
        f"/api/upload-video/nemo_agent/me/{sid}", files=files, headers=wire.nemo.headers
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    if wire.name != "references":
        assert [i["name"] for i in data["items"]] == ["clip.mp4"]
        return
    assert data["session_state_applied"] is True
    (item,) = data["files"]
    keys = {"filename", "file_type", "cdn_url", "duration", "width", "height", "fps", "hash"}
    assert set(item) == keys
    assert item["filename"] == "clip.mp4" and item["file_type"] == "video"
    assert item["hash"] == hashlib.sha256(payload).hexdigest()
    assert "/static/uploads/" in item["cdn_url"]
    assert httpx.get(item["cdn_url"]).content == payload  # a CDN link: no token


# -- renders ----------------------------------------------------------------------


def _submit(wire: Wire, render_id: str, draft: Any = None) -> httpx.Response:
    body = {
        "id": render_id,
        "sessionId": wire.nemo.session_id,
        "draft": draft or TINY,
        "output": {"format": "mp4", "quality": "high"},
    }
    return wire.nemo.post("/api/render/proxy/lambda", body)


def _status_of(wire: Wire, body: dict[str, Any]) -> str:
    return body["data"]["status"] if wire.dialect.render_status == "data" else body["status"]


def _poll(wire: Wire, render_id: str, timeout: float = 30) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(wire.nemo.get(f"/api/render/proxy/lambda/{render_id}").json())
        if _status_of(wire, seen[-1]) in ("completed", "failed"):
            return seen
        time.sleep(0.02)
    raise AssertionError(f"render {render_id} never ended: {seen[-1]}")


def _decodes(content: bytes) -> None:
    with av.open(io.BytesIO(content)) as container:
        assert sum(1 for _ in container.decode(video=0)) > 0


def test_render_submit_answer(wire: Wire) -> None:
    wire.ready()
    r = _submit(wire, "render_submit_shape")
    assert r.status_code == 200, r.text
    body = r.json()
    if wire.name == "references":
        assert body == {
            "success": True,
            "data": {"id": "render_submit_shape", "status": "pending", "progress": 5},
        }
    elif wire.name == "liberal":
        assert body["taskId"] == "render_submit_shape" and body["status"] == "pending"
    else:
        assert body["status"] == "pending" and body["data"]["id"] == "render_submit_shape"


def test_render_status_to_a_playable_file(wire: Wire) -> None:
    wire.ready()
    wire.config(render_queue_seconds=[150, 150])  # 0.75 s: the extra state has time to show
    began_ms = time.time() * 1000
    _submit(wire, "render_shape").raise_for_status()
    seen = _poll(wire, "render_shape")
    final = seen[-1]
    statuses = [_status_of(wire, b) for b in seen]
    assert statuses[-1] == "completed", final
    if wire.name == "references":
        assert list(final) == ["success", "data"]
        data = final["data"]
        keys = ["id", "status", "progress", "outputUrl", "createdAt", "completedAt"]
        assert list(data) == keys
        assert all(isinstance(data[k], int) for k in ("createdAt", "completedAt"))
        assert began_ms - 5000 < data["createdAt"] <= data["completedAt"] < began_ms + 60_000
        assert "/static/renders/" in data["outputUrl"] and data["outputUrl"].endswith(".mp4")
        url = data["outputUrl"]
    elif wire.name == "liberal":
        assert set(final) == {"taskId", "status", "progress", "output"}  # bare: no envelope
        assert set(final["output"]) == {"duration", "size"}  # and no URL at all
        assert "encoding" in statuses and statuses.index("encoding") > statuses.index("processing")
        url = None
    else:
        assert final["code"] == 0 and "/media/renders/" in final["output"]["url"]
        assert isinstance(final["data"]["submitted_at"], float)
        url = final["output"]["url"]
    if url is not None:
        _decodes(httpx.get(url).content)  # a static host: no token
    fallback = wire.nemo.get("/api/render/proxy/render_shape/download")
    assert fallback.status_code == 200
    _decodes(fallback.content)


def test_duplicate_render_id(wire: Wire) -> None:
    wire.ready()
    _submit(wire, "render_twice").raise_for_status()
    again = _submit(wire, "render_twice")
    if wire.name == "references":
        assert again.status_code == 409
        assert again.json() == {
            "success": False,
            "error": {"code": 409, "message": "duplicate render id: render_twice"},
        }
    else:
        assert again.status_code == 200
    assert stats(wire.http)["renders_submitted"] == 1


def test_render_cancel(wire: Wire) -> None:
    wire.ready()
    wire.config(render_queue_seconds=[4000, 4000])  # 20 s: still running when cancelled
    _submit(wire, "render_cancel").raise_for_status()
    r = wire.nemo.post("/api/render/proxy/lambda/render_cancel/cancel")
    if not wire.dialect.render_cancel:
        assert r.status_code == 404
        assert r.json()["success"] is False and r.json()["error"]["code"] == 404
        return
    assert r.status_code == 200, r.text
    body = wire.nemo.get("/api/render/proxy/lambda/render_cancel").json()
    doc = body if wire.dialect.render_status == "bare" else body["data"]
    assert _status_of(wire, body) == "failed" and doc["error"] == "cancelled"
    assert stats(wire.http)["renders_cancelled"] == 1
    again = wire.nemo.post("/api/render/proxy/lambda/render_cancel/cancel")
    assert again.status_code == 409  # nothing left to cancel


# -- the chat stream ----------------------------------------------------------------


def _generate(wire: Wire) -> RawStream:
    stream = run_raw(wire.nemo, PROMPT)
    assert stream.status == 200 and not stream.cut, stream.raw[:300]
    return stream


def _last_complete(stream: RawStream) -> bool | None:
    last = stream.events[-1]
    return last.get("turnComplete", last.get("turn_complete"))


def test_stream_framing(wire: Wire) -> None:
    wire.ready()
    stream = _generate(wire)
    raw = stream.raw
    if wire.dialect.line_end == "\r\n":
        assert b"\r\n\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    else:
        assert b"\r" not in raw
    if wire.dialect.multiline_data:
        assert min(stream.data_lines) > 1  # each event spread over several data: lines
        assert raw.count(b"data: {") == len(stream.events)
    else:
        assert set(stream.data_lines) == {1}
    keys = {k for e in stream.events for k in e} | stream.part_keys()
    if wire.dialect.event_keys == "snake":
        assert {"invocation_id", "function_call", "function_response"} <= keys
        assert not keys & CAMEL
    else:
        assert {"invocationId", "functionCall", "functionResponse"} <= keys
        assert not keys & SNAKE


def test_turn_complete_marks_the_last_event_only_where_the_dialect_sends_it(wire: Wire) -> None:
    wire.ready()
    stream = _generate(wire)
    marked = [e for e in stream.events if e.get("turnComplete") or e.get("turn_complete")]
    if wire.dialect.turn_complete:
        assert marked == [stream.events[-1]]
    else:
        assert marked == [] and b"turnComplete" not in stream.raw


def test_trailing_issue(wire: Wire) -> None:
    wire.ready()
    texts = _generate(wire).texts()
    if wire.name == "liberal":
        assert texts[-1] == TRAILING_ISSUE and texts[-2] != TRAILING_ISSUE
    assert TRAILING_ISSUE not in texts[:-1]


def test_keep_alive_forms(wire: Wire) -> None:
    wire.ready()
    wire.config(heartbeat_seconds=3)  # 15 ms real: dozens of them during a generation
    beats = _generate(wire).heartbeats
    if wire.name == "adk":
        assert set(beats) == {"comment"}
    else:
        assert set(beats) == {"comment", "event", "empty_data"}


def test_lost_session_on_run_sse(wire: Wire) -> None:
    wire.ready()
    stream = run_raw(wire.nemo, PROMPT, session_id="1234")
    _assert_session_missing(wire, stream, "1234")


def test_session_lost_fault_on_run_sse(wire: Wire) -> None:
    wire.ready()
    arm(wire.http, "run_sse", "session_lost")
    stream = run_raw(wire.nemo, PROMPT)
    _assert_session_missing(wire, stream, wire.nemo.session_id)
    gone = wire.nemo.get(f"/api/state/nemo_agent/me/{wire.nemo.session_id}/latest")
    assert _code(wire, gone.json()) == 1002  # really deleted


def _code(wire: Wire, body: dict[str, Any]) -> int:
    return body["error"]["code"] if wire.dialect.envelope == "success" else body["code"]


def _assert_session_missing(wire: Wire, stream: RawStream, sid: str) -> None:
    assert stream.status == 404
    assert stream.content_type.startswith("application/json")
    if wire.dialect.missing_session == "detail":
        assert json.loads(stream.raw) == {"detail": "Session not found"}
    else:
        assert _code(wire, stream.body) == 1002 and sid in json.dumps(stream.body)
    assert stats(wire.http)["messages_posted"] == 0  # not delivered: safe to send again


def test_stream_error_fault(wire: Wire) -> None:
    wire.ready(credits=1000)
    arm(wire.http, "run_sse", "stream_error")
    stream = run_raw(wire.nemo, PROMPT)
    assert stream.status == 200 and not stream.cut
    assert stream.part_keys() & {"functionCall", "function_call"}  # it worked a little first
    last = stream.events[-1]
    if wire.dialect.stream_error == "error_field":
        assert last == {"error": OVERLOADED}
    elif wire.dialect.stream_error == "system_event":
        assert last["author"] == "system"
        assert last["content"]["parts"][0]["text"].startswith("Error: ")
    else:
        code, message = ("error_code", "error_message")
        if wire.dialect.event_keys == "camel":
            code, message = ("errorCode", "errorMessage")
        assert last[code] == "MODEL_OVERLOADED" and last[message] == OVERLOADED
    assert not _last_complete(stream)
    assert wire.nemo.balance() == {"available": 1000, "frozen": 0, "total": 1000}
    assert wire.nemo.state()["draft"] is None
    s = stats(wire.http)
    assert s["stream_errors"] == 1 and s["credits_charged"] == 0


@pytest.mark.parametrize("message", [PROMPT, EDIT])
def test_silent_fault(wire: Wire, message: str) -> None:
    wire.ready()
    before = None
    if message == EDIT:
        _generate(wire)
        before = wire.nemo.state()["draft"]
    arm(wire.http, "run_sse", "silent")
    stream = run_raw(wire.nemo, message)
    assert stream.status == 200 and not stream.cut
    assert stream.texts() == [] and stream.events
    assert stream.part_keys() & {"functionCall", "function_call"}
    assert bool(_last_complete(stream)) is wire.dialect.turn_complete
    draft = wire.nemo.state()["draft"]
    assert is_ready(draft) and draft != before  # the work was done, only the words are missing
    if message == EDIT:
        assert "Hello" in json.dumps(draft)


# -- existing faults, in every dialect ----------------------------------------------


def test_http_429_keeps_retry_after(wire: Wire) -> None:
    wire.ready()
    _submit(wire, "render_429").raise_for_status()
    arm(wire.http, "render_status", "http_429", seconds=3)
    r = wire.nemo.get("/api/render/proxy/lambda/render_429")
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert _code(wire, r.json()) == 429


def test_sse_cut_and_heartbeat_only(wire: Wire) -> None:
    wire.ready()
    arm(wire.http, "run_sse", "sse_cut")
    assert run_raw(wire.nemo, PROMPT).cut
    arm(wire.http, "run_sse", "heartbeat_only", seconds=0.3)
    idle = run_raw(wire.nemo, "make another video of a blue kite")
    assert idle.events == [] and sum(idle.heartbeats.values()) > 0
