"""Sessions, messages, edits, exports, uploads and credits at the HTTP layer (no upstream run)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from gateway.config import GatewayConfig

from .conftest import Key

LIMIT = 4096
# The first bytes of a QuickTime and an MP4 file: uploads are judged by content too.
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  "
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


@pytest.fixture
def config(tmp_path: Path) -> GatewayConfig:
    return GatewayConfig(data_dir=tmp_path / "data", max_upload_bytes=LIMIT)


def _upload(client: FlaskClient, key: Key, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return client.post(
        "/v1/uploads",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        headers=key.headers,
    )


def test_multipart_upload_within_the_limit_is_stored(client: FlaskClient, key: Key, config) -> None:  # type: ignore[no-untyped-def]
    r = _upload(client, key, "clip.MOV", MOV.ljust(LIMIT, b"x"))
    assert r.status_code == 201
    body = r.json
    assert (body["format"], body["media_type"], body["size_bytes"]) == ("mov", "video", LIMIT)
    assert (config.data_dir / "uploads" / f"{body['id']}.mov").stat().st_size == LIMIT


def test_upload_over_the_limit_is_media_too_large(client: FlaskClient, key: Key, config) -> None:  # type: ignore[no-untyped-def]
    r = _upload(client, key, "clip.mp4", MP4.ljust(LIMIT + 1, b"x"))
    assert r.status_code == 413 and r.content_type == "application/problem+json"
    assert r.json["code"] == "media_too_large" and r.json["max_bytes"] == LIMIT
    # The partial file was removed.
    assert [p.name for p in (config.data_dir / "uploads").iterdir()] == []


def test_upload_refused_on_content_length_before_reading(client: FlaskClient, key: Key) -> None:
    r = _upload(client, key, "clip.mp4", b"x" * (LIMIT + 100 * 1024))
    assert r.status_code == 413 and r.json["code"] == "media_too_large"


def test_upload_format_and_shape_problems(client: FlaskClient, key: Key) -> None:
    wrong = _upload(client, key, "slides.pptx", b"x")
    assert wrong.status_code == 415 and wrong.json["code"] == "unsupported_media"
    assert "webm" in wrong.json["accepted_formats"]
    empty = client.post(
        "/v1/uploads", data={"note": "hi"}, content_type="multipart/form-data", headers=key.headers
    )
    assert empty.status_code == 400 and empty.json["code"] == "bad_request"
    private = client.post(
        "/v1/uploads", json={"url": "http://127.0.0.1:9/a.png"}, headers=key.headers
    )
    assert private.status_code == 422 and private.json["errors"][0]["field"] == "url"


def test_sessions_exports_and_edits_refuse_clearly(
    client: FlaskClient, key: Key, other_key: Key
) -> None:
    created = client.post("/v1/sessions", headers=key.headers)
    assert created.status_code == 201 and created.json["status"] == "idle"
    sid = created.json["id"]
    assert created.json["timeline"] == {
        "ready": False,
        "summary": "Timeline (0 tracks): empty",
        "duration_seconds": 0.0,
        "tracks": [],
    }
    assert client.get(f"/v1/sessions/{sid}", headers=other_key.headers).status_code == 404
    export = client.post(f"/v1/sessions/{sid}/exports", headers=key.headers)
    assert export.status_code == 409 and export.json["code"] == "draft_not_ready"
    video = client.post("/v1/videos", json={"prompt": "a cat"}, headers=key.headers).json
    edit = client.post(
        f"/v1/videos/{video['id']}/edits", json={"instruction": "add music"}, headers=key.headers
    )
    assert edit.status_code == 409 and edit.json["code"] == "parent_not_succeeded"
    blank = client.post(
        f"/v1/videos/{video['id']}/edits", json={"instruction": "  "}, headers=key.headers
    )
    assert blank.status_code == 422


def test_a_generation_holds_its_session_turn(client: FlaskClient, key: Key) -> None:
    video = client.post("/v1/videos", json={"prompt": "a cat"}, headers=key.headers).json
    r = client.post(
        f"/v1/sessions/{video['session_id']}/messages",
        json={"text": "add music"},
        headers=key.headers,
    )
    assert r.status_code == 409 and r.json["code"] == "session_busy"
    assert r.json["busy_with"] == video["id"] and r.headers["Retry-After"]


def test_messages_are_not_videos(client: FlaskClient, key: Key) -> None:
    sid = client.post("/v1/sessions", headers=key.headers).json["id"]
    r = client.post(f"/v1/sessions/{sid}/messages", json={"text": "hello"}, headers=key.headers)
    assert r.status_code == 202 and r.json["status"] == "queued"
    mid = r.json["id"]
    assert mid.startswith("turn_") and r.headers["Location"].endswith(f"/messages/{mid}")
    assert client.get(f"/v1/videos/{mid}", headers=key.headers).status_code == 404
    listed = client.get("/v1/videos", headers=key.headers).json["data"]
    assert mid not in [v["id"] for v in listed]
    assert client.get(f"/v1/sessions/{sid}", headers=key.headers).json["busy_with"] == mid


def test_credits_requests_are_answered_by_the_gateway(client: FlaskClient, key: Key) -> None:
    sid = client.post("/v1/sessions", headers=key.headers).json["id"]
    r = client.post(
        f"/v1/sessions/{sid}/messages", json={"text": "check my credits"}, headers=key.headers
    )
    assert r.status_code == 200 and r.json["route"] == "credits"
    assert r.json["credits"] == {"object": "credits", "available": 90, "frozen": 10, "total": 100}
    status = client.post(
        f"/v1/sessions/{sid}/messages", json={"text": "status?"}, headers=key.headers
    )
    assert status.json["reply"] == "Timeline (0 tracks): empty"
    credits = client.get("/v1/credits", headers=key.headers)
    assert credits.json == {"object": "credits", "available": 90, "frozen": 10, "total": 100}
