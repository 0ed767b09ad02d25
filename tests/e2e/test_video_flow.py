"""A prompt becomes an MP4: webhook, signed download, bounded wait."""

from __future__ import annotations

import io

import av
import httpx
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import Stack
from tests.processes import WebhookReceiver, wait_status


def test_prompt_to_signed_webhook_to_playable_mp4(stack: Stack, receiver: WebhookReceiver) -> None:
    with stack.client() as api:
        secret = api.get("/v1/webhooks/secret").json()["secret"]
        created = api.post(
            "/v1/videos",
            json={
                "prompt": "a lighthouse in a storm with the title 'Keep Watch' and calm music",
                "duration_seconds": 4,
                "aspect_ratio": "9:16",
                "webhook_url": receiver.url,
            },
        )
        assert created.status_code == 202
        video = created.json()
        assert created.headers["Location"].endswith(f"/v1/videos/{video['id']}")
        got = receiver.wait_for(lambda r: len(r) >= 1, timeout=90)
    hook = got[0]
    payload = Webhook(secret).verify(hook.body, hook.headers)  # raises on a bad signature
    assert payload["type"] == "video.completed"
    assert hook.headers["webhook-id"].startswith("msg_")
    data = payload["data"]
    assert data["id"] == video["id"] and data["status"] == "succeeded"
    assert data["progress"] == 100
    assert "Keep Watch" in data["timeline"]
    # The signed link needs no API key.
    mp4 = httpx.get(data["output"]["url"], timeout=30)
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    assert len(mp4.content) == data["output"]["size_bytes"]
    with av.open(io.BytesIO(mp4.content)) as container:
        stream = container.streams.video[0]
        assert abs(container.duration / 1e6 - 4) <= 0.5
        assert (stream.codec_context.width, stream.codec_context.height) == (720, 1280)
        assert container.streams.audio, "music was asked for: an audio track"


def test_prefer_wait_returns_the_finished_video(stack: Stack) -> None:
    with stack.client() as api:
        r = api.post(
            "/v1/videos",
            json={"prompt": "a paper boat on a river", "duration_seconds": 2},
            headers={"Prefer": "wait=60"},
        )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "succeeded"
    assert r.json()["output"]["url"]


def test_prefer_wait_too_short_answers_202_with_retry_after(stack: Stack) -> None:
    stack.fault("run_sse", "slow", seconds=3)
    with stack.client() as api:
        r = api.post(
            "/v1/videos",
            json={"prompt": "a slow sunrise", "duration_seconds": 2},
            headers={"Prefer": "wait=1"},
        )
        assert r.status_code == 202
        assert int(r.headers["Retry-After"]) >= 1
        assert r.json()["status"] in {"queued", "generating"}
        done = wait_status(api, r.json()["id"], {"succeeded"}, timeout=60)
    assert done["output"]["sha256"]


def test_content_supports_range_and_etag(stack: Stack) -> None:
    with stack.client() as api:
        video = api.post(
            "/v1/videos", json={"prompt": "bees"}, headers={"Prefer": "wait=60"}
        ).json()
        assert video["status"] == "succeeded"
        part = api.get(f"/v1/videos/{video['id']}/content", headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and len(part.content) == 100
        etag = api.get(f"/v1/videos/{video['id']}/content").headers["ETag"]
        again = api.get(f"/v1/videos/{video['id']}/content", headers={"If-None-Match": etag})
        assert again.status_code == 304
        # Every read signs a fresh link.
        first = api.get(f"/v1/videos/{video['id']}").json()["output"]["url"]
    assert "signature=" in first


def test_list_pages_newest_first_for_polling_triggers(stack: Stack) -> None:
    with stack.client() as api:
        ids = [api.post("/v1/videos", json={"prompt": f"clip {n}"}).json()["id"] for n in range(3)]
        page = api.get("/v1/videos", params={"limit": 2}).json()
        assert [v["id"] for v in page["data"]] == ids[::-1][:2]
        rest = api.get("/v1/videos", params={"limit": 2, "cursor": page["next_cursor"]}).json()
        assert rest["data"][0]["id"] == ids[0]
        for vid in ids:
            wait_status(api, vid, {"succeeded"}, timeout=60)
