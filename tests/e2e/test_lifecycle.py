"""Cancel, Cancel-After and Idempotency-Key against the running engine."""

from __future__ import annotations

import time

from tests.e2e.conftest import Stack
from tests.processes import WebhookReceiver, wait_status

TERMINAL = {"succeeded", "failed", "canceled"}


def test_cancel_while_generating_ends_canceled_with_its_webhook(
    fresh_stack: Stack, receiver: WebhookReceiver
) -> None:
    with fresh_stack.client() as api:
        vid = api.post(
            "/v1/videos", json={"prompt": "a long drone flight", "webhook_url": receiver.url}
        ).json()["id"]
        deadline = time.monotonic() + 60
        while api.get(f"/v1/videos/{vid}").json()["status"] != "generating":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        answer = api.post(f"/v1/videos/{vid}/cancel")
        assert answer.status_code in (200, 202)
        final = wait_status(api, vid, TERMINAL, timeout=30)
        assert final["status"] == "canceled"
        again = api.post(f"/v1/videos/{vid}/cancel")
        assert again.status_code == 409
        assert again.json()["code"] == "video_finished"
    hooks = receiver.wait_for(lambda r: len(r) >= 1, timeout=30)
    assert [h.json()["type"] for h in hooks] == ["video.canceled"]


def test_cancel_after_deadline_cancels_unfinished_work(fresh_stack: Stack) -> None:
    with fresh_stack.client() as api:
        vid = api.post(
            "/v1/videos", json={"prompt": "clouds"}, headers={"Cancel-After": "1"}
        ).json()["id"]
        final = wait_status(api, vid, TERMINAL, timeout=30)
    assert final["status"] == "canceled"


def test_idempotent_create_replays_without_a_second_generation(stack: Stack) -> None:
    before = stack.stats()["messages_posted"]
    body = {"prompt": "a red kite over dunes", "duration_seconds": 2}
    headers = {"Idempotency-Key": "zap-run-42"}
    with stack.client() as api:
        first = api.post("/v1/videos", json=body, headers=headers)
        second = api.post("/v1/videos", json=body, headers=headers)
        assert first.status_code == second.status_code == 202
        assert second.json()["id"] == first.json()["id"]
        assert second.headers.get("Idempotent-Replayed") == "true"
        changed = api.post("/v1/videos", json={**body, "prompt": "other"}, headers=headers)
        assert changed.status_code == 422
        wait_status(api, first.json()["id"], TERMINAL, timeout=60)
    assert stack.stats()["messages_posted"] - before == 1
