"""The dispatcher with subscriptions: their secrets, rotation, 410, 3xx, Retry-After,
the attempt log, the Svix schedule and the five-day rule, under a clock the test owns."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import NoResultFound
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway import deliveries_service
from gateway.net.guard import UrlGuard
from gateway.store import delivery_log
from gateway.store.db import Database
from gateway.store.keys import create_key, webhook_secret
from gateway.store.models import Delivery, WebhookSubscription
from gateway.store.outbox import EventSpec, add_event
from gateway.webhooks.delivery import Dispatcher
from gateway.webhooks.policy import BACKOFF_SCHEDULE, default_backoff
from gateway.webhooks.signing import new_secret

PAYLOAD = {"type": "video.completed", "timestamp": "2025-01-01T00:00:00Z", "data": {"id": "v"}}


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Receiver:
    url: str
    replies: list[Reply] = field(default_factory=lambda: [Reply()])
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def next_reply(self) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    ref: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ref[0].received.append((self.path, dict(self.headers), body))
            reply = ref[0].next_reply()
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ref.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook"))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield ref[0]
    server.shutdown()
    server.server_close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'gateway.db'}")
    database.upgrade()
    yield database
    database.dispose()


@dataclass
class World:
    db: Database
    key_id: str
    key_secret: str
    clock: list[datetime]

    def subscribe(self, url: str, **values: object) -> WebhookSubscription:
        with self.db.write() as session:
            fields = {"events": ["video.completed"], "secret": new_secret(), **values}
            row = WebhookSubscription(api_key_id=self.key_id, url=url, status="active", **fields)
            session.add(row)
            session.flush()
            return row

    def emit(self) -> str:
        with self.db.write() as session:
            spec = EventSpec("video.completed", PAYLOAD, self.key_id)
            event = add_event(session, spec, now=self.clock[0])
            assert event is not None
            return session.scalars(select(Delivery.id).where(Delivery.event_id == event.id)).one()

    def dispatcher(self, **options: object) -> Dispatcher:
        defaults: dict[str, object] = {
            "owner": "test",
            "url_guard": UrlGuard(allow_private=True),
            "timeout": 2,
            "now": lambda: self.clock[0],
            "backoff": lambda n: default_backoff(n, rand=lambda: 0.5),
        }
        return Dispatcher(self.db, **{**defaults, **options})  # type: ignore[arg-type]

    def subscription(self, sub_id: str) -> WebhookSubscription:
        with self.db.session() as session:
            row = session.get(WebhookSubscription, sub_id)
            assert row is not None
            return row

    def entry(self, delivery_id: str) -> delivery_log.LogEntry:
        with self.db.session() as session:
            entry = delivery_log.delivery_entry(session, self.key_id, delivery_id)
            assert entry is not None
            return entry


@pytest.fixture
def world(db: Database) -> World:
    key, _ = create_key(db, "k")
    return World(db, key.id, webhook_secret(db, key), [datetime.now(UTC)])


def test_signed_with_the_subscription_secret_and_logged(world: World, receiver) -> None:
    receiver.replies = [Reply(200, body=b"thanks " * 400)]
    sub = world.subscribe(receiver.url)
    dlv = world.emit()
    with world.dispatcher() as dispatcher:
        assert dispatcher.run_once() == 1
    (_, headers, body) = receiver.received[0]
    assert Webhook(sub.secret).verify(body, headers) == PAYLOAD
    with pytest.raises(WebhookVerificationError):
        Webhook(world.key_secret).verify(body, headers)
    entry = world.entry(dlv)
    (attempt,) = entry.attempts
    assert (entry.delivery.status, attempt.status_code, attempt.next_retry_at) == (
        "succeeded",
        200,
        None,
    )
    assert attempt.latency_ms is not None and attempt.latency_ms >= 0


def test_the_delivery_log_keeps_no_answer_body(world: World, receiver) -> None:
    """Shown back, a body would let a caller read whatever the gateway can reach."""
    page = b"<h1>internal admin</h1> db_password=hunter2 " * 50
    receiver.replies = [Reply(500, body=page), Reply(200, body=page)]
    world.subscribe(receiver.url)
    dlv = world.emit()
    with world.dispatcher(backoff=lambda n: 0.0) as dispatcher:
        dispatcher.run_once()
        dispatcher.run_once()
    entry = world.entry(dlv)
    shown = json.dumps(deliveries_service.delivery_resource(entry))
    assert [a["status_code"] for a in json.loads(shown)["attempts"]] == [500, 200]
    assert set(json.loads(shown)["attempts"][0]) == {
        "attempted_at",
        "status_code",
        "latency_ms",
        "error",
        "next_retry_at",
    }
    with world.db.session() as session:
        stored = session.execute(text("SELECT * FROM delivery_attempts")).all()
        deliveries = session.execute(text("SELECT * FROM deliveries")).all()
    assert len(stored) == 2
    for text_seen in (shown, repr(stored), repr(deliveries)):
        assert "hunter2" not in text_seen and "internal admin" not in text_seen


def test_during_rotation_both_secrets_sign(world: World, receiver) -> None:
    old, new = new_secret(), new_secret()
    expires = world.clock[0] + timedelta(hours=24)
    world.subscribe(
        receiver.url, secret=new, previous_secret=old, previous_secret_expires_at=expires
    )
    world.emit()
    with world.dispatcher() as dispatcher:
        dispatcher.run_once()
        world.clock[0] += timedelta(hours=25)  # the grace is over: the new secret alone
        world.emit()
        dispatcher.run_once()
    (_, during, body1), (_, after, _) = receiver.received
    assert len(during["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body1, during) == PAYLOAD
    assert len(after["webhook-signature"].split(" ")) == 1


def test_410_disables_the_subscription_and_later_deliveries_are_dropped(world, receiver) -> None:
    receiver.replies = [Reply(410)]
    sub = world.subscribe(receiver.url)
    first, second = world.emit(), world.emit()
    with world.dispatcher() as dispatcher:
        dispatcher.run_once(limit=1)
        dispatcher.run_once(limit=1)  # queued before the 410: dropped unsent
    with pytest.raises(NoResultFound):
        world.emit()  # a disabled subscription gets no new deliveries
    row = world.subscription(sub.id)
    assert (row.status, row.disabled_reason) == ("disabled", "the receiver answered 410 Gone")
    assert world.entry(first).delivery.status == "dead"
    dropped = world.entry(second)
    assert (dropped.delivery.status, dropped.delivery.attempts, dropped.attempts) == ("dead", 0, [])
    assert dropped.delivery.last_error.startswith("the webhook subscription is disabled")
    assert len(receiver.received) == 1


def test_a_redirect_is_a_failure_and_is_not_followed(world, receiver) -> None:
    receiver.replies = [Reply(307, {"Location": receiver.url + "/elsewhere"})]
    world.subscribe(receiver.url)
    dlv = world.emit()
    with world.dispatcher() as dispatcher:
        dispatcher.run_once()
    assert [path for path, _, _ in receiver.received] == ["/hook"]
    entry = world.entry(dlv)
    assert (entry.delivery.status, entry.attempts[0].error) == ("failed", "HTTP 307")


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(world, receiver, status) -> None:
    receiver.replies = [Reply(status, {"Retry-After": "600"})]
    world.subscribe(receiver.url)
    dlv = world.emit()
    with world.dispatcher() as dispatcher:
        dispatcher.run_once()
    entry = world.entry(dlv)
    assert entry.delivery.next_attempt_at == world.clock[0] + timedelta(seconds=600)


def test_the_schedule_is_svix_s_then_dead(world, receiver) -> None:
    receiver.replies = [Reply(500)]
    world.subscribe(receiver.url)
    dlv = world.emit()
    start = world.clock[0]
    with world.dispatcher() as dispatcher:
        for _ in range(12):
            dispatcher.run_once()
            due = world.entry(dlv).delivery.next_attempt_at
            assert dispatcher.run_once() == 0  # nothing early
            if world.entry(dlv).delivery.status == "dead":
                break
            world.clock[0] = due
    entry = world.entry(dlv)
    offsets = [(a.attempted_at - start).total_seconds() for a in entry.attempts]
    expected, total = [0.0], 0.0
    for delay in BACKOFF_SCHEDULE:
        total += delay
        expected.append(total)
    assert offsets == expected  # immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
    assert (entry.delivery.status, entry.delivery.attempts) == ("dead", 8)
    assert entry.attempts[-1].next_retry_at is None
    assert len({headers["webhook-id"] for _, headers, _ in receiver.received}) == 1


def test_five_days_of_failures_disable_the_subscription(world, receiver) -> None:
    receiver.replies = [Reply(500)]
    sub = world.subscribe(receiver.url)
    with world.dispatcher() as dispatcher:
        world.emit()
        dispatcher.run_once()
        started = world.subscription(sub.id).failing_since
        assert started == world.clock[0]
        world.clock[0] += timedelta(days=5)
        world.emit()
        dispatcher.run_once()
    row = world.subscription(sub.id)
    assert row.status == "disabled"
    assert row.disabled_reason is not None and "5 days" in row.disabled_reason
    assert row.failing_since == started


def test_a_changed_url_applies_to_pending_deliveries(world, receiver) -> None:
    sub = world.subscribe("http://127.0.0.1:9/old")
    world.emit()
    with world.db.write() as session:
        row = session.get(WebhookSubscription, sub.id)
        assert row is not None
        row.url = receiver.url
    with world.dispatcher() as dispatcher:
        dispatcher.run_once()
    assert len(receiver.received) == 1
