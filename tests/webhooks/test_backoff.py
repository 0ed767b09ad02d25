import pytest

from gateway.webhooks.delivery import (
    BACKOFF_SCHEDULE,
    Attempt,
    Outcome,
    canonical_body,
    decide,
    default_backoff,
)


def test_without_jitter_the_schedule_is_exact() -> None:
    assert [default_backoff(n, rand=lambda: 0.5) for n in (1, 2, 3, 4, 5, 6)] == [
        5,
        30,
        120,
        600,
        1800,
        3600,
    ]
    assert default_backoff(100, rand=lambda: 0.5) == BACKOFF_SCHEDULE[-1]


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


def test_twelve_attempts_span_about_two_to_three_days() -> None:
    total = sum(default_backoff(n, rand=lambda: 0.5) for n in range(1, 12))
    assert 2 * 86400 <= total <= 3 * 86400


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
