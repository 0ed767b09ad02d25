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
from tests.processes import WebhookReceiver, wait_status

TERMINAL = {"succeeded", "failed", "canceled"}
_RENDER_GAP = (
    "gateway side: the render reader does not read this status document yet "
    "(references: outputUrl inside data; liberal: completed with no URL, use the fallback download)"
)
_STREAM_ERROR_GAP = (
    "gateway side: an in-stream error is not read yet, the video ends no_video_produced"
)
# (test, dialect) pairs the gateway does not pass yet; the sandbox side is right.
GATEWAY_GAPS = {
    **{
        (test, dialect): _RENDER_GAP
        for test in (
            "test_generate_to_verified_webhook_to_mp4",
            "test_edit_with_text_then_a_silent_one",
            "test_token_expired_on_render_status_mid_flow",
            "test_http_429_on_render_status",
        )
        for dialect in ("references", "liberal")
    },
    **{("test_stream_error_reaches_the_video_error", d): _STREAM_ERROR_GAP for d in DIALECTS},
}


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
def stack(request: pytest.FixtureRequest, dialect_stack: Stack) -> Stack:
    gap = GATEWAY_GAPS.get(
        (request.node.originalname, request.node.callspec.params["dialect_stack"])
    )
    if gap is not None:  # not strict: it passes as soon as the gateway reads the shape
        request.applymarker(pytest.mark.xfail(reason=gap, strict=False))
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
    before = _messages(stack)
    stack.fault("run_sse", "stream_error")
    with stack.client() as api:
        video = _video(api, "a red kite over a beach")
    assert video["status"] == "failed", video
    assert "overloaded" in video["error"]["message"], video["error"]
    assert _messages(stack) - before == 1  # never re-sent


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
