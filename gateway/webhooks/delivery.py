"""Deliver outbox events to their webhook URLs, signed, with retries.

``Dispatcher.run_once`` claims due ``deliveries`` rows (a lease with a fencing
token, see ``gateway.store.outbox``), sends them in parallel on a small thread
pool, and records each outcome:

* 2xx: succeeded.
* 410 Gone: the receiver unsubscribed; dead at once, and ``on_gone`` is told so
  the subscription can be disabled.
* any other status, a transport error or a DNS-dependent SSRF refusal: retried
  after ``backoff(attempt)``, dead once ``max_attempts`` attempts were made.
* a URL that can never be called (bad scheme, credentials in it): dead at once.

Every attempt of one event carries the same ``webhook-id`` (the event id) so
receivers can deduplicate, and a fresh ``webhook-timestamp`` and signature.
Redirects are not followed: a 3xx is a failed attempt, as a redirect could
otherwise lead past the SSRF check.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

import httpx

from gateway.store.db import Database
from gateway.store.leases import Claim, LeaseLost
from gateway.store.models import ApiKey, Delivery, utcnow
from gateway.store.outbox import (
    claim_deliveries,
    load_delivery,
    mark_dead,
    mark_succeeded,
    schedule_retry,
)
from gateway.webhooks.signing import sign
from gateway.webhooks.ssrf import UnsafeWebhookUrl, pin, resolve_url

log = logging.getLogger(__name__)

# Seconds to wait after the n-th failed attempt (n = 1, 2, ...); the last value repeats.
# Doubling after the first hour keeps a receiver that is down over a weekend
# reachable: 12 attempts span about 2.3 days.
BACKOFF_SCHEDULE = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 57600, 86400)
JITTER = 0.2


def default_backoff(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Delay before the next try after ``attempt`` failed attempts, +-20% jitter.

    Jitter spreads the retries of many deliveries that failed together (one
    receiver down) so they do not all return in the same second.
    """
    base = BACKOFF_SCHEDULE[min(max(attempt, 1), len(BACKOFF_SCHEDULE)) - 1]
    return base * (1 - JITTER + 2 * JITTER * rand())


def canonical_body(payload: Any) -> bytes:
    """The request body: compact JSON in UTF-8, the same bytes on every attempt."""
    if isinstance(payload, str | bytes):
        payload = json.loads(payload)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Outcome(Enum):
    SUCCEEDED = "succeeded"
    RETRY = "retry"
    DEAD = "dead"
    GONE = "gone"


@dataclass(frozen=True)
class Attempt:
    """What one POST produced: a status code, or an error description."""

    status_code: int | None
    error: str | None
    permanent: bool = False


def decide(attempt: Attempt, attempts_made: int, max_attempts: int) -> Outcome:
    """Pure outcome rule; ``attempts_made`` includes this one."""
    status = attempt.status_code
    if status is not None and 200 <= status < 300:
        return Outcome.SUCCEEDED
    if status == 410:
        return Outcome.GONE
    if attempt.permanent or attempts_made >= max_attempts:
        return Outcome.DEAD
    return Outcome.RETRY


def _describe(exc: Exception) -> str:
    """A short error for logs and the delivery row: never the URL or a secret."""
    if isinstance(exc, UnsafeWebhookUrl):
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


def _log_attempt(job: Job, attempt: Attempt, outcome: Outcome, elapsed: float) -> None:
    log.info(
        "webhook %s event=%s type=%s host=%s attempt=%d status=%s error=%s "
        "duration_ms=%.0f outcome=%s",
        job.delivery.id,
        job.event_id,
        job.event_type,
        _host(job.url),
        job.number,
        attempt.status_code,
        attempt.error,
        elapsed * 1000,
        outcome.value,
    )


@dataclass(frozen=True)
class Job:
    """Everything one attempt needs, read in one short transaction."""

    delivery: Delivery
    event_id: str
    event_type: str
    url: str
    secret: str
    body: bytes

    @property
    def number(self) -> int:
        """This attempt's number, counting from 1."""
        return self.delivery.attempts + 1


class Dispatcher:
    """Claims due deliveries and sends them; one instance per worker process."""

    def __init__(
        self,
        db: Database,
        *,
        owner: str,
        allow_private: bool,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10,
        max_attempts: int = 12,
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
        except Exception:
            # The lease lapses and the delivery is claimed again later.
            log.exception("webhook delivery %s could not be loaded", claim.id)
            return
        if job is None:
            return
        started = time.monotonic()
        attempt = self._send(job)
        elapsed = time.monotonic() - started
        outcome = decide(attempt, job.number, self.max_attempts)
        _log_attempt(job, attempt, outcome, elapsed)
        try:
            self._record(claim, job, attempt, outcome)
        except LeaseLost:
            log.warning("webhook %s: lease lost, outcome not recorded", claim.id)

    def _load(self, claim: Claim) -> Job | None:
        with self.db.session() as session:
            found = load_delivery(session, claim.id)
            if found is None:
                return None
            delivery, event = found
            key = session.get(ApiKey, event.api_key_id)
            if key is None:
                raise LookupError(f"API key {event.api_key_id} of event {event.id} is missing")
            return Job(
                delivery,
                event.id,
                event.type,
                delivery.url,
                key.webhook_secret,
                canonical_body(event.payload),
            )

    def _send(self, job: Job) -> Attempt:
        try:
            # Resolved and checked on every attempt: DNS may have changed since the last.
            target = pin(resolve_url(job.url, allow_private=self.allow_private))
            timestamp = int(self.now().timestamp())
            headers = {**sign(job.secret, job.event_id, timestamp, job.body), **target.headers}
            request = httpx.Request(
                "POST",
                target.url,
                content=job.body,
                headers=headers,
                extensions={**target.extensions, "timeout": self._timeout},
            )
            response = self._transport.handle_request(request)
            # The body is never read: a receiver cannot make us download much.
            response.close()
            return Attempt(response.status_code, None)
        except UnsafeWebhookUrl as exc:
            return Attempt(None, _describe(exc), permanent=exc.permanent)
        except httpx.HTTPError as exc:
            return Attempt(None, _describe(exc))
        except Exception as exc:
            # A bug or bad row must not stop the batch; the attempt counts and is retried.
            log.exception("webhook %s: unexpected error while sending", job.delivery.id)
            return Attempt(None, f"internal error ({type(exc).__name__})")

    def _record(self, claim: Claim, job: Job, attempt: Attempt, outcome: Outcome) -> None:
        status, error = attempt.status_code, attempt.error
        if error is None and outcome is not Outcome.SUCCEEDED:
            error = f"HTTP {status}"
        if outcome is Outcome.SUCCEEDED:
            mark_succeeded(self.db, claim, status, now=self.now())
        elif outcome is Outcome.RETRY:
            delay = self.backoff(job.number)
            schedule_retry(self.db, claim, status, error, self.now() + timedelta(seconds=delay))
        else:
            mark_dead(self.db, claim, status, error)
        if outcome is Outcome.GONE:
            self._notify_gone(job.delivery)

    def _notify_gone(self, delivery: Delivery) -> None:
        if self.on_gone is None:
            return
        try:
            self.on_gone(delivery)
        except Exception:
            # The delivery is already dead; a failing hook must not undo that.
            log.exception("on_gone hook failed for webhook %s", delivery.id)
