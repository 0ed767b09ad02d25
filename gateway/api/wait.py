"""The bounded wait behind ``Prefer: wait=N``: watch the database, never the upstream.

The worker writes progress to the video row; the request thread only re-reads
that row until it is done or the deadline passes. Polling every quarter second
costs one primary-key read, cheap next to holding the request open.

Once the process begins to stop (``stopping``, set by ``serve`` on SIGTERM or
SIGINT), every wait answers with what it has: a graceful stop is not held up
to a minute by a client's ``Prefer: wait``, which the client follows up by
polling as after any short wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_INTERVAL = 0.25
stopping = threading.Event()


def wait_until_done(
    read: Callable[[], T],
    is_done: Callable[[T], bool],
    seconds: float,
    *,
    interval: float = POLL_INTERVAL,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = stopping.wait,  # a sleep that a stop cuts short
) -> T:
    """Re-read with ``read()`` until ``is_done`` says so, ``seconds`` pass or the process
    stops; the last read."""
    deadline = clock() + seconds
    row = read()
    while not is_done(row) and not stopping.is_set():
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(min(interval, remaining))
        row = read()
    return row
