"""Assembling a process: database, upstream client, engine, worker.

`nemo-gateway serve` runs web + worker (+ optionally the embedded sandbox) in
one gunicorn worker process (`ServingProcess`, served by `gateway/server.py`);
`nemo-gateway worker` runs the worker alone; the Procfile's gunicorn runs the
web app alone (`gateway.app:create_app()`), without any scheduler.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from gateway import __version__
from gateway.aio import LoopThread
from gateway.config import GatewayConfig
from gateway.jobs.engine import Engine
from gateway.media.store import MediaStore
from gateway.representation import Links
from gateway.store.db import Database
from gateway.upstream import Attribution, NemoClient, TokenProvider
from gateway.worker import Worker, worker_id

log = logging.getLogger(__name__)


def build_client(config: GatewayConfig) -> NemoClient:
    attribution = Attribution(source="nemo-gateway", version=__version__, platform=config.platform)
    tokens = TokenProvider(
        config.nemo_api_url,
        config.data_dir,
        token=config.nemo_token,
        attribution=attribution,
    )
    return NemoClient(
        config.nemo_api_url,
        tokens=tokens,
        attribution=attribution,
        max_retry_wait=config.timings.max_retry_wait,
        web_url=config.nemo_web_url,
    )


def public_base_url(config: GatewayConfig, host: str, port: int) -> str:
    return config.public_url or f"http://{host}:{port}"


@dataclass
class WorkerProcess:
    """The worker side: one loop thread, one upstream client, the scheduler ticks."""

    config: GatewayConfig
    links: Links
    db: Database
    on_change: Callable[[str], None] = field(default=lambda video_id: None)
    loop: LoopThread = field(init=False)
    worker: Worker = field(init=False)

    def __post_init__(self) -> None:
        from gateway.webhooks.delivery import Dispatcher, default_backoff

        self.loop = LoopThread("gateway-worker")
        client = build_client(self.config)
        engine = Engine(
            db=self.db,
            client=client,
            media=MediaStore(self.config.media_dir),
            config=self.config,
            links=self.links,
            owner=worker_id(),
            on_change=self.on_change,
        )
        scale = self.config.timings.webhook_backoff
        dispatcher = Dispatcher(
            self.db,
            owner=engine.owner,
            backoff=lambda attempt: default_backoff(attempt) * scale,
            url_guard=self.config.url_guard,
            timeout=self.config.webhook_timeout,
            max_attempts=self.config.webhook_max_attempts,
        )
        self.worker = Worker(engine=engine, loop=self.loop, dispatcher=dispatcher)

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()
        self.loop.stop()


@dataclass
class EmbeddedSandbox:
    """The sandbox upstream on a free loopback port, in this process."""

    data_dir: Path
    speed: float
    dialect: str = "default"
    initial_credits: int = 10_000
    server: BaseWSGIServer | None = None

    def start(self, host: str = "127.0.0.1") -> str:
        from gateway.sandbox.app import create_app
        from gateway.sandbox.config import SandboxConfig

        # Absolute: the sandbox serves its files from here whatever the cwd.
        self.data_dir = Path(self.data_dir).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = SandboxConfig(
            data_dir=self.data_dir,
            speed=self.speed,
            dialect=self.dialect,
            initial_credits=self.initial_credits,
        )
        app = create_app(config)
        self.server = make_server(host, 0, app, threaded=True)
        threading.Thread(target=self.server.serve_forever, name="sandbox", daemon=True).start()
        return f"http://{host}:{self.server.server_port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class ServingProcess:
    """What ``serve``'s one worker process runs: the web app, the worker side, the sandbox."""

    app: Any  # the Flask app
    worker: WorkerProcess
    db: Database
    embedded: EmbeddedSandbox | None = None

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        """After the last in-flight request: the scheduler, then the upstream, then the DB."""
        self.worker.stop()
        if self.embedded is not None:
            self.embedded.stop()
        self.db.dispose()
        log.info("worker %s stopped, database closed", self.worker.worker.owner)
