"""The core flow against every sandbox dialect: the gateway must read each documented shape.

One stack per dialect (an anonymous upstream token, so a 1001 is recoverable),
its faults cleared between tests. Each test also checks the one rule no shape may break:
every prompt reached the upstream once.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import av
import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from gateway.sandbox.dialects import DIALECTS
from tests.e2e.agent_helpers import WAIT, edit, sandbox_config
from tests.e2e.conftest import Stack, start_stack, stop_stack
from tests.processes import WebhookReceiver, wait_status, wait_until

TERMINAL = {"succeeded", "failed", "canceled"}


@pytest.fixture(scope="module", params=list(DIALECTS))
def dialect_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp(f"conformance-{request.param}")
    s = start_stack(tmp, 200, anonymous=True, anonymous_credits=100_000, dialect=request.param)
    try:
        yield s
    finally:
        stop_stack(s)


@pytest.fixture
def stack(dialect_stack: Stack) -> Stack:
    httpx.delete(f"{dialect_stack.upstream}/_sandbox/faults").raise_for_status()
    sandbox_config(dialect_stack, silent_edit_share=0.0)
    return dialect_stack


def _messages(stack: Stack) -> int:
    return stack.stats()["messages_posted"]


def _fired(stack: Stack, kind: str) -> int:
    return stack.stats()["faults_fired"].get(kind, 0)


def _video(api: httpx.Client, prompt: str, **extra: Any) -> dict[str, Any]:
    created = api.post("/v1/videos", json={"prompt": prompt, "duration_seconds": 2, **extra})
    assert created.status_code == 202, created.text
    return wait_status(api, created.json()["id"], TERMINAL, timeout=90)


def _decodes(url: str) -> None:
    mp4 = httpx.get(url, timeout=30)
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(mp4.content)) as container:
        assert sum(1 for _ in container.decode(video=0)) > 0


def test_generate_to_verified_webhook_to_mp4(stack: Stack, receiver: WebhookReceiver) -> None:
    before = _messages(stack)
    with stack.client() as api:
        secret = api.get("/v1/webhooks/secret").json()["secret"]
        video = _video(api, "a lighthouse in a storm", webhook_url=receiver.url)
        got = receiver.wait_for(lambda r: len(r) >= 1, timeout=60)
    assert video["status"] == "succeeded", video["error"]
    payload = Webhook(secret).verify(got[0].body, got[0].headers)
    assert payload["type"] == "video.completed" and payload["data"]["id"] == video["id"]
    _decodes(payload["data"]["output"]["url"])
    assert _messages(stack) - before == 1


def test_edit_with_text_then_a_silent_one(stack: Stack) -> None:
    with stack.client() as api:
        parent = api.post(
            "/v1/videos", json={"prompt": "a paper boat", "duration_seconds": 2}, headers=WAIT
        ).json()
        assert parent["status"] == "succeeded", parent["error"]
        before = _messages(stack)
        spoken = edit(api, parent["id"], "add lo-fi music at 35%")
        stack.fault("run_sse", "silent")
        silent = edit(api, spoken["id"], "put the title 'Hello' in the first 2 s")
    assert spoken["status"] == "succeeded", spoken["error"]
    assert spoken["reply"], spoken
    assert silent["status"] == "succeeded", silent["error"]
    assert any(c["track_type"] == "text" for c in silent["changes"]), silent["changes"]
    assert silent["output"]["sha256"]
    assert _messages(stack) - before == 2


def test_stream_error_reaches_the_video_error(stack: Stack) -> None:
    before, renders = _messages(stack), stack.stats()["renders_submitted"]
    stack.fault("run_sse", "stream_error")
    with stack.client() as api:
        video = _video(api, "a red kite over a beach")
    assert video["status"] == "failed", video
    error = video["error"]
    assert error["code"] == "agent_error", error
    assert "the video model is overloaded" in error["message"], error
    # The forms that carry a code hand it on; ADK's system "Error:" text has none.
    forms_with_code = {"error_code"}
    dialect = DIALECTS[stack.stats()["dialect"]]
    if dialect.stream_error in forms_with_code:
        assert error["upstream_code"] == "MODEL_OVERLOADED", error
    assert _messages(stack) - before == 1  # never re-sent
    assert stack.stats()["renders_submitted"] == renders, "nothing to render"


def test_token_expired_on_render_status_mid_flow(stack: Stack) -> None:
    before = _messages(stack)
    stack.fault("render_status", "token_expired")
    with stack.client() as api:
        video = _video(api, "snow on pines")
    assert video["status"] == "succeeded", video["error"]
    _decodes(video["output"]["url"])
    assert _messages(stack) - before == 1


def test_http_429_on_render_status(stack: Stack) -> None:
    before, fired = _messages(stack), _fired(stack, "http_429")
    stack.fault("render_status", "http_429", seconds=0.3)
    with stack.client() as api:
        video = _video(api, "bees in a meadow")
    assert video["status"] == "succeeded", video["error"]
    assert _fired(stack, "http_429") - fired == 1
    assert _messages(stack) - before == 1


def test_silent_generation_ends_with_the_clean_close(stack: Stack) -> None:
    before = _messages(stack)
    stack.fault("run_sse", "silent")
    with stack.client() as api:
        video = _video(api, "a kite over dunes")
    assert video["status"] == "succeeded", video["error"]
    assert video["reply"] is None
    _decodes(video["output"]["url"])
    assert _messages(stack) - before == 1


def test_a_lost_session_on_run_sse_starts_a_new_one_and_sends_once(stack: Stack) -> None:
    # adk: a plain HTTP 404 {"detail": "Session not found"}; others: envelope 1002.
    before = _messages(stack)
    stack.fault("run_sse", "session_lost")
    with stack.client() as api:
        video = _video(api, "rain on a window")
    assert video["status"] == "succeeded", video["error"]
    assert _fired(stack, "session_lost") >= 1
    assert _messages(stack) - before == 1, "the refused message was not delivered"


def test_cancel_while_rendering_asks_the_upstream(stack: Stack) -> None:
    dialect = DIALECTS[stack.stats()["dialect"]]
    before = stack.stats()
    sandbox_config(stack, render_queue_seconds=[4000, 4000])  # 20 s real at speed 200
    try:
        with stack.client() as api:
            created = api.post("/v1/videos", json={"prompt": "a slow tide", "duration_seconds": 2})
            video_id = created.json()["id"]
            wait_status(api, video_id, {"rendering"}, timeout=60)
            # "rendering" shows as the render step starts, before its submit
            # reaches the upstream: a cancel then has nothing upstream to stop.
            wait_until(
                "the render to reach the upstream",
                lambda: stack.stats()["renders_submitted"] > before["renders_submitted"],
                30,
            )
            answer = api.post(f"/v1/videos/{video_id}/cancel")
            assert answer.status_code in (200, 202), answer.text
            final = wait_status(api, video_id, TERMINAL, timeout=30)
    finally:
        sandbox_config(stack, render_queue_seconds=[30, 90])
    assert final["status"] == "canceled"
    expected = 1 if dialect.render_cancel else 0  # references: 404, never fails the cancel
    assert stack.stats()["renders_cancelled"] - before["renders_cancelled"] == expected
