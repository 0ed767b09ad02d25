from datetime import UTC, datetime

import pytest

from gateway.webhooks.delivery import (
    BACKOFF_SCHEDULE,
    Attempt,
    Outcome,
    canonical_body,
    decide,
    default_backoff,
)
from gateway.webhooks.policy import DEFAULT_MAX_ATTEMPTS, parse_retry_after, retry_delay


def test_without_jitter_the_schedule_is_svix_s() -> None:
    # After the first (immediate) attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    assert [default_backoff(n, rand=lambda: 0.5) for n in range(1, 8)] == [
        5,
        300,
        1800,
        7200,
        18000,
        36000,
        36000,
    ]
    assert default_backoff(100, rand=lambda: 0.5) == BACKOFF_SCHEDULE[-1]
    assert DEFAULT_MAX_ATTEMPTS == 8


@pytest.mark.parametrize("attempt", range(1, 16))
def test_jitter_bounds(attempt: int) -> None:
    base = default_backoff(attempt, rand=lambda: 0.5)
    assert default_backoff(attempt, rand=lambda: 0.0) == pytest.approx(base * 0.8)
    assert default_backoff(attempt, rand=lambda: 0.999999) == pytest.approx(base * 1.2, rel=1e-5)
    for _ in range(50):
        assert base * 0.8 <= default_backoff(attempt) <= base * 1.2


def test_monotone_without_jitter_and_never_shrinking_much_with_it() -> None:
    bases = [default_backoff(n, rand=lambda: 0.5) for n in range(1, 16)]
    assert bases == sorted(bases)
    for n in range(1, 15):
        # Even the worst jitter draw keeps a later delay at least 80% of... the earlier one's.
        assert default_backoff(n + 1, rand=lambda: 0.0) >= 0.8 * default_backoff(
            n, rand=lambda: 0.0
        )


def test_eight_attempts_span_about_27_hours() -> None:
    total = sum(default_backoff(n, rand=lambda: 0.5) for n in range(1, DEFAULT_MAX_ATTEMPTS))
    assert total == 5 + 300 + 1800 + 7200 + 18000 + 36000 + 36000


@pytest.mark.parametrize(
    ("attempt", "made", "expected"),
    [
        (Attempt(200, None), 1, Outcome.SUCCEEDED),
        (Attempt(204, None), 12, Outcome.SUCCEEDED),
        (Attempt(410, None), 1, Outcome.GONE),
        (Attempt(500, None), 1, Outcome.RETRY),
        (Attempt(301, None), 1, Outcome.RETRY),
        (Attempt(None, "ReadTimeout"), 11, Outcome.RETRY),
        (Attempt(500, None), 12, Outcome.DEAD),
        (Attempt(None, "scheme must be http or https", permanent=True), 1, Outcome.DEAD),
    ],
)
def test_decide(attempt: Attempt, made: int, expected: Outcome) -> None:
    assert decide(attempt, made, max_attempts=12) is expected


def test_canonical_body_is_compact_utf8() -> None:
    body = canonical_body({"type": "video.completed", "data": {"title": "Café"}})
    assert body == '{"type":"video.completed","data":{"title":"Café"}}'.encode()
    assert canonical_body('{"a": 1}') == b'{"a":1}'


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [
        (Attempt(429, None, retry_after=120), 120),  # longer than the schedule: honoured
        (Attempt(503, None, retry_after=1), 5),  # shorter: the schedule still applies
        (Attempt(429, None, retry_after=10**9), 86400),  # capped at a day
        (Attempt(500, None, retry_after=120), 5),  # only 429 and 503 carry it
        (Attempt(429, None), 5),
    ],
)
def test_retry_after_on_429_and_503(attempt: Attempt, expected: float) -> None:
    assert retry_delay(attempt, 1, lambda n: default_backoff(n, rand=lambda: 0.5)) == expected


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_retry_after("30", now) == 30
    assert parse_retry_after("Wed, 01 Jan 2025 00:01:00 GMT", now) == 60
    assert parse_retry_after("Tue, 31 Dec 2024 00:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
