"""Media reach the agent: multipart and URL uploads, checked before any of it goes upstream."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.agent_helpers import WAIT
from tests.e2e.conftest import Stack
from tests.processes import static_site

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


@pytest.fixture
def media_server(tmp_path: Path) -> Iterator[str]:
    """A local HTTP server for the gateway to fetch from (private URLs are allowed in tests)."""
    (tmp_path / "song.mp3").write_bytes(b"ID3" + b"\x00" * 5000)
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    with static_site(tmp_path) as url:
        yield url


def test_multipart_upload_is_used_by_a_new_video(stack: Stack) -> None:
    with stack.client() as api:
        r = api.post("/v1/uploads", files={"file": ("beach.png", PNG, "image/png")})
        assert r.status_code == 201, r.text
        upload = r.json()
        assert (upload["format"], upload["media_type"]) == ("png", "image")
        assert upload["size_bytes"] == len(PNG)
        assert upload["sha256"] == hashlib.sha256(PNG).hexdigest()
        before = stack.stats()["requests"].get("upload", 0)
        video = api.post(
            "/v1/videos",
            json={"prompt": "a slideshow of my beach photo", "upload_ids": [upload["id"]]},
            headers=WAIT,
        ).json()
    assert video["status"] == "succeeded", video
    assert stack.stats()["requests"]["upload"] == before + 1
    assert "photo" in video["reply"]  # the agent saw the uploaded picture


def test_url_upload_is_fetched_by_the_gateway(stack: Stack, media_server: str) -> None:
    with stack.client() as api:
        r = api.post("/v1/uploads", json={"url": f"{media_server}/song.mp3"})
        assert r.status_code == 201, r.text
        upload = r.json()
        assert (upload["format"], upload["media_type"], upload["size_bytes"]) == (
            "mp3",
            "audio",
            5003,
        )
        sid = api.post("/v1/sessions").json()["id"]
        msg = api.post(
            f"/v1/sessions/{sid}/messages",
            json={"text": "make a 4-second video of waves", "upload_ids": [upload["id"]]},
            headers=WAIT,
        ).json()
    assert msg["status"] == "succeeded" and msg["upload_ids"] == [upload["id"]]
    assert any(c["track_type"] == "audio" for c in msg["changes"]), msg["changes"]


def test_rejected_formats_are_problems_before_anything_goes_upstream(
    stack: Stack, media_server: str
) -> None:
    before = stack.stats()["requests"].get("upload", 0)
    with stack.client() as api:
        text = api.post("/v1/uploads", files={"file": ("notes.txt", b"hello", "text/plain")})
        pdf = api.post("/v1/uploads", json={"url": f"{media_server}/notes.pdf"})
        video = api.post(
            "/v1/videos", json={"prompt": "x", "media_urls": [f"{media_server}/notes.pdf"]}
        )
        unknown = api.post("/v1/videos", json={"prompt": "x", "upload_ids": ["upl_nope"]})
    for r in (text, pdf, video):
        assert r.status_code == 415, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "unsupported_media" and "mp4" in r.json()["accepted_formats"]
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "upload_ids"
    assert stack.stats()["requests"].get("upload", 0) == before
