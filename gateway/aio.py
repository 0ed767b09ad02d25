"""One asyncio event loop on a background thread, shared by a process.

The worker runs thousands of upstream SSE streams as coroutines on it, and the
web side uses it for the rare upstream call a request needs (credits), so the
process holds one async HTTP client instead of one thread per stream.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str = "gateway-loop", db_threads: int = 16) -> None:
        self.loop = asyncio.new_event_loop()
        # Database calls run in this pool (asyncio.to_thread); the default pool
        # has only cpu+4 threads, too few when many videos write at once.
        self.loop.set_default_executor(
            concurrent.futures.ThreadPoolExecutor(db_threads, thread_name_prefix="gateway-db")
        )
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return self.submit(coro).result(timeout)

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
