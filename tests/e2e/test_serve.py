"""``nemo-gateway serve --sandbox`` under gunicorn: one worker process with the
scheduler, links on the port it really got, graceful stops, no orphan."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests import processes


def _worker_pid(log: Path) -> int:
    found = re.findall(r"Booting worker with pid: (\d+)", log.read_text())
    assert len(found) == 1, found
    return int(found[0])


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _waiting_create(
    url: str, key: str, wait: int, answers: list[httpx.Response | Exception]
) -> None:
    """A create that waits ``wait`` s for its video; its answer, or what went wrong."""
    try:
        answers.append(
            httpx.post(
                f"{url}/v1/videos",
                json={"prompt": "a slow sunrise"},
                headers={"Authorization": f"Bearer {key}", "Prefer": f"wait={wait}"},
                timeout=60,
            )
        )
    except Exception as exc:
        answers.append(exc)


@pytest.mark.slow
def test_a_video_from_serve_with_its_embedded_sandbox(tmp_path: Path) -> None:
    key = processes.create_key(tmp_path / "gateway-data")
    proc = processes.serve_with_sandbox(tmp_path, "--sandbox-speed", "200").start()
    try:
        api = httpx.Client(
            base_url=proc.url, headers={"Authorization": f"Bearer {key}"}, timeout=90
        )
        r = api.post(
            "/v1/videos",
            json={"prompt": "a paper boat on a river", "duration_seconds": 2},
            headers={"Prefer": "wait=60"},
        )
        assert r.status_code == 200, r.text
        video = r.json()
        # Port 0 became a real port, and the links carry it.
        assert video["output"]["url"].startswith(proc.url)
        assert httpx.get(video["output"]["url"], timeout=30).status_code == 200
    finally:
        proc.stop()
    assert proc.proc is not None and proc.proc.returncode == 0
    log = (tmp_path / "serve.log").read_text()
    # One worker process, so one scheduler; it was stopped and the database closed.
    assert len(re.findall(r"gateway\.worker: worker \S+ started", log)) == 1
    assert "stopped, database closed" in log


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_answers_the_request_in_flight_then_closes(tmp_path: Path, signum: int) -> None:
    key = processes.create_key(tmp_path / "gateway-data")
    # Speed 1: the generation outlasts the wait, so the answer is a wait's 202.
    proc = processes.serve_with_sandbox(tmp_path, "--sandbox-speed", "1").start()
    assert proc.proc is not None
    answers: list[httpx.Response | Exception] = []
    client = threading.Thread(target=_waiting_create, args=(proc.url, key, 30, answers))
    try:
        sent = time.monotonic()
        client.start()
        time.sleep(1.5)  # the request is in its wait
        proc.proc.send_signal(signum)
        client.join(45)
        answered = time.monotonic() - sent
        assert proc.proc.wait(30) == 0
    finally:
        proc.stop()
    assert len(answers) == 1 and isinstance(answers[0], httpx.Response), answers
    assert answers[0].status_code == 202
    # Answered when the stop began, not at the end of its 30 s wait: a stop is
    # not held by a client's wait. (gunicorn's own SIGINT drops the scheduler
    # and the database at once and leaves the request to run out its wait.)
    assert answered < 20, answered
    assert "stopped, database closed" in (tmp_path / "serve.log").read_text()


@pytest.mark.slow
def test_kill_9_of_serve_takes_its_worker_and_frees_the_port(tmp_path: Path) -> None:
    key = processes.create_key(tmp_path / "gateway-data")
    proc = processes.serve_with_sandbox(tmp_path, "--sandbox-speed", "1").start()
    port = int(proc.url.rsplit(":", 1)[1])
    worker = _worker_pid(tmp_path / "serve.log")
    answers: list[httpx.Response | Exception] = []
    client = threading.Thread(
        target=_waiting_create, args=(proc.url, key, 20, answers), daemon=True
    )
    client.start()
    time.sleep(1.5)  # the request is in its wait
    proc.kill9()
    # A crash, as crash tests need: the worker died with the request, it did not
    # linger to finish it (gunicorn's own way when its master disappears).
    assert _gone(worker, timeout=10), "the worker outlived its master"
    client.join(30)
    assert len(answers) == 1 and isinstance(answers[0], httpx.TransportError), answers
    with socket.socket() as s:  # a restart on the same port can bind at once
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()


@pytest.mark.slow
def test_an_idle_connection_is_kept_longer_than_clients_keep_it(tmp_path: Path) -> None:
    # Node's global agent and httpx reuse an idle socket for up to 5 s; a
    # server that closes it sooner races them ("socket hang up").
    proc = processes.serve_with_sandbox(tmp_path).start()
    host, port = proc.url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/healthz")
        assert conn.getresponse().read() is not None
        sock = conn.sock
        time.sleep(6)
        conn.request("GET", "/healthz")
        answer = conn.getresponse()
        assert answer.status == 200
        assert conn.sock is sock, "the connection was not reused"
    finally:
        conn.close()
        proc.stop()
