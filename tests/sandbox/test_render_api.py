"""Export: submit, poll to completion, download a real MP4; errors and idempotency."""

from __future__ import annotations

import io
import time
from typing import Any

import av
import httpx

from .support import ATTRIBUTION, Nemo, stats

PROMPT = "a 2 second vertical video of ocean waves with calm music"
# A hand-written draft: tiny and identical across tests, so it renders once.
TINY = {
    "d": 1000,
    "m": {"ratio": "16:9", "w": 160, "h": 90, "fps": 12},
    "t": [{"tt": 0, "n": "Video", "sg": [{"s": 0, "e": 1000, "lb": "test card"}]}],
}


def _tiny(nemo: Nemo) -> dict[str, Any]:
    nemo.registered(credits=1000)
    nemo.new_session()
    return TINY


def _generated(nemo: Nemo, prompt: str = PROMPT) -> dict[str, Any]:
    nemo.registered(credits=1000)
    nemo.new_session()
    nemo.run(prompt)
    return nemo.state()["draft"]


def submit(nemo: Nemo, render_id: str, draft: Any, **kw: Any) -> httpx.Response:
    body = {
        "id": render_id,
        "sessionId": nemo.session_id,
        "draft": draft,
        "output": {"format": "mp4", "quality": "high"},
    }
    return nemo.post("/api/render/proxy/lambda", body, **kw)


def poll(nemo: Nemo, render_id: str, timeout: float = 30) -> list[dict[str, Any]]:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = nemo.get(f"/api/render/proxy/lambda/{render_id}").json()
        seen.append(body)
        if body["status"] in ("completed", "failed"):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"render {render_id} still {seen[-1]['status']}")


def test_render_lifecycle_to_a_playable_mp4(nemo: Nemo) -> None:
    draft = _generated(nemo)
    r = submit(nemo, "render_one", draft)
    assert r.json()["code"] == 0 and r.json()["status"] == "pending"
    seen = poll(nemo, "render_one")
    statuses = [b["status"] for b in seen]
    assert statuses[-1] == "completed", seen[-1]
    assert "processing" in statuses
    assert statuses == sorted(statuses, key=["pending", "processing", "completed"].index)
    assert [b["progress"] for b in seen] == sorted(b["progress"] for b in seen)
    final = seen[-1]
    assert final["progress"] == 100 and final["data"]["status"] == "completed"
    url = final["output"]["url"]
    assert url.startswith(str(nemo.http.base_url)) and url.endswith(".mp4")

    video = httpx.get(url)  # a CDN-like link: no auth needed
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(video.content)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.codec_context.width, stream.codec_context.height) == (
            draft["m"]["w"],
            draft["m"]["h"],
        )
        assert draft["m"]["h"] > draft["m"]["w"]  # vertical, as asked
        assert abs(float(container.duration / av.time_base) - 2.0) <= 0.5
        assert container.streams.audio, "the draft has music: the file has sound"
    s = stats(nemo.http)
    assert s["renders_submitted"] == 1
    assert s["sessions"][nemo.session_id]["renders_submitted"] == 1


def test_range_requests_and_the_fallback_download(nemo: Nemo) -> None:
    draft = _generated(nemo, "a 2 second video of a forest")
    submit(nemo, "render_two", draft)
    url = poll(nemo, "render_two")[-1]["output"]["url"]
    part = httpx.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    full = nemo.get("/api/render/proxy/render_two/download")
    assert full.status_code == 200 and full.content[:100] == part.content
    with av.open(io.BytesIO(full.content)) as container:
        assert not container.streams.audio  # no music asked, no audio track


def test_duplicate_id_returns_the_same_job(nemo: Nemo) -> None:
    draft = _tiny(nemo)
    first = submit(nemo, "render_dup", draft).json()
    again = submit(nemo, "render_dup", draft).json()
    assert again["data"]["id"] == first["data"]["id"] == "render_dup"
    assert stats(nemo.http)["renders_submitted"] == 1
    poll(nemo, "render_dup")


def test_export_is_free(nemo: Nemo) -> None:
    draft = _tiny(nemo)
    before = nemo.balance()
    submit(nemo, "render_free", draft)
    poll(nemo, "render_free")
    assert nemo.balance() == before


def test_missing_attribution_is_402(nemo: Nemo) -> None:
    draft = _tiny(nemo)
    headers = {"Authorization": f"Bearer {nemo.token}"}
    body = {"id": "render_x", "sessionId": nemo.session_id, "draft": draft}
    r = nemo.http.post("/api/render/proxy/lambda", json=body, headers=headers)
    assert r.status_code == 402 and r.json()["code"] == 402
    assert stats(nemo.http)["missing_attribution"]["render_submit"] == 1
    assert ATTRIBUTION["X-Skill-Source"] in next(iter(stats(nemo.http)["attribution"]))


def test_a_draft_that_is_not_ready_is_refused(nemo: Nemo) -> None:
    nemo.anonymous()
    nemo.new_session()
    r = submit(nemo, "render_empty", {"t": [{"tt": 0, "sg": []}]})
    assert r.status_code == 400 and r.json()["code"] == 400
    assert "generate" in r.json()["message"]


def test_unknown_session_and_unknown_render(nemo: Nemo) -> None:
    draft = _tiny(nemo)
    nemo.session_id = "nope"
    assert submit(nemo, "render_y", draft).json()["code"] == 1002
    r = nemo.get("/api/render/proxy/lambda/render_none")
    assert r.status_code == 404 and r.json()["code"] == 404


def test_download_before_completion_is_409(nemo: Nemo) -> None:
    draft = _tiny(nemo)
    submit(nemo, "render_early", draft)
    r = nemo.get("/api/render/proxy/render_early/download")
    assert r.status_code == 409 and r.json()["code"] == 409
    poll(nemo, "render_early")
