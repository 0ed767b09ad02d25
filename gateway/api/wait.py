"""The bounded wait behind ``Prefer: wait=N``: watch the database, never the upstream.

The worker writes progress to the video row; the request thread only re-reads
that row until it is terminal or the deadline passes. Polling every quarter
second costs one indexed primary-key read, cheap next to holding the request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gateway.jobs.states import is_terminal

POLL_INTERVAL = 0.25


def wait_for_terminal(
    read: Callable[[], Any],
    seconds: float,
    *,
    interval: float = POLL_INTERVAL,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Re-read with ``read()`` until the row's status is terminal or ``seconds`` pass.

    Returns the last row read (None if it disappeared).
    """
    deadline = clock() + seconds
    row = read()
    while row is not None and not is_terminal(row.status):
        remaining = deadline - clock()
        if remaining <= 0:
            break
        sleep(min(interval, remaining))
        row = read()
    return row
