"""The dispatcher against a real HTTP receiver on 127.0.0.1 and a SQLite store."""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from gateway.net.guard import IPAddress, UrlGuard
from gateway.store.db import Database
from gateway.store.keys import create_key, webhook_secret
from gateway.store.models import Delivery
from gateway.store.outbox import EventSpec, add_event
from gateway.webhooks.delivery import Dispatcher

PAYLOAD = {
    "type": "video.completed",
    "timestamp": "2025-01-01T00:00:00Z",
    "data": {"id": "vid_1", "status": "succeeded", "title": "Café ☕"},
}


@dataclass
class Receiver:
    """Answers each POST with the next scripted reply (the last one repeats)."""

    url: str
    replies: list[int | float] = field(default_factory=lambda: [200])
    received: list[tuple[dict[str, str], bytes, str]] = field(default_factory=list)

    def next_reply(self) -> int | float:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


def _handler(receiver_ref: list[Receiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver = receiver_ref[0]
            body = self.rfile.read(int(self.headers["Content-Length"]))
            receiver.received.append((dict(self.headers), body, self.path))
            reply = receiver.next_reply()
            if isinstance(reply, float):  # a float is a delay: the receiver hangs
                time.sleep(reply)
                reply = 200
            self.send_response(reply)
            if 300 <= reply < 400:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    ref: list[Receiver] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ref))
    ref.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield ref[0]
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'gateway.db'}")
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def secret_and_key(db: Database) -> tuple[str, str]:
    key, _plaintext = create_key(db, "test")
    return webhook_secret(db, key), key.id


@pytest.fixture
def enqueue(db: Database, secret_and_key: tuple[str, str]) -> Callable[..., list[str]]:
    def enqueue(*urls: str) -> list[str]:
        spec = EventSpec("video.completed", PAYLOAD, api_key_id=secret_and_key[1], urls=urls)
        with db.write() as session:
            event = add_event(session, spec)
            rows = session.query(Delivery).filter_by(event_id=event.id).all()
            by_url = {row.url: row.id for row in rows}
        return [by_url[url] for url in urls]

    return enqueue


def make_dispatcher(db: Database, **options: object) -> Dispatcher:
    defaults: dict[str, object] = {
        "owner": "test",
        "url_guard": UrlGuard(allow_private=True),
        "timeout": 2,
    }
    return Dispatcher(db, **{**defaults, **options})  # type: ignore[arg-type]


def delivery(db: Database, delivery_id: str) -> Delivery:
    with db.session() as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        return row


def test_200_succeeds_with_a_verifiable_signature(db, receiver, enqueue, secret_and_key) -> None:
    (dlv,) = enqueue(receiver.url + "/hook")
    with make_dispatcher(db) as dispatcher:
        assert dispatcher.run_once() == 1
        assert dispatcher.run_once() == 0
    row = delivery(db, dlv)
    assert (row.status, row.attempts, row.last_status_code) == ("succeeded", 1, 200)
    headers, body, path = receiver.received[0]
    assert path == "/hook"
    assert Webhook(secret_and_key[0]).verify(body, headers) == PAYLOAD
    assert headers["webhook-id"].startswith("msg_")
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("nemo-gateway-webhooks/")
    assert (
        body
        == (
            '{"type":"video.completed","timestamp":"2025-01-01T00:00:00Z",'
            '"data":{"id":"vid_1","status":"succeeded","title":"Café ☕"}}'
        ).encode()
    )


def test_500_then_200_retries_with_the_same_webhook_id(
    db, receiver, enqueue, secret_and_key
) -> None:
    receiver.replies = [500, 200]
    (dlv,) = enqueue(receiver.url)
    clock = [datetime.now(UTC)]
    with make_dispatcher(db, backoff=lambda attempt: 2, now=lambda: clock[0]) as dispatcher:
        dispatcher.run_once()
        row = delivery(db, dlv)
        assert (row.status, row.attempts, row.last_status_code) == ("failed", 1, 500)
        assert row.last_error == "HTTP 500"
        assert dispatcher.run_once() == 0  # due in 2 s
        clock[0] += timedelta(seconds=2)
        dispatcher.run_once()
    assert delivery(db, dlv).status == "succeeded"
    (first, body1, _), (second, body2, _) = receiver.received
    assert first["webhook-id"] == second["webhook-id"]
    assert int(second["webhook-timestamp"]) == int(first["webhook-timestamp"]) + 2
    assert first["webhook-signature"] != second["webhook-signature"]
    assert body1 == body2
    for headers, body, _ in receiver.received:
        Webhook(secret_and_key[0]).verify(body, headers)


def test_retry_waits_for_the_backoff(db, receiver, enqueue) -> None:
    receiver.replies = [503]
    (dlv,) = enqueue(receiver.url)
    before = datetime.now(UTC)
    with make_dispatcher(db, backoff=lambda attempt: 60 * attempt) as dispatcher:
        assert dispatcher.run_once() == 1
        assert dispatcher.run_once() == 0  # not due yet
    row = delivery(db, dlv)
    assert row.next_attempt_at is not None
    assert 59 <= (row.next_attempt_at - before).total_seconds() <= 65


def test_410_is_dead_at_once_and_calls_on_gone(db, receiver, enqueue) -> None:
    receiver.replies = [410]
    (dlv,) = enqueue(receiver.url)
    gone: list[str] = []
    with make_dispatcher(db, on_gone=lambda d: gone.append(d.id)) as dispatcher:
        dispatcher.run_once()
    row = delivery(db, dlv)
    assert (row.status, row.last_status_code) == ("dead", 410)
    assert gone == [dlv]


def test_timeout_schedules_a_retry(db, receiver, enqueue) -> None:
    receiver.replies = [3.0]
    (dlv,) = enqueue(receiver.url)
    with make_dispatcher(db, timeout=0.3) as dispatcher:
        dispatcher.run_once()
    row = delivery(db, dlv)
    assert row.status == "failed"
    assert row.last_status_code is None
    assert row.last_error is not None and row.last_error.startswith("timeout")


def test_a_slow_receiver_does_not_hold_up_the_others(db, receiver, enqueue) -> None:
    receiver.replies = [3.0, 200]
    slow, fast = enqueue(receiver.url + "/slow", receiver.url + "/fast")
    with make_dispatcher(db, timeout=0.5) as dispatcher:
        started = time.monotonic()
        assert dispatcher.run_once() == 2
        assert time.monotonic() - started < 2.5
    statuses = {delivery(db, slow).status, delivery(db, fast).status}
    assert statuses == {"failed", "succeeded"}


def test_max_attempts_then_dead(db, receiver, enqueue) -> None:
    receiver.replies = [500]
    (dlv,) = enqueue(receiver.url)
    with make_dispatcher(db, max_attempts=3, backoff=lambda attempt: 0) as dispatcher:
        for _ in range(5):
            dispatcher.run_once()
    row = delivery(db, dlv)
    assert (row.status, row.attempts, row.last_status_code) == ("dead", 3, 500)
    assert len(receiver.received) == 3


def test_redirects_are_not_followed(db, receiver, enqueue) -> None:
    receiver.replies = [302]
    (dlv,) = enqueue(receiver.url)
    with make_dispatcher(db) as dispatcher:
        dispatcher.run_once()
    assert delivery(db, dlv).status == "failed"
    assert len(receiver.received) == 1


def test_private_address_refused_without_allow_private(db, receiver, enqueue) -> None:
    (dlv,) = enqueue(receiver.url)
    with make_dispatcher(db, url_guard=UrlGuard()) as dispatcher:
        dispatcher.run_once()
    row = delivery(db, dlv)
    assert (row.status, row.attempts) == ("dead", 1)  # not retried for days
    assert row.last_error == "refused: host is a loopback address"
    assert receiver.received == []


class StubDns:
    """Answers every lookup with the next scripted address list (the last one repeats)."""

    def __init__(self, *answers: tuple[str, ...]) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> tuple[IPAddress, ...]:
        self.asked.append(host)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return tuple(ipaddress.ip_address(a) for a in answer)


def test_a_name_resolving_to_loopback_is_dead_at_delivery(db, receiver, enqueue) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    (dlv,) = enqueue(f"http://hooks.example.com:{port}/hook")
    dns = StubDns(("93.184.215.14", "127.0.0.1"))  # one bad address is enough
    with make_dispatcher(db, url_guard=UrlGuard(resolver=dns)) as dispatcher:
        dispatcher.run_once()
    row = delivery(db, dlv)
    assert (row.status, row.attempts) == ("dead", 1)
    assert row.last_error == "refused: host resolves to a loopback address"
    assert receiver.received == [] and dns.asked == ["hooks.example.com"]


def test_dns_rebinding_between_attempts_is_caught_and_never_connected(db, enqueue) -> None:
    """Each attempt resolves again, checks every address, and connects to the checked one."""
    (dlv,) = enqueue("http://rebind.example.com/hook")
    dns = StubDns(("93.184.215.14",), ("127.0.0.1",))
    seen: list[tuple[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url.host), request.headers["Host"]))
        return httpx.Response(500)

    options = {
        "url_guard": UrlGuard(resolver=dns),
        "transport": httpx.MockTransport(answer),
        "backoff": lambda attempt: 0.0,  # the retry is due at once
    }
    with make_dispatcher(db, **options) as dispatcher:
        dispatcher.run_once()
        assert delivery(db, dlv).status == "failed"
        dispatcher.run_once()  # the name now points at loopback
    row = delivery(db, dlv)
    assert (row.status, row.attempts) == ("dead", 2)
    assert row.last_error == "refused: host resolves to a loopback address"
    # One request only, sent to the address that was checked, never to the name.
    assert seen == [("93.184.215.14", "rebind.example.com")]
    assert dns.asked == ["rebind.example.com"] * 2


def test_the_connection_goes_to_the_checked_address(db, receiver, enqueue) -> None:
    """The system resolver has never heard of this name: only the pinned address works."""
    port = receiver.url.rsplit(":", 1)[1]
    (dlv,) = enqueue(f"http://receiver.invalid:{port}/hook")
    guard = UrlGuard(allow_private=True, resolver=StubDns(("127.0.0.1",)))
    with make_dispatcher(db, url_guard=guard) as dispatcher:
        dispatcher.run_once()
    assert delivery(db, dlv).status == "succeeded"
    ((headers, _, path),) = receiver.received
    assert (headers["Host"], path) == (f"receiver.invalid:{port}", "/hook")


def test_bad_scheme_is_dead_at_once(db, enqueue) -> None:
    (dlv,) = enqueue("ftp://127.0.0.1/hook")
    with make_dispatcher(db) as dispatcher:
        dispatcher.run_once()
    row = delivery(db, dlv)
    assert (row.status, row.attempts) == ("dead", 1)
    assert row.last_error == "refused: scheme must be http or https"


def test_logs_show_the_host_only_and_never_the_secret(
    db, receiver, enqueue, secret_and_key, caplog
) -> None:
    enqueue(receiver.url + "/hooks/catch/123/tok3n?key=qu3ry")
    with caplog.at_level(logging.DEBUG), make_dispatcher(db) as dispatcher:
        dispatcher.run_once()
    assert "host=127.0.0.1" in caplog.text
    assert "status=200" in caplog.text
    for leak in ("tok3n", "qu3ry", secret_and_key[0], secret_and_key[0].removeprefix("whsec_")):
        assert leak not in caplog.text


def test_mock_transport_sees_the_pinned_address_and_host_header(db, enqueue) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    (dlv,) = enqueue("http://localhost:8123/hook?x=1")
    with make_dispatcher(db, transport=httpx.MockTransport(handler)) as dispatcher:
        dispatcher.run_once()
    assert delivery(db, dlv).status == "succeeded"
    (request,) = seen
    assert ipaddress.ip_address(request.url.host).is_loopback
    assert request.url.raw_path == b"/hook?x=1"
    assert request.headers["Host"] == "localhost:8123"


def test_transport_error_schedules_a_retry_and_logs_only_its_class(db, enqueue) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        # The far end's words (here a TLS name) say what lives there: not kept.
        raise httpx.ConnectError("certificate is not valid for 'vault.corp.internal'")

    (dlv,) = enqueue("http://127.0.0.1:9/hook")
    with make_dispatcher(db, transport=httpx.MockTransport(handler)) as dispatcher:
        dispatcher.run_once()
    row = delivery(db, dlv)
    assert (row.status, row.last_error) == ("failed", "ConnectError")


def test_a_batch_records_every_outcome_but_one_whose_lease_was_lost(db, receiver, enqueue) -> None:
    from sqlalchemy import select, update

    from gateway.store.models import DeliveryAttempt

    stolen, kept = enqueue(receiver.url + "/a", receiver.url + "/b")

    class StealingTransport(httpx.BaseTransport):
        """Answers 200; while the batch is out, another worker re-claims one delivery."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/a":
                with db.write() as session:
                    session.execute(
                        update(Delivery)
                        .where(Delivery.id == stolen)
                        .values(lease_owner="thief", lease_token=Delivery.lease_token + 1)
                    )
            return httpx.Response(200, content=b"ok")

    with make_dispatcher(db, transport=StealingTransport()) as dispatcher:
        assert dispatcher.run_once() == 2
    lost, done = delivery(db, stolen), delivery(db, kept)
    assert (lost.status, lost.attempts, lost.lease_owner) == ("pending", 0, "thief")
    assert (done.status, done.attempts, done.lease_owner) == ("succeeded", 1, None)
    assert done.delivered_at is not None and done.last_status_code == 200
    with db.session() as session:
        logged = session.scalars(select(DeliveryAttempt.delivery_id)).all()
    assert logged == [kept]
