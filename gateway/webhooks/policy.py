"""When to retry a webhook delivery, and when to give up: pure rules, no I/O.

* 2xx: succeeded. Anything else is a failure, a 3xx included: redirects are
  never followed, as one could lead past the SSRF guard.
* 410 Gone: the receiver unsubscribed; dead at once, and its subscription is
  disabled.
* any other failure: retried on Svix's schedule (the first attempt at once,
  then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, each +-20%), dead
  after ``DEFAULT_MAX_ATTEMPTS`` attempts. A 429 or 503 with ``Retry-After``
  waits at least that long (capped at a day).
* a URL the SSRF guard refuses (bad scheme, credentials in it, a host that is
  or resolves to a refused address): dead at once. Only a host that does not
  resolve is retried, as DNS may be fixed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from enum import Enum

# Seconds to wait after the n-th failed attempt (n = 1, 2, ...); the last value repeats.
BACKOFF_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
DEFAULT_MAX_ATTEMPTS = len(BACKOFF_SCHEDULE) + 1
JITTER = 0.2
MAX_RETRY_AFTER = 86400.0
_RETRY_AFTER_STATUSES = frozenset({429, 503})


class Outcome(Enum):
    SUCCEEDED = "succeeded"
    RETRY = "retry"
    DEAD = "dead"
    GONE = "gone"


@dataclass(frozen=True)
class Attempt:
    """What one POST produced: a status code, or an error."""

    status_code: int | None
    error: str | None
    permanent: bool = False
    retry_after: float | None = None
    latency_ms: int | None = None


def default_backoff(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Delay before the next try after ``attempt`` failed attempts, +-20% jitter.

    Jitter spreads the retries of many deliveries that failed together (one
    receiver down) so they do not all return in the same second.
    """
    base = BACKOFF_SCHEDULE[min(max(attempt, 1), len(BACKOFF_SCHEDULE)) - 1]
    return base * (1 - JITTER + 2 * JITTER * rand())


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


def retry_delay(attempt: Attempt, number: int, backoff: Callable[[int], float]) -> float:
    """Seconds until the next try after attempt ``number`` failed."""
    delay = backoff(number)
    if attempt.status_code in _RETRY_AFTER_STATUSES and attempt.retry_after is not None:
        delay = max(delay, min(attempt.retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: delta seconds or an HTTP-date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)
