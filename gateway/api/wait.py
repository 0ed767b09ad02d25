"""The bounded wait behind ``Prefer: wait=N``: watch the database, never the upstream.

The worker writes progress to the video row; the request thread only re-reads
that row until it is done or the deadline passes. Polling every quarter second
costs one primary-key read, cheap next to holding the request open.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_INTERVAL = 0.25


def wait_until_done(
    read: Callable[[], T],
    is_done: Callable[[T], bool],
    seconds: float,
    *,
    interval: float = POLL_INTERVAL,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Re-read with ``read()`` until ``is_done`` says so or ``seconds`` pass; the last read."""
    deadline = clock() + seconds
    row = read()
    while not is_done(row):
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(min(interval, remaining))
        row = read()
    return row
