"""The bounded wait behind ``Prefer: wait``: it ends when the work does, at its
deadline, or as soon as the process begins to stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from gateway.api import wait


@pytest.fixture
def stop_flag() -> Iterator[threading.Event]:
    wait.stopping.clear()
    try:
        yield wait.stopping
    finally:
        wait.stopping.clear()


def test_a_wait_ends_when_the_work_is_done(stop_flag: threading.Event) -> None:
    reads = iter(["queued", "generating", "succeeded"])
    last = wait.wait_until_done(lambda: next(reads), lambda s: s == "succeeded", 5, interval=0)
    assert last == "succeeded"


def test_a_stop_ends_a_wait_at_once(stop_flag: threading.Event) -> None:
    reads: list[int] = []

    def read() -> str:
        reads.append(1)
        if len(reads) == 2:
            stop_flag.set()  # the stop begins while the request waits
        return "generating"

    last = wait.wait_until_done(read, lambda s: s == "succeeded", 3600, interval=0.01)
    # Answered with the row read when the stop began, not after an hour.
    assert last == "generating" and len(reads) == 2


def test_the_default_sleep_wakes_on_a_stop(stop_flag: threading.Event) -> None:
    timer = threading.Timer(0.05, stop_flag.set)
    timer.start()
    try:
        last = wait.wait_until_done(lambda: "generating", lambda s: False, 3600, interval=3600)
    finally:
        timer.cancel()
    assert last == "generating"
