"""``/v1/webhooks`` subscriptions and the delivery log, through the Flask test client."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, update

from gateway import subscriptions_service
from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.store.models import Delivery, WebhookSubscription, utcnow

from .conftest import CheckedClient, Key, make_key, services

RECEIVER = "https://hooks.example.com/catch/1"
SSRF_URLS = [
    "http://127.0.0.1/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://10.0.0.1/hook",
    "http://100.64.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://2130706433/hook",
]


def subscribe(client, key: Key, events=("video.canceled",), url=RECEIVER, **extra) -> dict:
    body = {"url": url, "events": list(events), **extra}
    response = client.post("/v1/webhooks", json=body, headers=key.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def canceled_video(client, key: Key, **extra) -> str:
    body = {"prompt": "a cat", **extra}
    video_id = client.post("/v1/videos", json=body, headers=key.headers).get_json()["id"]
    assert client.post(f"/v1/videos/{video_id}/cancel", headers=key.headers).status_code == 200
    return video_id


def test_create_shows_the_secret_once(client, key) -> None:
    response = client.post(
        "/v1/webhooks",
        json={"url": RECEIVER, "events": ["video.failed", "video.completed"], "description": "z"},
        headers=key.headers,
    )
    assert response.status_code == 201
    created = response.get_json()
    assert created["id"].startswith("whk_") and created["secret"].startswith("whsec_")
    assert created["events"] == ["video.completed", "video.failed"]  # canonical order
    assert (created["status"], created["description"]) == ("active", "z")
    assert response.headers["Location"].endswith(f"/v1/webhooks/{created['id']}")
    assert response.headers["Cache-Control"] == "no-store"
    read = client.get(f"/v1/webhooks/{created['id']}", headers=key.headers).get_json()
    listed = client.get("/v1/webhooks", headers=key.headers).get_json()
    assert "secret" not in read and created["secret"] not in str(listed)
    assert [item["id"] for item in listed["data"]] == [created["id"]]


def test_the_key_secret_route_keeps_its_meaning(client, key) -> None:
    subscribe(client, key)
    secret = client.get("/v1/webhooks/secret", headers=key.headers).get_json()
    assert secret["object"] == "webhook_secret"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": RECEIVER, "events": ["video.exploded"]}, "events.0"),
        ({"url": RECEIVER, "events": []}, "events"),
        ({"events": ["video.completed"]}, "url"),
        ({"url": "ftp://hooks.example.com/x", "events": ["video.completed"]}, "url"),
        ({"url": "https://u:p@hooks.example.com/", "events": ["video.completed"]}, "url"),
        ({"url": RECEIVER, "events": ["video.completed"], "extra": 1}, "extra"),
    ],
)
def test_invalid_bodies(client, key, body, field) -> None:
    response = client.post("/v1/webhooks", json=body, headers=key.headers)
    assert response.status_code == 422
    assert field in [error["field"] for error in response.get_json()["errors"]]


@pytest.mark.parametrize("url", SSRF_URLS)
def test_private_address_literals_are_refused(client, key, url) -> None:
    response = client.post(
        "/v1/webhooks", json={"url": url, "events": ["video.completed"]}, headers=key.headers
    )
    assert response.status_code == 422
    (error,) = response.get_json()["errors"]
    assert error["field"] == "url" and error["message"].startswith("host is a ")
    assert url.split("/")[2] not in error["message"]  # never echo the URL


def test_private_literals_are_accepted_when_private_urls_are_allowed(tmp_path: Path) -> None:
    app = create_app(GatewayConfig(data_dir=tmp_path / "d", allow_private_urls=True))
    app.test_client_class = CheckedClient
    try:
        key = make_key(app, "k")
        subscribe(app.test_client(), key, url="http://127.0.0.1:9/hook")
    finally:
        services(app).close()


def test_patch_disable_and_reenable(client, key, other_key) -> None:
    sub = subscribe(client, key)
    path = f"/v1/webhooks/{sub['id']}"
    changed = client.patch(
        path,
        json={"url": "https://other.example/h", "events": ["video.progress"], "description": None},
        headers=key.headers,
    ).get_json()
    assert (changed["url"], changed["events"], changed["description"]) == (
        "https://other.example/h",
        ["video.progress"],
        None,
    )
    disabled = client.patch(path, json={"status": "disabled"}, headers=key.headers).get_json()
    assert (disabled["status"], disabled["disabled_reason"]) == (
        "disabled",
        "disabled through the API",
    )
    enabled = client.patch(path, json={"status": "active"}, headers=key.headers).get_json()
    assert (enabled["status"], enabled["disabled_reason"], enabled["failing_since"]) == (
        "active",
        None,
        None,
    )
    assert client.patch(path, json={"status": "x"}, headers=key.headers).status_code == 422
    bad_url = client.patch(path, json={"url": "http://10.0.0.1/"}, headers=key.headers)
    assert bad_url.status_code == 422
    assert client.get(path, headers=other_key.headers).status_code == 404
    assert client.patch(path, json={}, headers=other_key.headers).status_code == 404


def test_delete_stops_open_deliveries_and_keeps_the_log(app, client, key) -> None:
    sub = subscribe(client, key)
    video_id = canceled_video(client, key)
    assert client.delete(f"/v1/webhooks/{sub['id']}", headers=key.headers).status_code == 204
    assert client.get(f"/v1/webhooks/{sub['id']}", headers=key.headers).status_code == 404
    assert client.delete(f"/v1/webhooks/{sub['id']}", headers=key.headers).status_code == 404
    (delivery,) = client.get(f"/v1/videos/{video_id}/deliveries", headers=key.headers).get_json()[
        "data"
    ]
    assert (delivery["status"], delivery["last_error"]) == (
        "dead",
        "the webhook subscription was deleted",
    )


def test_rotate_secret_keeps_the_old_one_for_a_day(app, client, key) -> None:
    sub = subscribe(client, key)
    response = client.post(f"/v1/webhooks/{sub['id']}/rotate-secret", headers=key.headers)
    assert response.status_code == 200
    rotated = response.get_json()
    assert rotated["secret"] != sub["secret"] and rotated["secret"].startswith("whsec_")
    grace = rotated["previous_secret_expires_at"]
    assert grace is not None and grace > sub["created_at"]
    with services(app).db.session() as session:
        row = session.get(WebhookSubscription, sub["id"])
        assert row is not None
        keyring = services(app).db.keyring  # stored sealed, opened to sign
        secrets = [
            keyring.open(s) for s in subscriptions_service.store.signing_secrets(row, utcnow())
        ]
        grace_over = utcnow() + timedelta(hours=25)
        later = [
            keyring.open(s) for s in subscriptions_service.store.signing_secrets(row, grace_over)
        ]
    assert secrets == [rotated["secret"], sub["secret"]]
    assert later == [rotated["secret"]]


def test_events_fan_out_to_matching_active_subscriptions_and_the_video_url(client, key) -> None:
    wanted = subscribe(client, key, events=["video.canceled", "video.completed"])
    subscribe(client, key, events=["video.completed"])  # another event type
    paused = subscribe(client, key)
    client.patch(f"/v1/webhooks/{paused['id']}", json={"status": "disabled"}, headers=key.headers)
    video_id = canceled_video(client, key, webhook_url="https://mine.example/hook")
    listed = client.get(f"/v1/videos/{video_id}/deliveries", headers=key.headers).get_json()
    targets = sorted((d["webhook_id"] or "", d["event_type"]) for d in listed["data"])
    assert targets == [("", "video.canceled"), (wanted["id"], "video.canceled")]
    assert {d["status"] for d in listed["data"]} == {"pending"}
    assert len({d["event_id"] for d in listed["data"]}) == 1
    log = client.get(f"/v1/webhooks/{wanted['id']}/deliveries", headers=key.headers).get_json()
    assert [d["video_id"] for d in log["data"]] == [video_id]


def test_other_keys_see_nothing(client, key, other_key) -> None:
    sub = subscribe(client, key)
    video_id = canceled_video(client, key)
    for path in (f"/v1/webhooks/{sub['id']}/deliveries", f"/v1/videos/{video_id}/deliveries"):
        assert client.get(path, headers=other_key.headers).status_code == 404
    delivery_id = client.get(f"/v1/videos/{video_id}/deliveries", headers=key.headers).get_json()[
        "data"
    ][0]["id"]
    retry = client.post(f"/v1/deliveries/{delivery_id}/retry", headers=other_key.headers)
    assert retry.status_code == 404
    assert client.get("/v1/webhooks", headers=other_key.headers).get_json()["data"] == []


def _set_deliveries(app: Flask, **values) -> None:
    with services(app).db.write() as session:
        session.execute(update(Delivery).values(**values))


def test_retry_makes_a_delivery_due_now_unless_it_is_being_sent(app, client, key) -> None:
    subscribe(client, key)
    video_id = canceled_video(client, key)
    _set_deliveries(app, status="dead", next_attempt_at=None, attempts=8)
    delivery_id = client.get(f"/v1/videos/{video_id}/deliveries", headers=key.headers).get_json()[
        "data"
    ][0]["id"]
    response = client.post(f"/v1/deliveries/{delivery_id}/retry", headers=key.headers)
    assert response.status_code == 202
    assert (response.get_json()["status"], response.get_json()["attempt_count"]) == ("pending", 8)
    _set_deliveries(app, lease_owner="w", lease_expires_at=utcnow() + timedelta(minutes=1))
    busy = client.post(f"/v1/deliveries/{delivery_id}/retry", headers=key.headers)
    assert busy.status_code == 409 and busy.get_json()["code"] == "delivery_in_progress"
    missing = client.post("/v1/deliveries/dlv_missing/retry", headers=key.headers)
    assert missing.status_code == 404


def test_recover_replays_failed_and_dead_since(app, client, key) -> None:
    sub = subscribe(client, key)
    for _ in range(2):
        canceled_video(client, key)
    _set_deliveries(app, status="dead", next_attempt_at=None)
    path = f"/v1/webhooks/{sub['id']}/recover"
    future = (utcnow() + timedelta(hours=1)).isoformat()
    assert (
        client.post(path, json={"since": future}, headers=key.headers).get_json()["replayed"] == 0
    )
    since = (utcnow() - timedelta(hours=1)).isoformat()
    response = client.post(path, json={"since": since}, headers=key.headers)
    assert response.status_code == 202
    assert response.get_json() == {
        "object": "webhook_recovery",
        "webhook_id": sub["id"],
        "replayed": 2,
    }
    with services(app).db.session() as session:
        assert set(session.scalars(select(Delivery.status))) == {"pending"}
    naive = client.post(path, json={"since": "2025-01-01T00:00:00"}, headers=key.headers)
    assert naive.status_code == 422
    client.patch(f"/v1/webhooks/{sub['id']}", json={"status": "disabled"}, headers=key.headers)
    disabled = client.post(path, json={"since": since}, headers=key.headers)
    assert disabled.status_code == 409 and disabled.get_json()["code"] == "webhook_disabled"


def test_delivery_log_pages(app, client, key) -> None:
    sub = subscribe(client, key)
    for _ in range(3):
        canceled_video(client, key)
    path = f"/v1/webhooks/{sub['id']}/deliveries"
    first = client.get(path, query_string={"limit": 2}, headers=key.headers).get_json()
    assert len(first["data"]) == 2 and first["has_more"]
    rest = client.get(
        path, query_string={"limit": 2, "cursor": first["next_cursor"]}, headers=key.headers
    ).get_json()
    assert len(rest["data"]) == 1 and not rest["has_more"]
    ids = [d["id"] for d in first["data"] + rest["data"]]
    assert ids == sorted(ids, reverse=True)
    bad = client.get(path, query_string={"cursor": "nope"}, headers=key.headers)
    assert bad.status_code == 400


def test_idempotency_key_replays_the_creation(client, key) -> None:
    headers = {**key.headers, "Idempotency-Key": "sub-1"}
    body = {"url": RECEIVER, "events": ["video.completed"]}
    first = client.post("/v1/webhooks", json=body, headers=headers)
    again = client.post("/v1/webhooks", json=body, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert len(client.get("/v1/webhooks", headers=key.headers).get_json()["data"]) == 1


def test_subscription_limit(client, key, monkeypatch) -> None:
    monkeypatch.setattr(subscriptions_service, "MAX_SUBSCRIPTIONS", 2)
    subscribe(client, key)
    subscribe(client, key)
    response = client.post(
        "/v1/webhooks", json={"url": RECEIVER, "events": ["video.failed"]}, headers=key.headers
    )
    assert response.status_code == 409 and response.get_json()["code"] == "webhook_limit_reached"
