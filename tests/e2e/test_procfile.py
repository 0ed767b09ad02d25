"""The Procfile's split: gunicorn serves the API without a scheduler, and a
separate `nemo-gateway worker` does the work."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests import processes


def _gunicorn(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    bind = f"127.0.0.1:{port}"
    # The Procfile's settings module; the command line wins for the rest.
    conf = ["-c", "python:gateway.gunicorn_conf"]
    cmd = [sys.executable, "-m", "gunicorn", *conf, "--workers", "2", "--bind", bind]
    return subprocess.Popen(
        [*cmd, "gateway.app:create_app()"],
        cwd=processes.ROOT,
        env={**os.environ, **env},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def _ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("gunicorn never became ready")


def test_gunicorn_web_plus_separate_worker(tmp_path: Path) -> None:
    sandbox = processes.sandbox(tmp_path, 200).start()
    port = processes.free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "NEMO_API_URL": sandbox.url,
        "GATEWAY_TIME_SCALE": "200",
        "GATEWAY_TICK_SECONDS": "0.2",
        "GATEWAY_PUBLIC_URL": url,
    }
    key = processes.create_key(tmp_path / "data", **env)
    web = _gunicorn(port, env, tmp_path / "web.log")
    worker = None
    try:
        _ready(url)
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"})
        vid = api.post("/v1/videos", json={"prompt": "city lights", "duration_seconds": 2}).json()
        time.sleep(1.5)
        # No scheduler runs in the web workers: nothing picks the video up.
        assert api.get(f"/v1/videos/{vid['id']}").json()["status"] == "queued"
        worker = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "worker"],
            cwd=processes.ROOT,
            env={**os.environ, **env},
            stdout=(tmp_path / "worker.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        final = processes.wait_status(api, vid["id"], {"succeeded", "failed"}, timeout=60)
        assert final["status"] == "succeeded", final["error"]
        assert final["output"]["url"].startswith(url)
        assert httpx.get(final["output"]["url"]).status_code == 200
    finally:
        for proc in (worker, web):
            if proc is not None:
                proc.terminate()
                proc.wait(15)
        sandbox.stop()
