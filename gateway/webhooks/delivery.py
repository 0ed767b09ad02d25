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
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import httpx

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
