"""Real processes for end-to-end tests: the sandbox, the gateway, a webhook receiver.

Everything listens on 127.0.0.1 on a free port and is stopped by the fixture
that started it.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    """A child process that printed `ready_prefix` followed by its URL."""

    args: list[str]
    log_path: Path
    ready_prefix: str
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = ROOT
    proc: subprocess.Popen[str] | None = None
    url: str = ""

    def start(self, timeout: float = 60) -> Proc:
        # This checkout's package first, whatever the cwd (the venv may hold another one).
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path, **self.env}
        self.log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", *self.args],
            cwd=self.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.url = _read_ready_line(self.proc, self.ready_prefix, timeout, self.log_path)
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _read_ready_line(proc: subprocess.Popen[str], prefix: str, timeout: float, log: Path) -> str:
    found: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(prefix):
                found.append(line[len(prefix) :].strip())
                break
        for _ in proc.stdout:  # keep draining so the child never blocks on a full pipe
            pass

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not found and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if not found:
        proc.kill()
        raise RuntimeError(f"{prefix!r} never printed; log:\n{log.read_text()[-3000:]}")
    return found[0]


def sandbox(tmp: Path, speed: float, *extra: str, dialect: str = "default") -> Proc:
    args = ["sandbox", "--host", "127.0.0.1", "--port", "0", "--speed", str(speed)]
    args += ["--data-dir", str(tmp / "sandbox-data"), "--dialect", dialect, *extra]
    return Proc(args, tmp / "sandbox.log", "sandbox listening on ")


def gateway(tmp: Path, upstream: str, port: int, *, time_scale: float, **env: str) -> Proc:
    base_env = {
        "GATEWAY_DATA_DIR": str(tmp / "gateway-data"),
        "NEMO_API_URL": upstream,
        "GATEWAY_ALLOW_PRIVATE_URLS": "1",
        "GATEWAY_TIME_SCALE": str(time_scale),
        "GATEWAY_LEASE_SECONDS": "3",
        "GATEWAY_TICK_SECONDS": "0.2",
        "GATEWAY_WEBHOOK_TIMEOUT": "2",
        # Svix's schedule in milliseconds-to-seconds: 5 s -> 0.01 s, 5 min -> 0.6 s.
        "GATEWAY_WEBHOOK_BACKOFF": "0.002",
    }
    args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    return Proc(args, tmp / "gateway.log", "gateway listening on ", {**base_env, **env})


def serve_with_sandbox(tmp: Path, *extra: str, **env: str) -> Proc:
    """``nemo-gateway serve --sandbox`` on a free port: the one-machine command as shipped."""
    args = ["serve", "--sandbox", "--host", "127.0.0.1", "--port", "0", *extra]
    env = {"GATEWAY_DATA_DIR": str(tmp / "gateway-data"), **env}
    return Proc(args, tmp / "serve.log", "gateway listening on ", env)


def create_key(data_dir: Path, name: str = "test", **env: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "keys", "create", "--name", name],
        cwd=ROOT,
        env={**os.environ, "GATEWAY_DATA_DIR": str(data_dir), **env},
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """Collects POSTs; `status_for` decides each answer (e.g. fail the first one)."""

    def __init__(self, status_for: Callable[[int], int] = lambda n: 200) -> None:
        self.received: list[Received] = []
        self.status_for = status_for
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._cond:
                    n = len(receiver.received)
                    receiver.received.append(Received(self.path, dict(self.headers), body))
                    receiver._cond.notify_all()
                self.send_response(receiver.status_for(n))
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout: float
    ) -> list[Received]:
        with self._cond:
            self._cond.wait_for(lambda: predicate(self.received), timeout)
            return list(self.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_until(what: str, probe: Callable[[], Any], timeout: float) -> Any:
    """Poll ``probe`` until it answers something true; fail saying ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while (result := probe()) is None or not result:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)
    return result


def wait_status(
    http: httpx.Client, video_id: str, statuses: set[str], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    video: dict[str, Any] = {}
    while time.monotonic() < deadline:
        video = http.get(f"/v1/videos/{video_id}").json()
        if video["status"] in statuses:
            return video
        time.sleep(0.1)
    raise AssertionError(f"video stuck in {video.get('status')}/{video.get('stage')}: {video}")


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def static_site(root: Path) -> Iterator[str]:
    """The files under ``root`` served on 127.0.0.1 (for the gateway to fetch); its base URL."""
    handler = functools.partial(_QuietFiles, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
