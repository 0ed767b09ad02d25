"""The render poll schedule (``gateway.jobs.steps.next_poll``) without a worker."""

from __future__ import annotations

from dataclasses import replace

from gateway.config import Timings
from gateway.jobs.steps import _schedule_elapsed, next_poll, poll_delay


def test_the_schedule_is_geometric_then_capped_while_a_render_should_end() -> None:
    t = Timings()
    delays = [poll_delay(t, i) for i in range(12)]
    assert delays[:5] == [2.0, 3.0, 4.5, 6.75, 10.125]
    # From 24 s of rendering on (renders take 30-90 s), at most every 2 s.
    assert _schedule_elapsed(t, 5) > t.poll_late_after
    assert all(d == t.poll_late for d in delays[5:])


def test_the_late_ceiling_ends_and_can_be_turned_off() -> None:
    t = Timings()
    late = [poll_delay(t, i) for i in range(200)]
    assert late[-1] == t.poll_max  # a render far past 180 s is polled at the ceiling again
    flat = replace(t, poll_first=30.0, poll_factor=1.0, poll_max=30.0, poll_late=0.0)
    assert {poll_delay(flat, i) for i in range(20)} == {30.0}


def test_a_moving_progress_predicts_the_next_poll_uncounted() -> None:
    t = Timings()
    # 40% -> 60% in 5 s: 10 s left; the next poll lands a little early.
    count, delay = next_poll(t, 4, 70 + 10, 5.0, 0.6)
    assert count == 4 and 5 < delay < 10


def test_progress_without_a_usable_estimate_gets_the_late_ceiling() -> None:
    t = Timings()
    # Progress did not move since the last sample (or is unknown): no estimate,
    # so the schedule decides, and late in a render that is at most 2 s.
    for progress in (None, 0.0, 0.4):
        count, delay = next_poll(t, 6, 70 + 10, 1.0, progress)
        assert (count, delay) == (7, t.poll_late)


def test_the_schedule_time_never_overstates_the_render_time() -> None:
    t = Timings()
    # Counted polls sleep at least their scheduled delay, so the deadline
    # (render_deadline against _schedule_elapsed) is never reached early.
    for n in range(1, 120):
        assert _schedule_elapsed(t, n) == sum(poll_delay(t, i) for i in range(n))
