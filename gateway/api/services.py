"""What request handlers share: one ``Services`` object in ``app.extensions``.

Built once by ``gateway.app.create_app``. The upstream client and its event
loop thread are created on first use: only ``GET /v1/me`` needs them, and a web
process that never serves it should not open connections to NemoVideo.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import current_app, request

from gateway.aio import LoopThread
from gateway.config import GatewayConfig
from gateway.media.signing import UrlSigner
from gateway.media.store import MediaStore
from gateway.representation import Links
from gateway.store.db import Database

T = TypeVar("T")
EXTENSION = "gateway"


def _no_op() -> None:
    return None


@dataclass
class Services:
    config: GatewayConfig
    db: Database
    media: MediaStore
    signer: UrlSigner
    # Absolute links outside a request (webhook payloads built by the worker):
    # config.public_url, else a local default. Requests use links_for_request().
    links: Links
    # Builds the async NemoVideo client; called at most once, on first use.
    upstream_factory: Callable[[], Any]
    # Called after a handler created or changed work, so an in-process worker
    # can react at once instead of at its next tick.
    wake: Callable[[], None] = _no_op
    _upstream: Any = field(default=None, repr=False)
    _loop: LoopThread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def links_for_request(self) -> Links:
        """Links for the current request: the configured public URL, else the request's host."""
        if self.config.public_url:
            return self.links
        return Links(request.host_url.rstrip("/"), self.signer, self.config.output_url_ttl)

    def call_upstream(self, call: Callable[[Any], Coroutine[Any, Any, T]], timeout: float) -> T:
        """Run ``call(client)`` on the shared event loop and wait at most ``timeout`` s."""
        with self._lock:
            if self._loop is None:
                self._loop = LoopThread(name="gateway-web-loop", db_threads=2)
            if self._upstream is None:
                self._upstream = self.upstream_factory()
        future = self._loop.submit(call(self._upstream))
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()  # stop the call rather than leave it running on the loop
            raise

    def close(self) -> None:
        if self._loop is not None:
            aclose = getattr(self._upstream, "aclose", None)
            if aclose is not None:
                self._loop.run(aclose(), timeout=5)
            self._loop.stop()
        self.db.dispose()


def services() -> Services:
    """The current app's services (inside a request or app context)."""
    return current_app.extensions[EXTENSION]
