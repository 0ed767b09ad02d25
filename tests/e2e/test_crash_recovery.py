"""kill -9 the gateway mid-work: after a restart the video completes, the prompt
was posted once, credits were charged once, and a webhook keeps its id."""

from __future__ import annotations

import time

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import Stack
from tests.processes import WebhookReceiver, wait_status

GENERATION_COST = 100


def _wait(api: httpx.Client, video_id: str, predicate, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        video = api.get(f"/v1/videos/{video_id}").json()
        if predicate(video):
            return video
        time.sleep(0.05)
    raise AssertionError(f"condition never met; last: {video}")


def _create(stack: Stack, **extra: object) -> str:
    with stack.client() as api:
        body = {"prompt": "a fox crossing a snowy field", "duration_seconds": 2, **extra}
        return api.post("/v1/videos", json=body).json()["id"]


def _assert_charged_once(stack: Stack) -> None:
    stats = stack.stats()
    assert stats["messages_posted"] == 1, stats
    assert stats["credits_charged"] == GENERATION_COST, stats


@pytest.mark.parametrize(
    "moment",
    [
        # After the message was marked sent: the stream dies with the process.
        lambda v: v["status"] == "generating" and v["progress"] >= 10,
        lambda v: v["status"] == "rendering",
    ],
    ids=["while-generating", "while-rendering"],
)
def test_killed_mid_work_completes_after_restart(fresh_stack: Stack, moment) -> None:
    stack = fresh_stack
    receiver = WebhookReceiver(status_for=lambda n: 500 if n == 0 else 200)
    try:
        vid = _create(stack, webhook_url=receiver.url)
        with stack.client() as api:
            _wait(api, vid, moment, timeout=90)
        stack.gateway.kill9()
        stack.restart_gateway()
        with stack.client() as api:
            final = wait_status(api, vid, {"succeeded", "failed", "canceled"}, timeout=120)
        hooks = receiver.wait_for(lambda r: len(r) >= 2, timeout=30)
    finally:
        receiver.close()
    assert final["status"] == "succeeded", final["error"]
    _assert_charged_once(stack)
    # One event (video.completed), delivered twice (the first answer was 500): one id.
    assert {h.json()["type"] for h in hooks} == {"video.completed"}
    assert len({h.headers["webhook-id"] for h in hooks}) == 1


def test_webhook_retries_across_a_crash_keep_one_webhook_id(fresh_stack: Stack) -> None:
    stack = fresh_stack
    # The receiver fails the first two attempts; the gateway dies after the first.
    receiver = WebhookReceiver(status_for=lambda n: 500 if n < 2 else 200)
    try:
        vid = _create(stack, webhook_url=receiver.url)
        receiver.wait_for(lambda r: len(r) >= 1, timeout=90)
        stack.gateway.kill9()
        stack.restart_gateway()
        got = receiver.wait_for(lambda r: len(r) >= 3, timeout=60)
    finally:
        receiver.close()
    with stack.client() as api:
        secret = api.get("/v1/webhooks/secret").json()["secret"]
    ids = {hook.headers["webhook-id"] for hook in got}
    assert len(ids) == 1, ids
    for hook in got:
        payload = Webhook(secret).verify(hook.body, hook.headers)
        assert payload["type"] == "video.completed"
        assert payload["data"]["id"] == vid
