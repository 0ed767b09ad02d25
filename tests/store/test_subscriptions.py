"""Subscriptions in the store: fan-out in add_event, health, the delivery log, replays."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from gateway.store import ApiKey, Database, EventSpec, add_event, claim_deliveries, create_key
from gateway.store import delivery_log as log
from gateway.store import subscriptions as subs
from gateway.store.models import Delivery, WebhookSubscription, utcnow
from gateway.store.outbox import AttemptLog, add_attempt, schedule_retry


def _subscription(db: Database, key: ApiKey, events: list[str], status: str = "active") -> str:
    with db.write() as session:
        row = WebhookSubscription(
            api_key_id=key.id,
            url=f"https://{len(events)}.example/{status}",
            events=events,
            secret="whsec_c2VjcmV0",
            status=status,
        )
        session.add(row)
        session.flush()
        return row.id


def _event(db: Database, key: ApiKey, type_: str, urls=(), optional=False) -> str | None:
    with db.write() as session:
        event = add_event(session, EventSpec(type_, {"t": type_}, key.id, None, urls, optional))
        return None if event is None else event.id


def _targets(db: Database, event_id: str) -> set[tuple[str | None, str]]:
    with db.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.event_id == event_id))
        return {(row.subscription_id, row.url) for row in rows}


def test_fan_out_to_matching_active_subscriptions_of_the_key(db: Database, api_key) -> None:
    wanted = _subscription(db, api_key, ["video.completed", "video.failed"])
    _subscription(db, api_key, ["video.progress"])
    _subscription(db, api_key, ["video.completed"], status="disabled")
    other_key = create_key(db, "other")[0]
    _subscription(db, other_key, ["video.completed"])
    event_id = _event(db, api_key, "video.completed", ["https://mine.example/h"])
    assert event_id is not None
    assert _targets(db, event_id) == {
        (None, "https://mine.example/h"),
        (wanted, "https://2.example/active"),
    }


def test_optional_events_are_recorded_only_when_someone_receives_them(db, api_key) -> None:
    assert _event(db, api_key, "video.progress", optional=True) is None
    subscriber = _subscription(db, api_key, ["video.progress"])
    event_id = _event(db, api_key, "video.progress", optional=True)
    assert event_id is not None
    assert {sub for sub, _ in _targets(db, event_id)} == {subscriber}
    # A mandatory (terminal) event is kept even without any receiver.
    assert _event(db, api_key, "video.canceled") is not None


def test_failing_for_five_days_disables_and_a_success_resets(db: Database, api_key) -> None:
    sub_id = _subscription(db, api_key, ["video.completed"])
    start = utcnow()
    with db.write() as session:
        assert subs.record_failure(session, sub_id, start) is None
        assert subs.record_failure(session, sub_id, start + timedelta(days=4)) is None
        subs.record_success(session, sub_id, start + timedelta(days=4, hours=1))
        assert subs.record_failure(session, sub_id, start + timedelta(days=5)) is None
    with db.session() as session:
        row = session.get(WebhookSubscription, sub_id)
        assert row is not None and row.failing_since == start + timedelta(days=5)
    with db.write() as session:
        reason = subs.record_failure(session, sub_id, start + timedelta(days=10))
    assert reason is not None and "5 days" in reason
    with db.session() as session:
        row = session.get(WebhookSubscription, sub_id)
        assert row is not None
        assert (row.status, row.disabled_reason) == ("disabled", reason)


def test_log_pages_attempts_and_replays(db: Database, api_key) -> None:
    sub_id = _subscription(db, api_key, ["video.failed"])
    for _ in range(3):
        _event(db, api_key, "video.failed")
    now = utcnow() + timedelta(seconds=1)
    claims = claim_deliveries(db, "w", now, limit=10, lease_seconds=30)
    assert len(claims) == 3
    first = claims[0]
    with db.write() as session:
        retry_at = now + timedelta(seconds=5)
        schedule_retry(session, first, 500, "HTTP 500", retry_at)
        add_attempt(session, first.id, AttemptLog(now, 500, 12, "HTTP 500"), retry_at)
    with db.session() as session:
        page = log.deliveries_page(session, subscription_id=sub_id, limit=2)
        rest = log.deliveries_page(
            session, subscription_id=sub_id, limit=2, cursor=page.next_cursor
        )
        entry = log.delivery_entry(session, api_key.id, first.id)
    assert [len(page.items), len(rest.items), rest.next_cursor] == [2, 1, None]
    assert entry is not None
    (attempt,) = entry.attempts
    assert (attempt.status_code, attempt.latency_ms, attempt.error) == (500, 12, "HTTP 500")
    assert attempt.next_retry_at == retry_at
    with db.write() as session:
        # Two are still leased (being sent): only the released one is replayed.
        assert log.replay_failed(session, sub_id, now - timedelta(hours=1), now) == 1
        assert not log.replay_one(session, claims[1].id, now)
    with db.session() as session:
        row = session.get(Delivery, first.id)
        assert row is not None
        assert (row.status, row.next_attempt_at, row.attempts) == ("pending", now, 1)
