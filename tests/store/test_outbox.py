from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.store import (
    ApiKey,
    Database,
    EventSpec,
    LeaseLost,
    add_event,
    claim_deliveries,
    load_delivery,
    mark_dead,
    mark_succeeded,
    schedule_retry,
)
from gateway.store.models import utcnow


def _event(db: Database, key: ApiKey, urls: list[str]) -> str:
    with db.write() as session:
        spec = EventSpec("video.completed", {"ok": True}, key.id, None, urls)
        return add_event(session, spec).id


def test_claim_load_and_succeed(db: Database, api_key: ApiKey) -> None:
    event_id = _event(db, api_key, ["https://h.example/1"])
    now = utcnow() + timedelta(seconds=1)
    (claim,) = claim_deliveries(db, "d1", now, limit=10, lease_seconds=30)
    assert claim.id.startswith("dlv_")
    assert claim_deliveries(db, "d2", now, limit=10, lease_seconds=30) == []
    with db.session() as session:
        loaded = load_delivery(session, claim.id)
        assert load_delivery(session, "dlv_missing") is None
    assert loaded is not None
    delivery, event = loaded
    assert (event.id, event.type, event.payload) == (event_id, "video.completed", {"ok": True})
    assert delivery.url == "https://h.example/1"

    mark_succeeded(db, claim, 200, now=now)
    with db.session() as session:
        delivery, _ = load_delivery(session, claim.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    assert delivery.delivered_at == now and delivery.lease_owner is None
    # Finished deliveries are never claimed again.
    assert claim_deliveries(db, "d1", now + timedelta(days=1), limit=10, lease_seconds=30) == []


def test_retry_then_dead(db: Database, api_key: ApiKey) -> None:
    _event(db, api_key, ["https://h.example/1"])
    now = utcnow() + timedelta(seconds=1)
    (claim,) = claim_deliveries(db, "d1", now, limit=10, lease_seconds=30)
    retry_at = now + timedelta(minutes=1)
    schedule_retry(db, claim, 503, "Service Unavailable" * 500, retry_at)
    with db.session() as session:
        delivery, _ = load_delivery(session, claim.id)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        "failed",
        1,
        retry_at,
    )
    assert len(delivery.last_error) == 2000
    assert claim_deliveries(db, "d1", now + timedelta(seconds=59), 10, 30) == []

    (again,) = claim_deliveries(db, "d2", retry_at, limit=10, lease_seconds=30)
    assert again.token == claim.token + 1
    with pytest.raises(LeaseLost):
        mark_succeeded(db, claim, 200)  # the first dispatcher's claim is stale
    mark_dead(db, again, None, "connection refused")
    with db.session() as session:
        delivery, _ = load_delivery(session, claim.id)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("dead", 2, None)
    assert delivery.last_error == "connection refused"
    assert claim_deliveries(db, "d3", retry_at + timedelta(days=9), 10, 30) == []


def test_one_delivery_per_distinct_url(db: Database, api_key: ApiKey) -> None:
    _event(db, api_key, ["https://a.example", "https://b.example", "https://a.example"])
    _event(db, api_key, [])
    claims = claim_deliveries(db, "d", utcnow() + timedelta(seconds=1), 10, 30)
    assert len(claims) == 2
