"""A throwaway PostgreSQL server for tests, or an existing one.

``TEST_DATABASE_URL`` (a database on a server where the user may create
databases) skips starting anything. Otherwise ``initdb`` builds a cluster in
a temporary directory and ``pg_ctl`` runs it on a free local port; as root,
both run as the ``postgres`` user because PostgreSQL refuses to run as root.
Each test gets its own database from ``create_database``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

URL_ENV = "TEST_DATABASE_URL"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries and no TEST_DATABASE_URL."""


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl, if any."""
    for candidate in (shutil.which("initdb"), "/usr/local/bin/initdb"):
        if candidate and Path(candidate).exists():
            return Path(candidate).resolve().parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        bindir = Path(out.stdout.strip())
        if (bindir / "initdb").exists():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """Start with ``start()``, then ``create_database()`` per test, ``stop()`` at the end."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url  # admin URL (libpq form), set by start() when we own the server
        self._datadir: Path | None = None
        self._bindir: Path | None = None

    @classmethod
    def from_env(cls) -> PostgresServer:
        server = cls(os.environ.get(URL_ENV) or None)
        if server.url is None:
            server.start()
        return server

    def start(self) -> None:
        self._bindir = find_bindir()
        if self._bindir is None:
            raise PostgresUnavailable(f"no initdb found and {URL_ENV} is not set")
        self._datadir = Path(tempfile.mkdtemp(prefix="gateway-pg-"))
        port = _free_port()
        self._run_as_owner("initdb", "-D", str(self._datadir), "-A", "trust", "-U", "postgres")
        options = (
            f"-p {port} -k {self._datadir} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        log = self._datadir / "server.log"
        self._run_as_owner(
            "pg_ctl", "-D", str(self._datadir), "-o", options, "-l", str(log), "-w", "start"
        )
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def stop(self) -> None:
        if self._datadir is None:
            return
        self._run_as_owner("pg_ctl", "-D", str(self._datadir), "-m", "fast", "-w", "stop")
        shutil.rmtree(self._datadir, ignore_errors=True)
        self._datadir = None

    def create_database(self, template: str | None = None) -> str:
        """A new database (a copy of ``template`` if given); returns its SQLAlchemy URL."""
        name = "t_" + uuid.uuid4().hex[:16]
        copy = f' TEMPLATE "{make_url(template).database}"' if template else ""
        self._admin(f'CREATE DATABASE "{name}"{copy}')
        return self._url_for(name)

    def create_template(self, prepare: Callable[[str], None]) -> str:
        """A database prepared once (e.g. migrated) for ``create_database`` to copy.

        Copying a template is much faster than migrating every test's database.
        ``prepare`` must close its connections: PostgreSQL copies only idle templates.
        """
        url = self.create_database()
        prepare(url)
        return url

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _url_for(self, name: str) -> str:
        assert self.url is not None
        url = make_url(self.url).set(drivername="postgresql+psycopg", database=name)
        return url.render_as_string(hide_password=False)

    def _admin(self, sql: str) -> None:
        assert self.url is not None
        # CREATE/DROP DATABASE cannot run inside a transaction.
        conninfo = make_url(self.url).set(drivername="postgresql")
        with psycopg.connect(conninfo.render_as_string(hide_password=False), autocommit=True) as c:
            c.execute(sql)

    def _run_as_owner(self, tool: str, *args: str) -> None:
        assert self._bindir is not None and self._datadir is not None
        command = [str(self._bindir / tool), *args]
        if os.geteuid() == 0:
            shutil.chown(self._datadir, "postgres")
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            log = self._datadir / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{tool} failed: {result.stderr.strip()}\n{tail}")


def server_for_tests() -> PostgresServer:
    """A server for a test: skipped without PostgreSQL, a failure under CI (it must be there)."""
    import pytest

    try:
        return PostgresServer.from_env()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required under CI: {exc}")
        pytest.skip(str(exc))
