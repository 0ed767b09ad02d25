"""gunicorn, embedded: how ``nemo-gateway serve`` serves HTTP.

gunicorn (a ``BaseApplication``) rather than Werkzeug's development server:
it is well kept, already the Procfile's server, takes the listen backlog as a
setting (Werkzeug's is fixed at 128, which reset a quarter of a 500-request
burst) and stops gracefully. The embedding API lets ``serve`` keep its own
options and run code around serving.

The shape of the process: gunicorn's master binds the socket (so port 0 works:
the worker learns the real port) and forks exactly one gthread worker. That
worker builds everything (``build(port)``: embedded sandbox, app, database),
then starts the background work once it is loaded (``post_worker_init``), so
the scheduler runs once, in the process that serves. One worker because the
scheduler must not run twice; threads give the concurrency. If the worker
dies, the master forks a new one that builds it all again.

Shutdown: SIGTERM or SIGINT to the master (or SIGINT to the whole group, as
Ctrl-C sends) stops accepting, answers the requests in a ``Prefer: wait``
(``GatewayWorker``), lets in-flight requests finish (up to ``graceful_timeout``), then
``stop()`` runs in the worker (scheduler, sandbox, database). A ``kill -9``
of the master takes the worker with it (Linux ``PR_SET_PDEATHSIG``): the
command stays one unit, as a crash test expects, and leaves no orphan holding
the port.

Nothing after ``run()`` runs in the master alone: the forked worker returns
through the same stack, so clean-up lives in the hooks, never in a ``finally``
around ``run()``.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.gthread import ThreadWorker

from gateway import gunicorn_conf
from gateway.api import wait as api_wait

log = logging.getLogger(__name__)

# One process holds what the Procfile spreads over three workers, and each
# `Prefer: wait` holds a thread for up to a minute.
SERVE_THREADS = 32
SOMAXCONN = Path("/proc/sys/net/core/somaxconn")
_PR_SET_PDEATHSIG = 1


class Hosted(Protocol):
    """What the worker process runs: a WSGI app, with work started and stopped around it."""

    app: Any

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class Listen:
    host: str
    port: int  # 0: any free port
    backlog: int = gunicorn_conf.backlog
    threads: int = SERVE_THREADS
    verbose: bool = False


def shared_settings() -> dict[str, Any]:
    """The Procfile's settings (``gateway.gunicorn_conf``), by gunicorn's names."""
    return {k: v for k, v in vars(gunicorn_conf).items() if not k.startswith("_")}


class GatewayWorker(ThreadWorker):
    """gunicorn's gthread worker (the Procfile's and serve's), and at a stop:

    - SIGINT stops it gracefully, like SIGTERM (gunicorn's own SIGINT drops
      in-flight requests, and under serve the scheduler and database with them);
    - requests in a ``Prefer: wait`` answer at once, so a client's wait of up to
      a minute does not hold the stop (``gateway.api.wait.stopping``).
    """

    def init_signals(self) -> None:
        super().init_signals()
        signal.signal(signal.SIGINT, self.handle_exit)

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        api_wait.stopping.set()


class _Arbiter(Arbiter):
    def handle_int(self) -> None:
        # gunicorn's SIGINT is a quick stop that drops in-flight requests.
        self.handle_term()


class EmbeddedServer(BaseApplication):
    """Serve ``build(port)``'s app on one gthread worker; ``on_serving(port)`` once it is up."""

    def __init__(
        self, listen: Listen, build: Callable[[int], Hosted], on_serving: Callable[[int], None]
    ) -> None:
        self.listen = listen
        self.build = build
        self.on_serving = on_serving
        self.port = listen.port
        self.hosted: Hosted | None = None
        super().__init__()

    def load_config(self) -> None:
        settings = shared_settings()
        settings.update(
            bind=[bind_address(self.listen.host, self.listen.port)],
            workers=1,
            threads=self.listen.threads,
            backlog=self.listen.backlog,
            loglevel="debug" if self.listen.verbose else "info",
            when_ready=self._when_ready,
            post_fork=self._post_fork,
            post_worker_init=self._post_worker_init,
            worker_exit=self._worker_exit,
        )
        for key, value in settings.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Any:
        # In the worker, after the fork: nothing of the app lives in the master.
        self.hosted = self.build(self.port)
        return self.hosted.app

    def run(self) -> None:
        _Arbiter(self).run()

    # -- hooks ---------------------------------------------------------------

    def _when_ready(self, arbiter: Arbiter) -> None:
        # The master has bound the socket: with port 0, this is where the port is known.
        self.port = arbiter.LISTENERS[0].sock.getsockname()[1]
        warn_if_capped(self.listen.backlog)

    def _post_fork(self, arbiter: Arbiter, worker: Any) -> None:
        die_with_parent()
        if os.getppid() != arbiter.pid:  # the master died before the ask took hold
            os._exit(1)

    def _post_worker_init(self, worker: Any) -> None:
        assert self.hosted is not None
        self.hosted.start()
        self.on_serving(self.port)

    def _worker_exit(self, arbiter: Arbiter, worker: Any) -> None:
        if self.hosted is not None:
            self.hosted.stop()


def bind_address(host: str, port: int) -> str:
    """gunicorn's ``bind`` for a host and port (an IPv6 address goes in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def warn_if_capped(backlog: int) -> None:
    """The kernel silently shortens a listen queue longer than net.core.somaxconn: say so."""
    try:
        cap = int(SOMAXCONN.read_text())
    except (OSError, ValueError):
        return
    if cap < backlog:
        log.warning(
            "listen backlog %d is capped at net.core.somaxconn=%d; raise it (sysctl) to hold "
            "bursts of that size",
            backlog,
            cap,
        )


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
