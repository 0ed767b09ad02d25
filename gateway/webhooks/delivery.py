"""Deliver outbox events to their webhook URLs, signed, with retries.

``Dispatcher.run_once`` claims due ``deliveries`` rows (a lease with a fencing
token, see ``gateway.store.outbox``), sends them in parallel on a small thread
pool, and records each outcome (rules in ``gateway.webhooks.policy``) in one
transaction: the delivery's new state, the attempt in the delivery log, and
the subscription's health (``gateway.store.subscriptions``).

A subscription's deliveries go to its current URL, signed with its secret
(and with the previous one while a rotation's grace lasts); a video's own
``webhook_url`` is signed with the API key's secret. A delivery whose
subscription was deleted or disabled is dropped without an attempt (a
``recover`` replays it later).

Every attempt of one event carries the same ``webhook-id`` (the event id) so
receivers can deduplicate, and a fresh ``webhook-timestamp`` and signature.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session

from gateway.store import subscriptions as subs
from gateway.store.db import Database
from gateway.store.leases import Claim, LeaseLost
from gateway.store.models import ApiKey, Delivery, Event, WebhookSubscription, utcnow
from gateway.store.outbox import (
    AttemptLog,
    abandon_delivery,
    add_attempt,
    claim_deliveries,
    load_delivery,
    mark_dead,
    mark_succeeded,
    schedule_retry,
)
from gateway.webhooks.policy import (
    BACKOFF_SCHEDULE,
    DEFAULT_MAX_ATTEMPTS,
    Attempt,
    Outcome,
    decide,
    default_backoff,
    parse_retry_after,
    retry_delay,
)
from gateway.webhooks.signing import sign
from gateway.webhooks.ssrf import UnsafeUrl, pin, resolve_url

__all__ = [
    "BACKOFF_SCHEDULE",
    "Attempt",
    "Dispatcher",
    "Outcome",
    "canonical_body",
    "decide",
    "default_backoff",
]

log = logging.getLogger(__name__)

# The delivery log keeps the start of each answer; receivers' error pages can be huge.
RESPONSE_BODY_BYTES = 1024
GONE_REASON = "the receiver answered 410 Gone"


def canonical_body(payload: Any) -> bytes:
    """The request body: compact JSON in UTF-8, the same bytes on every attempt."""
    if isinstance(payload, str | bytes):
        payload = json.loads(payload)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _describe(exc: Exception) -> str:
    """A short error for logs and the delivery row: never the URL or a secret."""
    if isinstance(exc, UnsafeUrl):
        return f"refused: {exc.reason}"
    if isinstance(exc, httpx.TimeoutException):
        return f"timeout ({type(exc).__name__})"
    # httpx's transport errors carry the OS error text, not the request URL.
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _host(url: str) -> str:
    """The host alone, for logs: paths and query strings may hold receiver tokens."""
    try:
        return httpx.URL(url).host or "?"
    except httpx.InvalidURL:
        return "?"


def _log_attempt(job: Job, attempt: Attempt, outcome: Outcome) -> None:
    log.info(
        "webhook %s event=%s type=%s host=%s attempt=%d status=%s error=%s "
        "duration_ms=%s outcome=%s",
        job.delivery.id,
        job.event_id,
        job.event_type,
        _host(job.url),
        job.number,
        attempt.status_code,
        attempt.error,
        attempt.latency_ms,
        outcome.value,
    )


@dataclass(frozen=True)
class Job:
    """Everything one attempt needs, read in one short transaction."""

    delivery: Delivery
    event_id: str
    event_type: str
    url: str
    secrets: list[str]
    body: bytes
    subscription_id: str | None = None

    @property
    def number(self) -> int:
        """This attempt's number, counting from 1."""
        return self.delivery.attempts + 1


@dataclass(frozen=True)
class Skip:
    """A delivery not to attempt: its subscription is gone or disabled."""

    reason: str


class Dispatcher:
    """Claims due deliveries and sends them; one instance per worker process."""

    def __init__(
        self,
        db: Database,
        *,
        owner: str,
        allow_private: bool,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 15,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff: Callable[[int], float] = default_backoff,
        now: Callable[[], datetime] = utcnow,
        workers: int = 8,
        on_gone: Callable[[Delivery], None] | None = None,
    ) -> None:
        self.db = db
        self.owner = owner
        self.allow_private = allow_private
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.now = now
        self.workers = workers
        self.on_gone = on_gone
        # The transport alone, without httpx.Client: the client logs every full
        # URL at INFO, and webhook paths and queries often hold receiver tokens.
        # Nothing else of the client is wanted: no redirects, cookies, auth or
        # proxies from the environment (those would connect somewhere other than
        # the address the SSRF guard approved).
        self._owns_transport = transport is None
        self._transport = transport or httpx.HTTPTransport(
            # No reuse: a pooled TLS connection, verified for one host name, must
            # not carry a request for another name that resolves to the same IP.
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self._timeout = httpx.Timeout(timeout).as_dict()
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="webhook")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._owns_transport:
            self._transport.close()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def lease_seconds(self, limit: int) -> float:
        """Long enough for the whole batch: each attempt may spend ``timeout`` on
        connect, write and read, and ``limit`` attempts share ``workers`` threads."""
        rounds = math.ceil(limit / self.workers)
        # Short on purpose: a worker killed mid-batch holds these rows until
        # the lease ends, and that delays their retry.
        return 5 + rounds * 3 * self.timeout

    def run_once(self, limit: int | None = None) -> int:
        """Claim up to ``limit`` due deliveries, attempt each once; return how many."""
        limit = limit or 2 * self.workers  # small batches keep leases short
        claims = claim_deliveries(self.db, self.owner, self.now(), limit, self.lease_seconds(limit))
        # Deliveries are independent: a slow receiver holds one thread, not the batch.
        for future in [self._pool.submit(self._deliver, claim) for claim in claims]:
            future.result()
        return len(claims)

    def _deliver(self, claim: Claim) -> None:
        try:
            job = self._load(claim)
            if isinstance(job, Skip):
                abandon_delivery(self.db, claim, job.reason)
                return
        except LeaseLost:
            return
        except Exception:
            # The lease lapses and the delivery is claimed again later.
            log.exception("webhook delivery %s could not be loaded", claim.id)
            return
        if job is None:
            return
        attempt = self._send(job)
        outcome = decide(attempt, job.number, self.max_attempts)
        _log_attempt(job, attempt, outcome)
        try:
            self._record(claim, job, attempt, outcome)
        except LeaseLost:
            log.warning("webhook %s: lease lost, outcome not recorded", claim.id)
            return
        if outcome is Outcome.GONE:
            self._notify_gone(job.delivery)

    def _load(self, claim: Claim) -> Job | Skip | None:
        with self.db.session() as session:
            found = load_delivery(session, claim.id)
            if found is None:
                return None
            delivery, event = found
            body = canonical_body(event.payload)
            if delivery.subscription_id is None:
                secret = _key_secret(session, event)
                return Job(delivery, event.id, event.type, delivery.url, [secret], body)
            sub = session.get(WebhookSubscription, delivery.subscription_id)
            if sub is None:
                return Skip("the webhook subscription was deleted")
            if sub.status != subs.ACTIVE:
                return Skip(f"the webhook subscription is disabled: {sub.disabled_reason}")
            secrets = subs.signing_secrets(sub, self.now())
            return Job(delivery, event.id, event.type, sub.url, secrets, body, sub.id)

    def _send(self, job: Job) -> Attempt:
        started = time.monotonic()
        try:
            # Resolved and checked on every attempt: DNS may have changed since the last.
            target = pin(resolve_url(job.url, allow_private=self.allow_private))
            timestamp = int(self.now().timestamp())
            headers = {**sign(job.secrets, job.event_id, timestamp, job.body), **target.headers}
            request = httpx.Request(
                "POST",
                target.url,
                content=job.body,
                headers=headers,
                extensions={**target.extensions, "timeout": self._timeout},
            )
            response = self._transport.handle_request(request)
            latency = _ms_since(started)
            try:
                body = _read_head(response, started + self.timeout)
            finally:
                response.close()
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self.now())
            return Attempt(response.status_code, None, False, retry_after, body, latency)
        except UnsafeUrl as exc:
            return Attempt(None, _describe(exc), permanent=exc.permanent)
        except httpx.HTTPError as exc:
            return Attempt(None, _describe(exc), latency_ms=_ms_since(started))
        except Exception as exc:
            # A bug or bad row must not stop the batch; the attempt counts and is retried.
            log.exception("webhook %s: unexpected error while sending", job.delivery.id)
            return Attempt(None, f"internal error ({type(exc).__name__})")

    def _record(self, claim: Claim, job: Job, attempt: Attempt, outcome: Outcome) -> None:
        """The delivery's new state, its attempt and the subscription's health: one transaction."""
        now = self.now()
        status, error = attempt.status_code, attempt.error
        if error is None and outcome is not Outcome.SUCCEEDED:
            error = f"HTTP {status}"
        next_at = None
        if outcome is Outcome.RETRY:
            next_at = now + timedelta(seconds=retry_delay(attempt, job.number, self.backoff))
        with self.db.write() as session:
            if outcome is Outcome.SUCCEEDED:
                mark_succeeded(session, claim, status, now=now)
            elif next_at is not None:
                schedule_retry(session, claim, status, error, next_at)
            else:
                mark_dead(session, claim, status, error)
            entry = AttemptLog(now, status, attempt.latency_ms, attempt.response_body, error)
            add_attempt(session, claim.id, entry, next_at)
            if job.subscription_id is not None:
                self._record_health(session, job, outcome, now)

    def _record_health(self, session: Session, job: Job, outcome: Outcome, now: datetime) -> None:
        assert job.subscription_id is not None
        if outcome is Outcome.SUCCEEDED:
            subs.record_success(session, job.subscription_id, now)
        elif outcome is Outcome.GONE:
            subs.disable(session, job.subscription_id, GONE_REASON, now)
            log.warning("webhook subscription %s disabled: %s", job.subscription_id, GONE_REASON)
        else:
            reason = subs.record_failure(session, job.subscription_id, now)
            if reason:
                log.warning("webhook subscription %s disabled: %s", job.subscription_id, reason)

    def _notify_gone(self, delivery: Delivery) -> None:
        if self.on_gone is None:
            return
        try:
            self.on_gone(delivery)
        except Exception:
            # The delivery is already dead; a failing hook must not undo that.
            log.exception("on_gone hook failed for webhook %s", delivery.id)


def _key_secret(session: Session, event: Event) -> str:
    key = session.get(ApiKey, event.api_key_id)
    if key is None:
        raise LookupError(f"API key {event.api_key_id} of event {event.id} is missing")
    return key.webhook_secret


def _read_head(response: httpx.Response, deadline: float) -> str | None:
    """The first ``RESPONSE_BODY_BYTES`` of the answer, read within the time budget.

    Never more: a receiver cannot make us download much, or hold us long.
    """
    stream = response.stream
    if not isinstance(stream, httpx.SyncByteStream):
        return None
    head = b""
    try:
        for chunk in stream:
            head += chunk
            if len(head) >= RESPONSE_BODY_BYTES or time.monotonic() > deadline:
                break
    except httpx.HTTPError:
        pass  # the status is what counts; a broken body is only less to show
    head = head[:RESPONSE_BODY_BYTES]
    return head.decode("utf-8", errors="replace") if head else None


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
