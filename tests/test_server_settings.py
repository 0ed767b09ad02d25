"""``serve`` and the Procfile's ``web`` run gunicorn with the same settings module."""

from __future__ import annotations

import logging
import os
import shlex
import sys
from pathlib import Path

import pytest
from gunicorn.app.wsgiapp import WSGIApplication
from gunicorn.workers.gthread import ThreadWorker

from gateway import server
from gateway.config import from_env

ROOT = Path(__file__).resolve().parents[1]


def _procfile_web(monkeypatch: pytest.MonkeyPatch) -> WSGIApplication:
    """gunicorn's configuration as the Procfile's ``web`` line loads it."""
    line = next(x for x in (ROOT / "Procfile").read_text().splitlines() if x.startswith("web:"))
    argv = shlex.split(os.path.expandvars(line.removeprefix("web:")))
    assert argv[0] == "gunicorn"
    monkeypatch.setattr(sys, "argv", argv)
    return WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]")


def _serve(listen: server.Listen) -> server.EmbeddedServer:
    def build(port: int) -> server.Hosted:
        raise AssertionError("built only in the worker process")

    return server.EmbeddedServer(listen, build, lambda port: None)


def test_the_procfile_and_serve_share_backlog_and_worker_kind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("GATEWAY_BACKLOG", "GATEWAY_THREADS", "WEB_CONCURRENCY", "PORT"):
        monkeypatch.delenv(name, raising=False)
    web = _procfile_web(monkeypatch).cfg
    serve = _serve(server.Listen("127.0.0.1", 0)).cfg
    assert web.backlog == serve.backlog == 4096
    assert web.worker_class is serve.worker_class is server.GatewayWorker
    assert issubclass(server.GatewayWorker, ThreadWorker)  # gunicorn's gthread
    assert (web.workers, web.threads, web.address) == (3, 16, [("0.0.0.0", 8080)])
    # serve: one worker (the scheduler runs once), more threads, its own bind.
    assert (serve.workers, serve.threads, serve.address) == (1, 32, [("127.0.0.1", 0)])
    # No access log on either: a signed content link's query is a credential.
    assert web.accesslog is None and serve.accesslog is None


def test_serve_takes_its_own_backlog_and_threads() -> None:
    cfg = _serve(server.Listen("127.0.0.1", 9000, backlog=512, threads=4)).cfg
    assert (cfg.backlog, cfg.threads, cfg.address) == (512, 4, [("127.0.0.1", 9000)])


def test_an_ipv6_host_is_bound_as_one() -> None:
    cfg = _serve(server.Listen("::1", 9000)).cfg
    assert cfg.address == [("::1", 9000)]


def test_a_backlog_above_somaxconn_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cap = tmp_path / "somaxconn"
    cap.write_text("128\n")
    monkeypatch.setattr(server, "SOMAXCONN", cap)
    with caplog.at_level(logging.WARNING, logger="gateway.server"):
        server.warn_if_capped(128)
        assert caplog.records == []
        server.warn_if_capped(4096)
    assert "capped at net.core.somaxconn=128" in caplog.text


def test_the_worker_s_in_flight_cap_comes_from_the_environment() -> None:
    # The burst test runs serve with a small cap, so that the burst gets the cores.
    assert from_env({}).max_in_flight == 5000
    assert from_env({"GATEWAY_MAX_IN_FLIGHT": "20"}).max_in_flight == 20
