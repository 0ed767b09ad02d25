"""One real sandbox process per test session, reset before every test.

Tests talk to it over HTTP with plain httpx, exactly as the gateway will.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .support import Nemo

ROOT = Path(__file__).resolve().parents[2]
SPEED = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    found: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("sandbox listening on "):
                found.append(line.split(" on ", 1)[1].strip())
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not found:
        raise RuntimeError("the sandbox did not start")
    return found[0]


@pytest.fixture(scope="session")
def sandbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("sandbox")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "gateway.cli", "sandbox", "--host", "127.0.0.1"]
    cmd += ["--port", str(free_port()), "--speed", str(SPEED), "--data-dir", str(tmp / "data")]
    with (tmp / "stderr.log").open("w") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True
        )
        try:
            yield _wait_ready(proc)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def base_url(sandbox_process: str) -> str:
    httpx.post(f"{sandbox_process}/_sandbox/reset").raise_for_status()
    return sandbox_process


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


@pytest.fixture
def nemo(http: httpx.Client) -> Nemo:
    return Nemo(http)
