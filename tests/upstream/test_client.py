import asyncio
import hashlib
import json
import time
from contextlib import aclosing

import httpx
import pytest

from gateway.upstream import (
    AgentEvent,
    Attribution,
    DraftNotReady,
    EventKind,
    InsufficientCredits,
    MessageMaybeDelivered,
    NemoClient,
    ProtocolError,
    RateLimited,
    SessionNotFound,
    StreamDropped,
    Timeouts,
    TokenInvalid,
    TokenProvider,
    UpstreamUnavailable,
)
from tests.upstream.helpers import FAKE_TOKEN, Recorder, fail, ok, run, sse, text_event

BASE = "https://nemo.test"
WEB = "https://web.test"
READY_DRAFT = {"t": [{"tt": 0, "sg": [{"s": 0, "e": 10000, "lb": "city"}]}]}
SSE_HEADERS = {"content-type": "text/event-stream"}
RUN = "/run_sse"


def make_client(handler, *, tokens=None, timeouts=None, **kwargs) -> tuple[NemoClient, Recorder]:
    recorder = handler if isinstance(handler, Recorder) else Recorder(handler)
    tokens = tokens or TokenProvider(BASE, token=FAKE_TOKEN, transport=recorder.transport())
    client = NemoClient(
        BASE,
        tokens,
        transport=recorder.transport(),
        timeout=timeouts,
        max_retry_wait=kwargs.pop("max_retry_wait", 0.01),
        retry_backoff=kwargs.pop("retry_backoff", (0.0, 0.0)),
        web_url=kwargs.pop("web_url", WEB),
        **kwargs,
    )
    return client, recorder


def stream_response(*events, status=200) -> httpx.Response:
    return httpx.Response(status, headers=SSE_HEADERS, content=sse(*events))


async def collect(client: NemoClient, text: str = "make a video") -> list[AgentEvent]:
    events: list[AgentEvent] = []
    async with aclosing(client.stream_message("sess-1", text)) as stream:
        async for event in stream:
            events.append(event)
    return events


async def collect_until_error(client: NemoClient) -> tuple[list[AgentEvent], Exception]:
    events: list[AgentEvent] = []
    try:
        async for event in client.stream_message("sess-1", "hi"):
            events.append(event)
    except Exception as exc:
        return events, exc
    pytest.fail("the stream should have raised")


def everything(request: httpx.Request) -> httpx.Response:
    """A well-behaved upstream for the header checks."""
    path = request.url.path
    if path.startswith("/api/tasks/me/with-session/"):
        return ok({"task_id": "task-1", "session_id": "sess-1"})
    if path == "/api/auth/claim-token":
        return ok({"claim_token": "clm_abc", "expires_in": 604800})
    if path.startswith("/api/state/"):
        return ok({"state": {"draft": READY_DRAFT, "video_infos": []}})
    if path == "/api/credits/balance/simple":
        return ok({"available": 90, "frozen": 10, "total": 100})
    if path.startswith("/api/upload-video/"):
        return ok({"files": [{"id": "m1"}]})
    if path == "/api/render/proxy/lambda":
        return ok({"id": "render_1", "status": "pending"})
    if path.startswith("/api/render/proxy/lambda/"):
        return httpx.Response(200, json={"code": 0, "status": "completed",
                                         "output": {"url": f"{BASE}/files/out.mp4"}})  # fmt: skip
    if path == "/files/out.mp4" or path.endswith("/download"):
        return httpx.Response(200, content=b"MP4DATA")
    if path == RUN:
        return stream_response(text_event("Done", complete=True))
    return httpx.Response(404)


# -- headers and secrets ---------------------------------------------------------------


def test_bearer_and_attribution_on_every_call_and_no_token_in_urls(tmp_path):
    client, recorder = make_client(everything)
    media = tmp_path / "clip.mp4"
    media.write_bytes(b"x" * 1000)

    async def scenario():
        ref = await client.create_session("en")
        await client.claim_url(ref.task_id, ref.session_id, WEB)
        await client.get_state(ref.session_id)
        await client.credits()
        await client.upload_urls(ref.session_id, ["https://cdn.test/a.mp4"])
        await client.upload_file(ref.session_id, media, "clip.mp4", "video/mp4")
        await client.submit_render("render_1", ref.session_id, READY_DRAFT)
        job = await client.render_status("render_1")
        await client.download(client.fallback_download_url("render_1"), tmp_path / "a.mp4")
        await client.download(job.output_url, tmp_path / "b.mp4")
        await collect(client)
        await client.aclose()

    run(scenario())
    assert len(recorder.requests) == 11
    for request in recorder.requests:
        assert request.headers["Authorization"] == f"Bearer {FAKE_TOKEN}"
        assert request.headers["X-Skill-Source"] == "nemo-gateway"
        assert request.headers["X-Skill-Version"]
        assert request.headers["X-Skill-Platform"] == "api"
        assert FAKE_TOKEN not in str(request.url)


def test_custom_attribution():
    recorder = Recorder(everything)
    tokens = TokenProvider(BASE, token=FAKE_TOKEN)
    client = NemoClient(BASE, tokens, Attribution("n8n", "1.2.3", "n8n"), recorder.transport())
    run(client.credits())
    headers = recorder.requests[0].headers
    assert (headers["X-Skill-Source"], headers["X-Skill-Version"]) == ("n8n", "1.2.3")


def test_no_token_to_a_foreign_download_host(tmp_path):
    client, recorder = make_client(everything)
    run(client.download("https://storage.test/files/out.mp4", tmp_path / "out.mp4"))
    assert "authorization" not in recorder.requests[0].headers


# -- REST calls -------------------------------------------------------------------------


def test_session_claim_state_credits():
    client, recorder = make_client(everything)

    async def scenario():
        ref = await client.create_session("en")
        link = await client.claim_url(ref.task_id, ref.session_id, WEB + "/")
        return ref, link, await client.get_state("sess-1"), await client.credits()

    ref, link, state, credits = run(scenario())
    assert (ref.task_id, ref.session_id) == ("task-1", "sess-1")
    assert link == f"{WEB}/workspace/claim?ct=clm_abc"
    assert state["draft"] == READY_DRAFT
    assert (credits.available, credits.frozen, credits.total) == (90, 10, 100)
    first = recorder.requests[0]
    assert first.url.path == "/api/tasks/me/with-session/nemo_agent"
    assert json.loads(first.content) == {"task_name": "project", "language": "en"}
    assert json.loads(recorder.requests[1].content) == {"task_id": "task-1", "session_id": "sess-1"}
    assert recorder.requests[2].url.path == "/api/state/nemo_agent/me/sess-1/latest"


def test_uploads(tmp_path):
    client, recorder = make_client(everything)
    media = tmp_path / "clip.mp4"
    media.write_bytes(b"\x00\x01" * 50_000)

    async def scenario():
        a = await client.upload_urls("sess-1", ["https://cdn.test/a.mp4"])
        b = await client.upload_file("sess-1", media, "clip.mp4", "video/mp4")
        return a, b

    assert run(scenario()) == ([{"id": "m1"}], [{"id": "m1"}])
    by_url, by_file = recorder.requests
    assert by_url.url.path == "/api/upload-video/nemo_agent/me/sess-1"
    assert json.loads(by_url.content) == {"urls": ["https://cdn.test/a.mp4"], "source_type": "url"}
    assert by_file.headers["content-type"].startswith("multipart/form-data")
    assert b'name="files"; filename="clip.mp4"' in by_file.content
    assert media.read_bytes() in by_file.content


def test_submit_render_body_and_draft_check():
    client, recorder = make_client(everything)
    job = run(client.submit_render("render_1", "sess-1", READY_DRAFT))
    assert (job.id, job.status) == ("render_1", "pending")
    assert json.loads(recorder.requests[0].content) == {
        "id": "render_1",
        "sessionId": "sess-1",
        "draft": READY_DRAFT,
        "output": {"format": "mp4", "quality": "high"},
    }
    with pytest.raises(DraftNotReady):
        run(client.submit_render("render_2", "sess-1", {"t": [{"tt": 0, "sg": []}]}))
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    ("answer", "status", "progress", "url"),
    [
        ({"code": 0, "status": "processing", "progress": 40}, "processing", 0.4, None),
        ({"code": 0, "status": "processing", "progress": 1}, "processing", 0.01, None),
        ({"code": 0, "status": "processing", "progress": 0.5}, "processing", 0.5, None),
        ({"code": 0, "data": {"status": "pending"}}, "pending", None, None),
        ({"status": "completed", "output": {"url": "https://s/x.mp4"}}, "completed", None,
         "https://s/x.mp4"),
        ({"code": 0, "data": {"status": "SUCCEEDED", "output_url": "https://s/y.mp4",
                              "progress": 1.0}}, "completed", 1.0, "https://s/y.mp4"),
        ({"code": 0, "data": {"status": "failed", "error": {"message": "boom"}}}, "failed", None,
         None),
    ],
)  # fmt: skip
def test_render_status_is_read_liberally(answer, status, progress, url):
    client, _ = make_client(lambda request: httpx.Response(200, json=answer))
    job = run(client.render_status("render_1"))
    assert (job.id, job.status, job.progress, job.output_url) == ("render_1", status, progress, url)
    assert job.finished is (status in ("completed", "failed"))
    if status == "failed":
        assert job.error == "boom"


def test_download_streams_to_the_destination(tmp_path):
    payload = b"\x00mp4" * 100_000
    client, _ = make_client(lambda request: httpx.Response(200, content=payload))
    dest = tmp_path / "media" / "v.mp4"
    size, digest = run(client.download(f"{BASE}/files/v.mp4", dest))
    assert (size, digest) == (len(payload), hashlib.sha256(payload).hexdigest())
    assert dest.read_bytes() == payload
    assert [p.name for p in dest.parent.iterdir()] == ["v.mp4"]


def test_failed_download_leaves_nothing(tmp_path):
    client, _ = make_client(lambda request: httpx.Response(404, text="gone"))
    dest = tmp_path / "v.mp4"
    with pytest.raises(ProtocolError):
        run(client.download("https://storage.test/v.mp4", dest))
    assert list(tmp_path.iterdir()) == []
    assert client.fallback_download_url("r 1") == f"{BASE}/api/render/proxy/r%201/download"


def test_storage_401_does_not_touch_the_token(tmp_path):
    upstream = AnonymousUpstream(good={"nmv_usr_1"})
    client, recorder = anonymous_client(tmp_path, upstream)
    run(client.credits())
    recorder.handler = lambda request: httpx.Response(401, text="expired signature")
    with pytest.raises(ProtocolError):
        run(client.download("https://storage.test/v.mp4?sig=x", tmp_path / "v.mp4"))
    assert upstream.issued == 1
    assert recorder.count("/v.mp4") == 1


def test_download_cut_midway_is_retried_and_cleaned(tmp_path):
    calls = []

    async def body():
        yield b"part"
        raise httpx.ReadError("reset")

    def handler(request):
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(200, content=body())
        return httpx.Response(200, content=b"whole")

    client, _ = make_client(handler)
    assert run(client.download(f"{BASE}/f.mp4", tmp_path / "f.mp4"))[0] == 5
    assert [p.name for p in tmp_path.iterdir()] == ["f.mp4"]


# -- retry policy ------------------------------------------------------------------------


class AnonymousUpstream:
    """Tokens nmv_usr_1, _2, ...; state answers 1001 unless the token is in ``good``."""

    def __init__(self, good: set[str]) -> None:
        self.good = good
        self.issued = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/auth/anonymous-token":
            self.issued += 1
            return ok({"token": f"nmv_usr_{self.issued}"})
        token = request.headers["Authorization"].removeprefix("Bearer ")
        if token not in self.good:
            return fail(1001, "token expired")
        if request.url.path == RUN:
            return stream_response(text_event("ok", complete=True))
        return ok({"state": {"draft": {}}})


def anonymous_client(tmp_path, upstream):
    recorder = Recorder(upstream)
    tokens = TokenProvider(BASE, tmp_path, transport=recorder.transport())
    return make_client(recorder, tokens=tokens)


def test_1001_refreshes_the_token_once_and_retries(tmp_path):
    upstream = AnonymousUpstream(good={"nmv_usr_2"})
    client, recorder = anonymous_client(tmp_path, upstream)
    assert run(client.get_state("sess-1")) == {"draft": {}}
    assert recorder.count("/api/auth/anonymous-token") == 2
    assert recorder.count("/api/state/nemo_agent/me/sess-1/latest") == 2
    ids = {r.headers["X-Client-Id"] for r in recorder.requests if "X-Client-Id" in r.headers}
    assert len(ids) == 1


def test_1001_twice_gives_up(tmp_path):
    client, recorder = anonymous_client(tmp_path, AnonymousUpstream(good=set()))
    with pytest.raises(TokenInvalid):
        run(client.credits())
    assert recorder.count("/api/credits/balance/simple") == 2


def test_1001_with_a_fixed_token_is_final():
    client, recorder = make_client(lambda request: fail(1001))
    with pytest.raises(TokenInvalid):
        run(client.get_state("sess-1"))
    assert len(recorder.requests) == 1


def test_client_id_survives_a_new_client(tmp_path):
    upstream = AnonymousUpstream(good={"nmv_usr_1", "nmv_usr_2"})
    first, _ = anonymous_client(tmp_path, upstream)
    run(first.credits())
    second, recorder2 = anonymous_client(tmp_path, upstream)
    run(second.credits())
    assert upstream.issued == 1  # the second client reused the cached token
    assert recorder2.count("/api/auth/anonymous-token") == 0


def test_429_waits_retry_after_then_retries_once():
    answers = iter([fail(429, status=429, headers={"Retry-After": "0.2"}), ok({"available": 1})])
    client, recorder = make_client(lambda request: next(answers), max_retry_wait=5)
    started = time.monotonic()
    assert run(client.credits()).available == 1
    assert time.monotonic() - started >= 0.2
    assert len(recorder.requests) == 2


def test_429_twice_raises_with_retry_after():
    client, recorder = make_client(
        lambda request: httpx.Response(429, headers={"Retry-After": "120"}), max_retry_wait=0.01
    )
    with pytest.raises(RateLimited) as info:
        run(client.submit_render("render_1", "sess-1", READY_DRAFT))
    assert info.value.retry_after == 120
    assert len(recorder.requests) == 2


def test_5xx_retried_for_reads_only():
    client, recorder = make_client(lambda request: httpx.Response(502, text="<html>bad</html>"))
    with pytest.raises(UpstreamUnavailable):
        run(client.get_state("sess-1"))
    assert len(recorder.requests) == 3
    with pytest.raises(UpstreamUnavailable):
        run(client.submit_render("render_1", "sess-1", READY_DRAFT))
    with pytest.raises(UpstreamUnavailable):
        run(client.create_session("en"))
    assert len(recorder.requests) == 5


def test_connect_error_on_a_read_is_retried_then_succeeds():
    calls = []

    def handler(request):
        calls.append(1)
        if len(calls) < 3:
            raise httpx.ConnectError("refused")
        return ok({"available": 5, "frozen": 0})

    client, _ = make_client(handler)
    credits = run(client.credits())
    assert (credits.available, credits.total, len(calls)) == (5, 5, 3)


def test_other_errors_are_not_retried():
    client, recorder = make_client(lambda request: fail(1002, "no such session"))
    with pytest.raises(SessionNotFound):
        run(client.get_state("gone"))
    assert len(recorder.requests) == 1


def test_insufficient_credits_gets_a_registration_link(tmp_path):
    def handler(request):
        if request.url.path == "/api/auth/anonymous-token":
            return ok({"token": "nmv_usr_1", "user_id": "anon 7"})
        return fail(2001, "out of credits")

    recorder = Recorder(handler)
    tokens = TokenProvider(BASE, tmp_path, transport=recorder.transport())
    client, _ = make_client(recorder, tokens=tokens)
    with pytest.raises(InsufficientCredits) as info:
        run(client.create_session("en"))
    assert info.value.registration_url == f"{WEB}/register?bind=anon%207"


def test_registered_users_get_no_registration_link():
    client, _ = make_client(lambda request: fail(2001))
    with pytest.raises(InsufficientCredits) as info:
        run(client.create_session(None))
    assert info.value.registration_url is None


# -- the chat stream -------------------------------------------------------------------


def test_stream_yields_every_kind_and_heartbeats():
    body = [
        ": heartbeat\n\n",
        "event: heartbeat\n\n",
        "data:\n\n",
        text_event("Gener", partial=True),
        {"content": {"parts": [{"functionCall": {"id": "1", "name": "gen", "args": {}}}]}},
        {"content": {"parts": [{"function_response": {"id": "1", "name": "gen",
                                                      "response": {"ok": 1}}}]}},
        text_event("Your video is ready", complete=True),
    ]  # fmt: skip
    client, recorder = make_client(lambda request: stream_response(*body))
    events = run(collect(client, "a city at night"))
    assert [e.kind for e in events] == [
        "heartbeat", "heartbeat", "heartbeat", "text", "tool_call", "tool_result", "text",
    ]  # fmt: skip
    assert events[-1].turn_complete and events[3].partial
    (request,) = recorder.requests
    assert request.headers["Accept"] == "text/event-stream"
    assert json.loads(request.content) == {
        "app_name": "nemo_agent",
        "user_id": "me",
        "session_id": "sess-1",
        "new_message": {"role": "user", "parts": [{"text": "a city at night"}]},
    }


def test_clean_close_after_a_final_answer_needs_no_turn_complete():
    client, _ = make_client(lambda r: stream_response(text_event("Ready"), text_event("bye")))
    assert [e.text for e in run(collect(client))] == ["Ready", "bye"]


def test_error_event_ends_the_turn():
    client, _ = make_client(lambda r: stream_response({"error": "backend failed"}))
    (event,) = run(collect(client))
    assert (event.kind, event.error) == (EventKind.ERROR, "backend failed")


def test_stream_cut_midway_raises_stream_dropped_after_the_events():
    async def body():
        yield sse(text_event("Gen", partial=True))
        yield sse({"content": {"parts": [{"functionCall": {"name": "gen", "args": {}}}]}})
        yield b'data: {"content": {"par'
        raise httpx.RemoteProtocolError("peer closed connection")

    client, recorder = make_client(
        lambda r: httpx.Response(200, headers=SSE_HEADERS, content=body())
    )
    events, error = run(collect_until_error(client))
    assert [e.kind for e in events] == ["text", "tool_call"]
    assert isinstance(error, StreamDropped)
    assert not error.clean_close and error.events_seen == 2
    assert isinstance(error.__cause__, httpx.RemoteProtocolError)
    assert len(recorder.requests) == 1


def test_stream_ending_without_completion_is_dropped_with_clean_close():
    tool = {"content": {"parts": [{"functionCall": {"name": "edit", "args": {}}}]}}
    client, _ = make_client(lambda r: stream_response(text_event("Edit", partial=True), tool))
    events, error = run(collect_until_error(client))
    assert len(events) == 2
    assert isinstance(error, StreamDropped) and error.clean_close


def test_cut_after_turn_complete_is_fine():
    async def body():
        yield sse(text_event("Done", complete=True))
        raise httpx.ReadError("reset")

    client, _ = make_client(lambda r: httpx.Response(200, headers=SSE_HEADERS, content=body()))
    assert [e.text for e in run(collect(client))] == ["Done"]


def test_json_2001_answer_raises_insufficient_credits_without_retry():
    client, recorder = make_client(lambda r: fail(2001, "no credits"))
    with pytest.raises(InsufficientCredits):
        run(collect(client))
    assert recorder.count(RUN) == 1


def test_json_1001_answer_refreshes_and_retries_once(tmp_path):
    client, recorder = anonymous_client(tmp_path, AnonymousUpstream(good={"nmv_usr_2"}))
    assert [e.text for e in run(collect(client))] == ["ok"]
    assert recorder.count(RUN) == 2


def test_json_429_answer_waits_and_retries_once():
    answers = iter([fail(429, status=429), stream_response(text_event("ok", complete=True))])
    client, recorder = make_client(lambda r: next(answers))
    assert [e.text for e in run(collect(client))] == ["ok"]
    assert recorder.count(RUN) == 2


@pytest.mark.parametrize(
    "failure", [httpx.ReadError("reset"), httpx.ReadTimeout("slow"), httpx.WriteError("pipe")]
)
def test_transport_error_after_sending_is_never_retried(failure):
    def handler(request):
        raise failure

    client, recorder = make_client(handler)
    with pytest.raises(MessageMaybeDelivered) as info:
        run(collect(client))
    assert not isinstance(info.value, StreamDropped)
    assert info.value.__cause__ is failure
    assert recorder.count(RUN) == 1


def test_connect_error_means_not_sent_and_is_not_retried_here():
    def handler(request):
        raise httpx.ConnectError("refused")

    client, recorder = make_client(handler)
    with pytest.raises(UpstreamUnavailable):
        run(collect(client))
    assert recorder.count(RUN) == 1


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(502, text="<html>Bad gateway</html>"),
        httpx.Response(504, json={"detail": "timeout"}),
        httpx.Response(200, json={"code": 0, "data": {}}),
    ],
)
def test_answer_without_stream_or_envelope_error_may_be_delivered(answer):
    client, recorder = make_client(lambda r: answer)
    with pytest.raises(MessageMaybeDelivered):
        run(collect(client))
    assert recorder.count(RUN) == 1


def test_turn_cap_drops_a_hanging_stream():
    async def body():
        yield sse(text_event("Gen", partial=True))
        await asyncio.sleep(30)
        yield b""

    timeouts = Timeouts(turn=0.2)
    client, _ = make_client(
        lambda r: httpx.Response(200, headers=SSE_HEADERS, content=body()), timeouts=timeouts
    )
    events, error = run(collect_until_error(client))
    assert len(events) == 1 and isinstance(error, StreamDropped)
    assert isinstance(error.__cause__, TimeoutError)


def test_only_heartbeats_for_too_long_drops_the_turn():
    async def body():
        yield sse(text_event("Gen", partial=True))
        for _ in range(100):
            await asyncio.sleep(0.01)
            yield b": heartbeat\n\n"

    timeouts = Timeouts(stream_idle=0.1)
    client, _ = make_client(
        lambda r: httpx.Response(200, headers=SSE_HEADERS, content=body()), timeouts=timeouts
    )
    events, error = run(collect_until_error(client))
    assert isinstance(error, StreamDropped) and "keep-alives" in error.message
    assert events[0].kind == "text" and {e.kind for e in events[1:]} == {"heartbeat"}
    assert 5 <= len(events) < 50


def test_many_streams_share_one_client():
    async def body():
        yield sse(text_event("Gen", partial=True))
        await asyncio.sleep(0.05)
        yield sse(text_event("Done", complete=True))

    client, recorder = make_client(
        lambda r: httpx.Response(200, headers=SSE_HEADERS, content=body())
    )

    async def scenario():
        return await asyncio.gather(*(collect(client) for _ in range(500)))

    results = run(scenario())
    assert all([e.text for e in events] == ["Gen", "Done"] for events in results)
    assert recorder.count(RUN) == 500


def test_public_surface():
    import gateway.upstream as upstream

    assert sorted(upstream.__all__) == sorted(set(upstream.__all__))
    for name in upstream.__all__:
        assert getattr(upstream, name) is not None
    assert issubclass(upstream.StreamDropped, upstream.UpstreamError)
