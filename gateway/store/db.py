"""The database handle: engine, unit-of-work sessions, write transactions, migrations.

SQLite (a WAL file) is the default and PostgreSQL is used when the URL says
so. On SQLite every ``write()`` transaction starts with ``BEGIN IMMEDIATE``:
a deferred transaction that reads and then writes fails with SQLITE_BUSY at
once when another writer got in between, whatever the busy timeout.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

# Execution option read by the "begin" hook to pick the SQLite BEGIN flavour.
_BEGIN_OPTION = "gateway_sqlite_begin"
# Any constant works: it only serialises concurrent upgrades on one server.
_MIGRATION_LOCK_ID = 0x6E656D6F

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
)


def normalize_url(url: str) -> str:
    """Map ``postgres://`` and ``postgresql://`` to the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Database:
    """One engine per process; sessions and write transactions come from here."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.engine: Engine = create_engine(self.url, echo=echo, **_engine_kwargs(self.url))
        self.dialect: str = self.engine.dialect.name
        write_engine = self.engine
        if self.dialect == "sqlite":
            _install_sqlite_hooks(self.engine)
            # Shares the pool and the hooks; only the BEGIN flavour differs.
            write_engine = self.engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        # Objects stay readable after commit: callers get plain data back.
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(write_engine, expire_on_commit=False)
        # SQLite takes one writer at a time, and a writer that finds the lock
        # taken sleeps in the driver's busy handler (1 ms, 2 ms, ... 100 ms
        # naps) while the lock may already be free: under a dozen threads that
        # wasted most of the write capacity and made second-long tails. The
        # threads of one process queue here instead and are woken at once;
        # only other processes still meet the busy handler.
        self._write_lock = threading.RLock() if self.dialect == "sqlite" else None

    def __repr__(self) -> str:
        return f"Database({self.engine.url!r})"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work; commits on success, rolls back on error.

        On SQLite it begins DEFERRED (readers never wait): use ``write()`` for
        anything that reads before it writes.
        """
        with self._reader.begin() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: ``BEGIN IMMEDIATE`` on SQLite, plain on PostgreSQL."""
        if self._write_lock is None:
            with self._writer.begin() as session:
                yield session
            return
        with self._write_lock, self._writer.begin() as session:
            yield session

    def upgrade(self, revision: str = "head") -> None:
        """Run the Alembic migrations shipped in the package up to ``revision``."""
        with self._writer.begin() as session:
            conn = session.connection()
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str | None = None) -> Config:
    """The Alembic configuration from package files, independent of the cwd."""
    migrations = files("gateway") / "migrations"
    config = Config(str(migrations / "alembic.ini"))
    config.set_main_option("script_location", str(migrations))
    if url is not None:
        config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def _engine_kwargs(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # Connections dropped by a database restart are replaced, not handed out.
        return {"pool_pre_ping": True}
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return {}


def _install_sqlite_hooks(engine: Engine) -> None:
    """SQLAlchemy's documented pysqlite recipe: the driver autocommits, we emit BEGIN."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Stop pysqlite from issuing its own (deferred) BEGIN.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            for pragma in _SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
