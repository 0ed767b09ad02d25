"""The gateway's process commands: serve, worker, keys. (The CLI parses, these run.)"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path

from gateway.config import GatewayConfig, Timings, from_env
from gateway.runtime import EmbeddedSandbox, ServingProcess, WorkerProcess, public_base_url
from gateway.server import EmbeddedServer, Listen
from gateway.store.db import Database
from gateway.store.keys import create_key

log = logging.getLogger("gateway")


def load_config(data_dir: str | None, **overrides: object) -> GatewayConfig:
    return from_env(data_dir=Path(data_dir) if data_dir else None, **overrides)


@dataclass(frozen=True)
class SandboxOptions:
    """How to run the embedded sandbox upstream (``serve --sandbox``)."""

    speed: float = 10.0
    dialect: str = "default"
    initial_credits: int = 10_000


def serve(config: GatewayConfig, listen: Listen, sandbox: SandboxOptions | None = None) -> None:
    """Web + worker in one process; with sandbox options, the embedded sandbox too.

    Served by gunicorn (``gateway/server.py``): ``build`` runs in its worker
    process once the port is bound, so a port of 0 becomes the real one here.
    """

    def build(port: int) -> ServingProcess:
        from gateway.app import create_app

        settings, embedded = config, None
        if sandbox is not None:
            settings, embedded = with_embedded_sandbox(config, sandbox)
        settings = settings.with_overrides(public_url=public_base_url(settings, listen.host, port))
        app = create_app(settings)
        services = app.extensions["gateway"]
        worker = WorkerProcess(settings, services.links, services.db)
        services.wake = worker.worker.wake
        return ServingProcess(app, worker, services.db, embedded)

    def serving(port: int) -> None:
        print(f"gateway listening on http://{listen.host}:{port}", flush=True)

    EmbeddedServer(listen, build, serving).run()


def with_embedded_sandbox(
    config: GatewayConfig, sandbox: SandboxOptions
) -> tuple[GatewayConfig, EmbeddedSandbox]:
    """Start the sandbox upstream in this process; the config that points at it."""
    embedded = EmbeddedSandbox(
        config.data_dir / "sandbox", sandbox.speed, sandbox.dialect, sandbox.initial_credits
    )
    url = embedded.start()
    log.info(
        "embedded sandbox upstream at %s (speed x%g, dialect %s)",
        url,
        sandbox.speed,
        sandbox.dialect,
    )
    config = config.with_overrides(
        nemo_api_url=url, nemo_token=None, timings=Timings().scaled(sandbox.speed)
    )
    return config, embedded


def run_worker(config: GatewayConfig) -> None:
    from gateway.app import create_app

    app = create_app(config)  # the same services (db, links) the web side uses
    services = app.extensions["gateway"]
    worker = WorkerProcess(config, services.links, services.db)
    worker.start()
    print("worker running", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
    worker.stop()


def create_api_key(config: GatewayConfig, name: str) -> str:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(config.db_url)
    db.upgrade()
    key, plaintext = create_key(db, name)
    db.dispose()
    print(f"created key {key.id} ({name}); it is shown once, store it now:")
    return plaintext
