"""The database handle: engine, unit-of-work sessions, write transactions, migrations.

SQLite (a WAL file) is the default and PostgreSQL is used when the URL says
so. On SQLite every ``write()`` transaction starts with ``BEGIN IMMEDIATE``:
a deferred transaction that reads and then writes fails with SQLITE_BUSY at
once when another writer got in between, whatever the busy timeout.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Table, create_engine, event, text
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
        # threads of one process queue here instead and are woken at once, and
        # the gateway's processes queue on a file lock (``_SqliteWriteLock``);
        # only other programs still meet the busy handler.
        self._write_lock = _SqliteWriteLock(self.url) if self.dialect == "sqlite" else None
        self._write_engine = write_engine
        self._group = GroupCommit(self)

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

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """Like ``write()``, for Core statements: one transaction on a plain connection."""
        if self._write_lock is None:
            with self._write_engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self._write_engine.begin() as conn:
            yield conn

    def insert_rows(self, rows: Sequence[tuple[Table, dict[str, Any]]]) -> None:
        """Insert ``rows`` (parents first) atomically; returns once they are committed.

        Concurrent callers in one process share a transaction (group commit,
        ``GroupCommit``): the request path pays for one commit per batch, not
        one per request, and SQLite's single write lock is taken once per batch.
        """
        self._group.insert(rows)

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
        self._group.stop()
        if self._write_lock is not None:
            self._write_lock.close()
        self.engine.dispose()


class _SqliteWriteLock:
    """The write lock of one SQLite database: threads queue in-process, processes on a file lock.

    SQLite's own busy handler sleeps (1, 2, 5, 10 ... 100 ms) whenever another
    connection holds the write lock, however soon that lock is freed, and a
    process that keeps writing can starve one that sleeps. Holding
    ``flock`` on ``<database>-writelock`` around every ``write()`` makes the
    writers of all gateway processes wait in the kernel instead and wake the
    moment the lock is released. Re-entrant within a thread (nested
    ``write()``); the file lock is taken by the outermost level only. Other
    programs writing to the file still meet SQLite's busy timeout.
    """

    def __init__(self, url: str) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        database = make_url(url).database
        memory = not database or database == ":memory:" or database.startswith("file::memory:")
        self._path = None if memory else f"{database}-writelock"
        self._fd = -1
        self._pid = 0

    def __enter__(self) -> None:
        self._lock.acquire()
        self._depth += 1
        if self._depth == 1 and self._path is not None:
            try:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
            except BaseException:
                self._depth -= 1
                self._lock.release()
                raise

    def __exit__(self, *exc: object) -> None:
        try:
            if self._depth == 1 and self._path is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._depth -= 1
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0 and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = -1

    def _file(self) -> int:
        # After a fork the inherited descriptor shares its lock with the parent: reopen.
        if self._fd < 0 or self._pid != os.getpid():
            assert self._path is not None
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd


class _Pending:
    __slots__ = ("done", "error", "rows")

    def __init__(self, rows: Sequence[tuple[Table, dict[str, Any]]]) -> None:
        self.rows = rows
        self.error: BaseException | None = None
        # Held until the writer is done with these rows: a bare lock is far
        # cheaper to release than an Event (Condition machinery in Python).
        self.done = threading.Lock()
        self.done.acquire()


class GroupCommit:
    """Group commit: one writer thread per process commits concurrent inserts together.

    Request threads queue their rows and wait; the writer takes everything
    queued (up to ``max_batch`` requests), inserts it table by table with one
    ``executemany`` each, in one transaction, and wakes every waiter after the
    commit, so a caller returns only once its rows are durable. If a batch
    fails, each request of it is retried alone, so one bad request fails only
    itself. Rows of one table with the same columns share a statement; tables
    run in the order they first appear in the batch, so every caller must list
    parents before children (foreign keys).

    The thread starts on first use and again after a fork (gunicorn's
    ``--preload``), so a process never waits on a thread it does not have.
    """

    def __init__(self, db: Database, max_batch: int = 256) -> None:
        self._db = db
        self._max_batch = max_batch
        self._queue: deque[_Pending] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stopping = False
        self._plans: dict[tuple[Table, tuple[str, ...]], _InsertPlan] = {}

    def insert(self, rows: Sequence[tuple[Table, dict[str, Any]]]) -> None:
        pending = _Pending(rows)
        with self._cond:
            self._ensure_thread()
            self._queue.append(pending)
            self._cond.notify()
        pending.done.acquire()
        if pending.error is not None:
            raise pending.error

    def stop(self) -> None:
        """Let the thread finish what is queued and exit; a later insert starts a new one."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
            thread = self._thread if self._pid == os.getpid() else None
        if thread is not None:
            thread.join(10)
        with self._cond:
            self._stopping = False
            if self._queue:  # queued while the thread was leaving
                self._ensure_thread()

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="gateway-group-commit", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue:
                    return  # stopping, nothing left
                take = min(len(self._queue), self._max_batch)
                batch = [self._queue.popleft() for _ in range(take)]
            self._commit_batch(batch)

    def _commit_batch(self, batch: list[_Pending]) -> None:
        try:
            self._commit(batch)
        except BaseException as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:
                for pending in batch:  # find the culprit: each request alone
                    try:
                        self._commit([pending])
                    except BaseException as alone:
                        pending.error = alone
        for pending in batch:
            pending.done.release()

    def _commit(self, batch: list[_Pending]) -> None:
        groups: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
        for pending in batch:
            for table, row in pending.rows:
                groups.setdefault((table, tuple(row)), []).append(row)
        with self._db.write_connection() as conn:
            for (table, keys), rows in groups.items():
                plan = self._plan(table, keys)
                conn.exec_driver_sql(plan.sql, [plan.values(row) for row in rows])

    def _plan(self, table: Table, keys: tuple[str, ...]) -> _InsertPlan:
        plan = self._plans.get((table, keys))
        if plan is None:
            plan = self._plans[(table, keys)] = _InsertPlan(table, keys, self._db.engine.dialect)
        return plan


class _InsertPlan:
    """One ``INSERT`` rendered once, its values converted by the column types' own processors.

    SQLAlchemy's per-row statement machinery cost about 60 us a row on the
    accept path; the driver's ``executemany`` with values already converted
    (the same ``bind_processor`` of each column type: UTC datetimes, JSON,
    booleans) costs a few. No client-side defaults are applied: a row must name
    every column that has one.
    """

    def __init__(self, table: Table, keys: tuple[str, ...], dialect: Any) -> None:
        missing = [c.name for c in table.columns if c.default is not None and c.name not in keys]
        if missing:
            raise ValueError(f"insert into {table.name} must set {', '.join(missing)}")
        prep = dialect.identifier_preparer
        marker = "?" if dialect.paramstyle in ("qmark", "numeric") else "%s"
        columns = ", ".join(prep.format_column(table.c[k]) for k in keys)
        markers = ", ".join([marker] * len(keys))
        self.sql = f"INSERT INTO {prep.format_table(table)} ({columns}) VALUES ({markers})"
        self.keys = keys
        self.processors = [
            table.c[k].type.dialect_impl(dialect).bind_processor(dialect) for k in keys
        ]

    def values(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(
            value if proc is None else proc(value)
            for proc, value in zip(self.processors, row.values(), strict=True)
        )


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
