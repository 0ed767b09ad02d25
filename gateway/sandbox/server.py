"""Serve the sandbox with werkzeug's threaded server until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from werkzeug.serving import make_server

from gateway.sandbox.app import create_app
from gateway.sandbox.config import SandboxConfig


def serve(
    host: str,
    port: int,
    speed: float,
    data_dir: str | Path,
    silent_edit_share: float = 0.3,
    max_upload_bytes: int = 500 * 1024 * 1024,
    **settings: object,
) -> None:
    config = SandboxConfig(
        data_dir=Path(data_dir).resolve(),  # SandboxConfig resolves too: say it where it matters
        speed=speed,
        silent_edit_share=silent_edit_share,
        max_upload_bytes=max_upload_bytes,
        **settings,  # type: ignore[arg-type]
    )
    config.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(config)
    server = make_server(host, port, app, threaded=True)
    _stop_on_signals(server)
    print(f"sandbox dialect {config.dialect}, data in {config.data_dir}", file=sys.stderr)
    print(f"sandbox listening on http://{host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        app.extensions["sandbox.renders"].shutdown()


def _stop_on_signals(server: object) -> None:
    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever to return: never call it on the serving thread.
        threading.Thread(target=server.shutdown, daemon=True).start()  # type: ignore[attr-defined]

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stdout.flush()
