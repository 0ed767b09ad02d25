"""A burst of wakes while a claim runs: one more claim, no scheduler warnings."""

from __future__ import annotations

import logging
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from gateway.worker import Worker


class SlowClaims(Worker):
    """A worker whose claim takes a while and counts its runs."""

    def __init__(self, **kwargs: Any) -> None:
        self.runs = 0
        self.release = threading.Event()
        super().__init__(**kwargs)

    def claim_tick(self) -> None:
        self.runs += 1
        self.release.wait(5)


def idle_engine() -> Any:
    # Ticks far apart: only wakes run a claim during the test.
    return SimpleNamespace(timings=SimpleNamespace(tick=3600, lease=3600), owner="test")


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_wakes_during_a_claim_run_it_once_more(caplog: pytest.LogCaptureFixture) -> None:
    worker = SlowClaims(engine=idle_engine(), loop=None)
    worker.start()
    try:
        with caplog.at_level(logging.WARNING):
            worker.wake()
            wait_for(lambda: worker.runs == 1)
            for _ in range(500):  # a burst of creates while that claim runs
                worker.wake()
            worker.release.set()
            wait_for(lambda: worker.runs == 2)
            time.sleep(0.2)  # no third run follows
        assert worker.runs == 2
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    finally:
        worker.release.set()
        worker.stop()


def test_a_wake_after_a_claim_ended_runs_a_new_one() -> None:
    worker = SlowClaims(engine=idle_engine(), loop=None)
    worker.release.set()
    worker.start()
    try:
        worker.wake()
        wait_for(lambda: worker.runs == 1)
        wait_for(lambda: not worker._claim_wake.running)
        worker.wake()
        wait_for(lambda: worker.runs == 2)
    finally:
        worker.stop()
