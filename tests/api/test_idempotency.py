"""Idempotency-Key on POST /v1/videos: replay, mismatch, in flight, failures not kept."""

from __future__ import annotations

import threading

from flask import Flask
from flask.testing import FlaskClient

from gateway.api.idempotency import request_hash
from gateway.store.models import IdempotencyKey, Video

from .conftest import Key, count, services


def post(client: FlaskClient, key: Key, body: dict, idem: str, **headers: str):
    return client.post(
        "/v1/videos", json=body, headers={**key.headers, "Idempotency-Key": idem, **headers}
    )


def test_same_key_and_body_replays_the_first_response(
    app: Flask, client: FlaskClient, key: Key
) -> None:
    first = post(client, key, {"prompt": "a", "metadata": {"x": 1}}, "order-1")
    again = post(client, key, {"metadata": {"x": 1}, "prompt": "a"}, "order-1")  # key order
    assert first.status_code == again.status_code == 202
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(app, Video) == 1


def test_same_key_different_body_is_422(app: Flask, client: FlaskClient, key: Key) -> None:
    post(client, key, {"prompt": "a"}, "order-2")
    response = post(client, key, {"prompt": "b"}, "order-2")
    assert response.status_code == 422
    assert response.get_json()["code"] == "idempotency_key_reused"
    assert count(app, Video) == 1


def test_keys_are_scoped_per_api_key(
    app: Flask, client: FlaskClient, key: Key, other_key: Key
) -> None:
    a = post(client, key, {"prompt": "a"}, "shared")
    b = post(client, other_key, {"prompt": "a"}, "shared")
    assert a.get_json()["id"] != b.get_json()["id"]
    assert "Idempotent-Replayed" not in b.headers


def test_in_flight_key_is_409(app: Flask, client: FlaskClient, key: Key) -> None:
    from gateway.store import idempotency

    body = b'{"prompt": "slow"}'
    digest = request_hash("POST", "/v1/videos", body)
    idempotency.begin(services(app).db, key.id, "busy", "POST", "/v1/videos", digest, _now())
    response = post(client, key, {"prompt": "slow"}, "busy")
    assert response.status_code == 409
    assert response.get_json()["code"] == "idempotency_key_in_flight"
    assert count(app, Video) == 0


def test_concurrent_requests_with_one_key_create_one_video(app: Flask, key: Key) -> None:
    results: list[int] = []

    def send() -> None:
        client = app.test_client()
        results.append(post(client, key, {"prompt": "race"}, "race-1", Prefer="wait=1").status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert count(app, Video) == 1
    assert sorted(set(results)) in ([202], [202, 409])


def test_failed_request_does_not_keep_the_key(app: Flask, client: FlaskClient, key: Key) -> None:
    bad = post(client, key, {"prompt": ""}, "fix-me")
    assert bad.status_code == 422
    assert count(app, IdempotencyKey) == 0
    good = post(client, key, {"prompt": "fixed"}, "fix-me")
    assert good.status_code == 202


def test_overlong_key_is_400(app: Flask, client: FlaskClient, key: Key) -> None:
    response = post(client, key, {"prompt": "a"}, "k" * 256)
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_header"
    assert count(app, Video) == 0


def _now():
    from gateway.store.models import utcnow

    return utcnow()


def _crashed_request(app: Flask, key: Key, idem: str, body: bytes, *, created: bool) -> str | None:
    """What a gateway killed mid-request leaves: a record in flight, its owner dead."""
    import socket

    from gateway.store import idempotency
    from gateway.videos_service import create_video

    db = services(app).db
    dead = f"{socket.gethostname()}:{2**22 + 4321}:deadbeef0000"
    digest = request_hash("POST", "/v1/videos", body)
    idempotency.begin(db, key.id, idem, "POST", "/v1/videos", digest, _now(), owner=dead)
    if not created:
        return None
    with idempotency.serving(idempotency.Pending(key.id, idem, dead, "vid_")):
        return create_video(db, key.id, {"prompt": "crash"}).video.id


def test_a_retry_after_a_crash_returns_the_video_it_made(
    app: Flask, client: FlaskClient, key: Key
) -> None:
    made = _crashed_request(app, key, "crash-1", b'{"prompt": "crash"}', created=True)
    again = post(client, key, {"prompt": "crash"}, "crash-1", Prefer="wait=1")
    assert again.status_code in (200, 202), again.get_json()
    assert again.get_json()["id"] == made
    assert count(app, Video) == 1
    replay = post(client, key, {"prompt": "crash"}, "crash-1")
    assert replay.get_json()["id"] == made and replay.headers["Idempotent-Replayed"] == "true"


def test_a_retry_after_a_crash_before_the_create_runs_the_request(
    app: Flask, client: FlaskClient, key: Key
) -> None:
    _crashed_request(app, key, "crash-2", b'{"prompt": "crash"}', created=False)
    again = post(client, key, {"prompt": "crash"}, "crash-2")
    assert again.status_code == 202
    assert count(app, Video) == 1
