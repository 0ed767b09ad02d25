"""Create, read, list and cancel videos; owners only."""

from __future__ import annotations

import time

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.store.models import ChatSession, Delivery, Event, Video

from .conftest import Key, count, services

PROMPT = {"prompt": "A red fox running through snow, cinematic"}


def create(client: FlaskClient, key: Key, body: dict | None = None, **headers: str):
    return client.post("/v1/videos", json=body or PROMPT, headers={**key.headers, **headers})


def test_create_returns_202_with_location_and_a_queued_video(
    app: Flask, client: FlaskClient, key: Key
) -> None:
    body = {
        **PROMPT,
        "duration_seconds": 10,
        "aspect_ratio": "9:16",
        "resolution": "1080p",
        "language": "en",
        "media_urls": ["https://example.com/logo.png"],
        "webhook_url": "https://hooks.example.com/nemo",
        "webhook_events_filter": ["progress", "completed"],
        "metadata": {"order": 42},
    }
    response = create(client, key, body)
    assert response.status_code == 202
    video = response.get_json()
    assert response.headers["Location"] == f"http://localhost/v1/videos/{video['id']}"
    assert video["id"].startswith("vid_")
    assert video["status"] == "queued"
    assert video["aspect_ratio"] == "9:16"
    assert video["duration_seconds"] == 10
    assert video["metadata"] == {"order": 42}
    assert video["output"] is None
    with services(app).db.session() as session:
        row = session.get(Video, video["id"])
        assert row.phase == "session"
        assert row.due_at is not None
        assert row.params["media_urls"] == ["https://example.com/logo.png"]
        assert session.get(ChatSession, row.session_id).api_key_id == key.id


def test_create_wakes_the_worker(app: Flask, client: FlaskClient, key: Key) -> None:
    woken = []
    services(app).wake = lambda: woken.append(True)
    create(client, key)
    assert woken == [True]


def test_get_returns_the_video_and_other_keys_get_404(
    client: FlaskClient, key: Key, other_key: Key
) -> None:
    video_id = create(client, key).get_json()["id"]
    response = client.get(f"/v1/videos/{video_id}", headers=key.headers)
    assert response.status_code == 200
    assert response.get_json()["id"] == video_id
    foreign = client.get(f"/v1/videos/{video_id}", headers=other_key.headers)
    assert foreign.status_code == 404
    assert foreign.mimetype == "application/problem+json"
    assert foreign.get_json()["code"] == "not_found"
    assert client.get("/v1/videos/vid_missing", headers=key.headers).status_code == 404


def test_list_pages_newest_first(client: FlaskClient, key: Key, other_key: Key) -> None:
    ids = [create(client, key, {"prompt": f"video {i}"}).get_json()["id"] for i in range(5)]
    create(client, other_key)
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/videos", query_string=query, headers=key.headers).get_json()
        seen += [v["id"] for v in page["data"]]
        assert page["has_more"] == (page["next_cursor"] is not None)
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert seen == list(reversed(ids))


def test_list_filters_by_status(client: FlaskClient, key: Key) -> None:
    first = create(client, key).get_json()["id"]
    second = create(client, key).get_json()["id"]
    client.post(f"/v1/videos/{first}/cancel", headers=key.headers)
    canceled = client.get("/v1/videos?status=canceled", headers=key.headers).get_json()
    queued = client.get("/v1/videos?status=queued", headers=key.headers).get_json()
    assert [v["id"] for v in canceled["data"]] == [first]
    assert [v["id"] for v in queued["data"]] == [second]


def test_list_refuses_bad_parameters(client: FlaskClient, key: Key) -> None:
    for query in ("limit=0", "limit=101", "limit=x", "status=done", "cursor=%21%21"):
        response = client.get(f"/v1/videos?{query}", headers=key.headers)
        assert response.status_code == 400, query
        assert response.get_json()["code"] == "invalid_parameter"


def test_cancel_queued_video_is_immediate_with_an_outbox_event(
    app: Flask, client: FlaskClient, key: Key
) -> None:
    body = {**PROMPT, "webhook_url": "https://hooks.example.com/x"}
    video_id = create(client, key, body).get_json()["id"]
    response = client.post(f"/v1/videos/{video_id}/cancel", headers=key.headers)
    assert response.status_code == 200
    assert response.get_json()["status"] == "canceled"
    with services(app).db.session() as session:
        row = session.get(Video, video_id)
        assert (row.status, row.due_at) == ("canceled", None)
        assert row.completed_at is not None
        event = session.scalars(select(Event).where(Event.video_id == video_id)).one()
        assert event.type == "video.canceled"
        assert event.payload["type"] == "video.canceled"
        assert event.payload["data"]["status"] == "canceled"
        delivery = session.scalars(select(Delivery).where(Delivery.event_id == event.id)).one()
        assert delivery.url == "https://hooks.example.com/x"


def test_cancel_without_webhook_records_the_event_but_no_delivery(
    app: Flask, client: FlaskClient, key: Key
) -> None:
    video_id = create(client, key).get_json()["id"]
    client.post(f"/v1/videos/{video_id}/cancel", headers=key.headers)
    assert count(app, Event) == 1
    assert count(app, Delivery) == 0


def test_cancel_of_a_leased_video_is_requested(app: Flask, client: FlaskClient, key: Key) -> None:
    from datetime import UTC, datetime, timedelta

    video_id = create(client, key).get_json()["id"]
    with services(app).db.write() as session:
        row = session.get(Video, video_id)
        row.status, row.lease_owner = "generating", "worker-1"
        row.lease_expires_at = datetime.now(UTC) + timedelta(seconds=30)
    response = client.post(f"/v1/videos/{video_id}/cancel", headers=key.headers)
    assert response.status_code == 202
    assert response.get_json()["status"] == "generating"
    with services(app).db.session() as session:
        assert session.get(Video, video_id).cancel_requested is True
    assert count(app, Event) == 0


def test_cancel_of_a_finished_video_is_409(client: FlaskClient, key: Key) -> None:
    video_id = create(client, key).get_json()["id"]
    client.post(f"/v1/videos/{video_id}/cancel", headers=key.headers)
    again = client.post(f"/v1/videos/{video_id}/cancel", headers=key.headers)
    assert again.status_code == 409
    assert again.get_json()["code"] == "video_finished"


def test_cancel_of_another_keys_video_is_404(
    app: Flask, client: FlaskClient, key: Key, other_key: Key
) -> None:
    video_id = create(client, key).get_json()["id"]
    response = client.post(f"/v1/videos/{video_id}/cancel", headers=other_key.headers)
    assert response.status_code == 404
    with services(app).db.session() as session:
        assert session.get(Video, video_id).status == "queued"


def test_prefer_wait_times_out_with_202_and_retry_after(client: FlaskClient, key: Key) -> None:
    started = time.monotonic()
    response = create(client, key, Prefer="wait=1")
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 5
    assert response.status_code == 202
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Preference-Applied"] == "wait=1"
    assert "Location" in response.headers


def test_prefer_wait_is_clamped_to_the_configured_maximum(
    app: Flask, client: FlaskClient, key: Key
) -> None:
    services(app).config = services(app).config.with_overrides(max_wait_seconds=1)
    response = create(client, key, Prefer="respond-async, wait=600")
    assert response.headers["Preference-Applied"] == "wait=1"


def test_prefer_wait_returns_200_once_the_video_finishes(
    app: Flask, client: FlaskClient, key: Key
) -> None:
    import threading

    def finish_soon() -> None:
        time.sleep(0.3)
        with services(app).db.write() as session:
            for row in session.scalars(select(Video)):
                row.status = "failed"
                row.error = {"code": "upstream_error", "message": "boom"}

    threading.Thread(target=finish_soon).start()
    response = create(client, key, Prefer="wait=5")
    assert response.status_code == 200
    assert response.get_json()["status"] == "failed"


def test_cancel_after_is_stored(app: Flask, client: FlaskClient, key: Key) -> None:
    video_id = create(client, key, **{"Cancel-After": "600"}).get_json()["id"]
    # The spec's own example, and a far date: a deadline has no upper bound.
    example = create(client, key, **{"Cancel-After": "2030-01-01T00:00:00Z"}).get_json()["id"]
    far = create(client, key, **{"Cancel-After": "2999-01-01T00:00:00Z"}).get_json()["id"]
    with services(app).db.session() as session:
        assert session.get(Video, video_id).cancel_after is not None
        stored = session.get(Video, example).cancel_after
        assert (stored.year, stored.month, stored.day, stored.hour) == (2030, 1, 1, 0)
        assert session.get(Video, far).cancel_after.year == 2999


def test_bad_cancel_after_is_400_and_creates_nothing(
    app: Flask, client: FlaskClient, key: Key
) -> None:
    response = create(client, key, **{"Cancel-After": "tomorrow-ish"})
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_header"
    assert count(app, Video) == 0
