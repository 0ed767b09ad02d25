"""Deliver outbox events to their webhook URLs, signed, with retries.

``Dispatcher.run_once`` claims a batch of due ``deliveries`` rows (a lease with
a fencing token, see ``gateway.store.outbox``), loads what they need in one
read, sends them in parallel on a thread pool, and records the batch's
outcomes (rules in ``gateway.webhooks.policy``) in one transaction: each
delivery's new state, its attempt in the delivery log, and its subscription's
health (``gateway.store.subscriptions``). Each delivery stays fenced on its
own: one whose lease was lost writes nothing, the rest are recorded.

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
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.net.guard import STRICT, UnsafeUrl, UrlGuard, pin
from gateway.store import subscriptions as subs
from gateway.store.crypto import Keyring
from gateway.store.db import Database
from gateway.store.leases import Claim, LeaseLost
from gateway.store.models import ApiKey, Delivery, WebhookSubscription, utcnow
from gateway.store.outbox import (
    AttemptLog,
    abandon_delivery,
    claim_deliveries,
    load_deliveries,
    record_outcomes,
)
from gateway.store.outbox import Outcome as DeliveryOutcome
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

GONE_REASON = "the receiver answered 410 Gone"


def canonical_body(payload: Any) -> bytes:
    """The request body: compact JSON in UTF-8, the same bytes on every attempt."""
    if isinstance(payload, str | bytes):
        payload = json.loads(payload)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _describe(exc: Exception) -> str:
    """A short error for logs and the delivery row: the guard's reason or the error
    class, never the URL, a secret or any text from the receiver's side (a TLS
    or OS error message describes the far end, which may be an internal host)."""
    if isinstance(exc, UnsafeUrl):
        return f"refused: {exc.reason}"
    if isinstance(exc, httpx.TimeoutException):
        return f"timeout ({type(exc).__name__})"
    return type(exc).__name__


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
        url_guard: UrlGuard = STRICT,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 15,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff: Callable[[int], float] = default_backoff,
        now: Callable[[], datetime] = utcnow,
        workers: int = 16,
        on_gone: Callable[[Delivery], None] | None = None,
    ) -> None:
        self.db = db
        self.owner = owner
        self.url_guard = url_guard
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
        """Claim up to ``limit`` due deliveries, attempt each once; return how many.

        A batch costs three transactions whatever its size: the claim, one read
        of everything the attempts need, and one write of all their outcomes.
        A crash before that write records nothing: the leases lapse and the
        batch is sent again (same ``webhook-id``s), never recorded twice.
        """
        limit = limit or 2 * self.workers  # small batches keep leases short
        claims = claim_deliveries(self.db, self.owner, self.now(), limit, self.lease_seconds(limit))
        if not claims:
            return 0
        try:
            loaded = self._load(claims)
        except Exception:
            # The leases lapse and the deliveries are claimed again later.
            log.exception("webhook deliveries %s could not be loaded", [c.id for c in claims])
            return len(claims)
        jobs = [(c, j) for c in claims if isinstance(j := loaded.get(c.id), Job)]
        skips = [(c, s) for c in claims if isinstance(s := loaded.get(c.id), Skip)]
        # Deliveries are independent: a slow receiver holds one thread, not the batch.
        if len(jobs) == 1:
            attempts = [self._send(jobs[0][1])]
        else:
            attempts = list(self._pool.map(self._send, [job for _, job in jobs]))
        results: list[tuple[Claim, Job, Attempt, Outcome]] = []
        for (claim, job), attempt in zip(jobs, attempts, strict=True):
            outcome = decide(attempt, job.number, self.max_attempts)
            _log_attempt(job, attempt, outcome)
            results.append((claim, job, attempt, outcome))
        try:
            recorded = self._record(results, skips)
        except Exception:
            log.exception("webhook outcomes of %d deliveries not recorded", len(results))
            return len(claims)
        for _, job, _, outcome in results:
            if outcome is Outcome.GONE and job.delivery.id in recorded:
                self._notify_gone(job.delivery)
        return len(claims)

    def _load(self, claims: list[Claim]) -> dict[str, Job | Skip]:
        """What each claimed delivery needs, in one read: rows, events, secrets.

        A delivery missing from the answer (its row or API key is gone) is left
        to its lease.
        """
        out: dict[str, Job | Skip] = {}
        now = self.now()
        with self.db.session() as session:
            found = load_deliveries(session, [c.id for c in claims])
            key_ids = {event.api_key_id for d, event in found if d.subscription_id is None}
            sub_ids = {d.subscription_id for d, _ in found if d.subscription_id is not None}
            keys = _key_secrets(session, key_ids, self.db.keyring)
            subscriptions = _subscriptions(session, sub_ids)
        bodies: dict[str, bytes] = {}
        for delivery, event in found:
            body = bodies.get(event.id)
            if body is None:
                body = bodies[event.id] = canonical_body(event.payload)
            if delivery.subscription_id is None:
                secret = keys.get(event.api_key_id)
                if secret is None:
                    log.error(
                        "webhook delivery %s: API key %s of event %s is missing",
                        delivery.id,
                        event.api_key_id,
                        event.id,
                    )
                    continue
                out[delivery.id] = Job(delivery, event.id, event.type, delivery.url, [secret], body)
                continue
            sub = subscriptions.get(delivery.subscription_id)
            if sub is None:
                out[delivery.id] = Skip("the webhook subscription was deleted")
            elif sub.status != subs.ACTIVE:
                reason = f"the webhook subscription is disabled: {sub.disabled_reason}"
                out[delivery.id] = Skip(reason)
            else:
                # Sealed at rest; opened only here, to sign.
                secrets = [self.db.keyring.open(s) for s in subs.signing_secrets(sub, now)]
                out[delivery.id] = Job(
                    delivery, event.id, event.type, sub.url, secrets, body, sub.id
                )
        return out

    def _send(self, job: Job) -> Attempt:
        started = time.monotonic()
        try:
            # Resolved and checked on every attempt: DNS may have changed since the last.
            target = pin(self.url_guard.resolve(job.url))
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
            # The status is the answer; the body is never read, let alone kept:
            # shown back in the delivery log it would let a caller read any
            # page the gateway can reach.
            response.close()
            latency = _ms_since(started)
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self.now())
            return Attempt(response.status_code, None, False, retry_after, latency)
        except UnsafeUrl as exc:
            return Attempt(None, _describe(exc), permanent=exc.permanent)
        except httpx.HTTPError as exc:
            return Attempt(None, _describe(exc), latency_ms=_ms_since(started))
        except Exception as exc:
            # A bug or bad row must not stop the batch; the attempt counts and is retried.
            log.exception("webhook %s: unexpected error while sending", job.delivery.id)
            return Attempt(None, f"internal error ({type(exc).__name__})")

    def _record(
        self,
        results: list[tuple[Claim, Job, Attempt, Outcome]],
        skips: list[tuple[Claim, Skip]],
    ) -> set[str]:
        """Each delivery's new state, its attempt and its subscription's health, for
        the whole batch in one transaction; returns the ids recorded.

        Every delivery is still fenced on its own: one whose lease was lost
        (re-claimed after a lapse) writes nothing, the others are recorded.
        """
        now = self.now()
        recorded: set[str] = set()
        outcomes: list[DeliveryOutcome] = []
        for claim, job, attempt, outcome in results:
            status, error = attempt.status_code, attempt.error
            if error is None and outcome is not Outcome.SUCCEEDED:
                error = f"HTTP {status}"
            next_at = None
            if outcome is Outcome.SUCCEEDED:
                state = "succeeded"
            elif outcome is Outcome.RETRY:
                state = "failed"
                next_at = now + timedelta(seconds=retry_delay(attempt, job.number, self.backoff))
            else:
                state = "dead"
            entry = AttemptLog(now, status, attempt.latency_ms, error)
            outcomes.append(DeliveryOutcome(claim, state, entry, next_at))
        with self.db.write() as session:
            for claim, skip in skips:
                try:
                    abandon_delivery(session, claim, skip.reason)
                except LeaseLost:
                    continue
                recorded.add(claim.id)
            # Fenced per delivery: one whose lease was lost writes nothing.
            held = record_outcomes(session, outcomes)
            recorded |= held
            for claim, job, _, outcome in results:
                if claim.id not in held:
                    log.warning("webhook %s: lease lost, outcome not recorded", claim.id)
                elif job.subscription_id is not None:
                    self._record_health(session, job, outcome, now)
        return recorded

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


def _key_secrets(session: Session, key_ids: set[str], keyring: Keyring) -> dict[str, str]:
    """The keys' webhook secrets, opened (they are sealed at rest) to sign with."""
    if not key_ids:
        return {}
    rows = session.execute(
        select(ApiKey.id, ApiKey.webhook_secret).where(ApiKey.id.in_(key_ids))
    ).all()
    return {key_id: keyring.open(secret) for key_id, secret in rows}


def _subscriptions(session: Session, sub_ids: set[str]) -> dict[str, WebhookSubscription]:
    if not sub_ids:
        return {}
    stmt = select(WebhookSubscription).where(WebhookSubscription.id.in_(sub_ids))
    return {sub.id: sub for sub in session.scalars(stmt)}


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
