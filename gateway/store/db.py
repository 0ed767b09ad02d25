"""The database handle: engine, unit-of-work sessions, write transactions, migrations.

SQLite (a WAL file) is the default and PostgreSQL is used when the URL says
so. On SQLite every ``write()`` transaction starts with ``BEGIN IMMEDIATE``:
a deferred transaction that reads and then writes fails with SQLITE_BUSY at
once when another writer got in between, whatever the busy timeout.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from gateway.store import crypto
from gateway.store import files as private
from gateway.store.crypto import Keyring

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

    def __init__(self, url: str, *, echo: bool = False, keyring: Keyring | None = None) -> None:
        self.url = normalize_url(url)
        # Webhook secrets are sealed with it; resolved on first use when not given.
        self._keyring = keyring
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

    @property
    def keyring(self) -> Keyring:
        """The keys that seal webhook secrets (``gateway.store.crypto``).

        Not given: from the environment, else the key file of the data dir
        (for SQLite, the database's own directory, as the default layout has it).
        """
        if self._keyring is None:
            self._keyring = crypto.load(self.data_dir())
        return self._keyring

    def data_dir(self) -> Path:
        database = make_url(self.url).database
        if self.dialect == "sqlite" and database and database != ":memory:":
            return Path(database).parent
        return Path(os.environ.get("GATEWAY_DATA_DIR", "data"))

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

    def insert_rows(
        self,
        rows: Sequence[tuple[Table, dict[str, Any]]],
        updates: Sequence[RowUpdate] = (),
    ) -> None:
        """Insert ``rows`` (parents first) atomically; returns once they are committed.

        Concurrent callers in one process share a transaction (group commit,
        ``GroupCommit``): the request path pays for one commit per batch, not
        one per request, and SQLite's single write lock is taken once per batch.
        ``updates`` run in the same transaction after the inserts (an
        idempotency record learning the id of the resource it created).
        """
        self._group.insert(rows, updates)

    def upgrade(self, revision: str = "head") -> None:
        """Run the Alembic migrations shipped in the package up to ``revision``."""
        with self._writer.begin() as session:
            conn = session.connection()
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            config = alembic_config()
            config.attributes["connection"] = conn
            # Migrations that seal secrets ask for the keys only when there are rows.
            config.attributes["keyring"] = lambda: self.keyring
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


@dataclass(frozen=True)
class RowUpdate:
    """``UPDATE table SET values WHERE`` every ``where`` column equals its value."""

    table: Table
    where: dict[str, Any]
    values: dict[str, Any]

    def statement(self, dialect: Any) -> tuple[str, list[Any]]:
        prep = dialect.identifier_preparer
        marker = "?" if dialect.paramstyle in ("qmark", "numeric") else "%s"
        column = lambda name: prep.format_column(self.table.c[name])  # noqa: E731
        sets = ", ".join(f"{column(k)} = {marker}" for k in self.values)
        conds = " AND ".join(f"{column(k)} = {marker}" for k in self.where)
        sql = f"UPDATE {prep.format_table(self.table)} SET {sets} WHERE {conds}"
        params = [*self._bound(self.values, dialect), *self._bound(self.where, dialect)]
        return sql, params

    def _bound(self, values: dict[str, Any], dialect: Any) -> list[Any]:
        out = []
        for name, value in values.items():
            proc = self.table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            out.append(value if proc is None else proc(value))
        return out


class _Pending:
    __slots__ = ("done", "error", "lead", "rows", "updates")

    def __init__(
        self, rows: Sequence[tuple[Table, dict[str, Any]]], updates: Sequence[RowUpdate] = ()
    ) -> None:
        self.rows = rows
        self.updates = updates
        self.error: BaseException | None = None
        # Set when this caller is handed the lead instead of being committed.
        self.lead = False
        # Held until a leader is done with these rows (or hands over the lead):
        # a bare lock is far cheaper to release than an Event.
        self.done = threading.Lock()
        self.done.acquire()


class GroupCommit:
    """Group commit led by the callers themselves: concurrent inserts share a transaction.

    A caller queues its rows; if no one is committing, it becomes the leader:
    it takes everything queued (up to ``max_batch`` requests), inserts it
    table by table with one multi-row ``INSERT`` each, in one transaction,
    wakes every follower of the batch after the commit and hands the lead to
    the first caller that queued meanwhile. A caller returns only once its rows
    are durable. A lone caller commits its own rows with no thread hand-off at
    all, and under load each request costs one wake-up, where a dedicated
    writer thread cost two (the writer's and the request's) and made every
    batch wait for that thread to get the GIL back between statements. If a
    batch fails, each request of it is retried alone, so one bad request fails
    only itself. Tables run in the order they first appear in the batch, so
    every caller must list parents before children (foreign keys).

    One connection per process is kept for these transactions (the pool's
    checkout, reset and, on PostgreSQL, pre-ping cost more than the inserts);
    it is replaced after any error and dropped after a fork.
    """

    # Rows per statement: bounds the statement texts to cache and SQLite's
    # host parameters (a video row has ~25).
    max_rows_per_statement = 64

    def __init__(self, db: Database, max_batch: int = 256) -> None:
        self._db = db
        self._max_batch = max_batch
        self._plans: dict[tuple[Table, tuple[str, ...]], _InsertPlan] = {}
        self._reset()
        _GROUP_COMMITS.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[_Pending] = deque()
        self._leading = False
        self._conn: Any = None  # the pool's proxy of the DB-API connection

    def insert(
        self, rows: Sequence[tuple[Table, dict[str, Any]]], updates: Sequence[RowUpdate] = ()
    ) -> None:
        pending = _Pending(rows, updates)
        with self._lock:
            self._queue.append(pending)
            follower = self._leading
            self._leading = True
        if follower:
            pending.done.acquire()  # committed by a leader, or handed the lead
            if not pending.lead:
                if pending.error is not None:
                    raise pending.error
                return
        self._lead()
        if pending.error is not None:
            raise pending.error

    def stop(self) -> None:
        """Close this process's connection; a later insert opens a new one."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _lead(self) -> None:
        """Commit one batch (the leader's own rows are at the head), then pass the lead on."""
        try:
            with self._lock:
                take = min(len(self._queue), self._max_batch)
                batch = [self._queue.popleft() for _ in range(take)]
            self._commit_batch(batch)
        finally:
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.lead = True
                    successor.done.release()
                else:
                    self._leading = False

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
        for pending in batch[1:]:  # the first is the leader: it is not waiting
            pending.done.release()

    def _commit(self, batch: list[_Pending]) -> None:
        groups: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
        for pending in batch:
            for table, row in pending.rows:
                groups.setdefault((table, tuple(row)), []).append(row)
        statements = []
        step = self.max_rows_per_statement
        for (table, keys), rows in groups.items():
            plan = self._plan(table, keys)
            for start in range(0, len(rows), step):
                chunk = rows[start : start + step]
                statements.append((plan.sql(len(chunk)), plan.values(chunk)))
        dialect = self._db.engine.dialect
        statements += [u.statement(dialect) for pending in batch for u in pending.updates]
        conn = self._connection()
        try:
            self._transaction(conn, statements)
        except BaseException:
            self._discard(conn)
            raise

    def _transaction(self, conn: Any, statements: list[tuple[str, list[Any]]]) -> None:
        cursor = conn.cursor()
        try:
            if self._db._write_lock is None:
                for sql, values in statements:
                    cursor.execute(sql, values)
                conn.commit()
                return
            with self._db._write_lock:
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    for sql, values in statements:
                        cursor.execute(sql, values)
                    cursor.execute("COMMIT")
                except BaseException:
                    if conn.driver_connection.in_transaction:
                        cursor.execute("ROLLBACK")
                    raise
        finally:
            cursor.close()

    def _connection(self) -> Any:
        with self._lock:
            if self._conn is None:
                self._conn = self._db._write_engine.raw_connection()
            return self._conn

    def _discard(self, conn: Any) -> None:
        """After an error the connection's state is unknown: let the pool replace it."""
        with self._lock:
            if self._conn is conn:
                self._conn = None
        with contextlib.suppress(Exception):
            conn.invalidate()

    def _plan(self, table: Table, keys: tuple[str, ...]) -> _InsertPlan:
        plan = self._plans.get((table, keys))
        if plan is None:
            plan = self._plans[(table, keys)] = _InsertPlan(table, keys, self._db.engine.dialect)
        return plan


# Every GroupCommit of the process: a forked child starts each one afresh (its
# parent's connection and lock are not its own).
_GROUP_COMMITS: weakref.WeakSet[GroupCommit] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for group in list(_GROUP_COMMITS):
        group._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)


class _InsertPlan:
    """A multi-row ``INSERT`` rendered once per row count, its values converted by the
    column types' own processors.

    SQLAlchemy's per-row statement machinery cost about 60 us a row on the
    accept path; one statement for all the rows of a batch, with values already
    converted (the same ``bind_processor`` of each column type: UTC datetimes,
    JSON, booleans), costs a few, and crosses into the driver once per table
    rather than once per row. No client-side defaults are applied: a row must
    name every column that has one.
    """

    def __init__(self, table: Table, keys: tuple[str, ...], dialect: Any) -> None:
        missing = [c.name for c in table.columns if c.default is not None and c.name not in keys]
        if missing:
            raise ValueError(f"insert into {table.name} must set {', '.join(missing)}")
        prep = dialect.identifier_preparer
        marker = "?" if dialect.paramstyle in ("qmark", "numeric") else "%s"
        columns = ", ".join(prep.format_column(table.c[k]) for k in keys)
        self._head = f"INSERT INTO {prep.format_table(table)} ({columns}) VALUES "
        self._row = "(" + ", ".join([marker] * len(keys)) + ")"
        self._sql: dict[int, str] = {}
        self.keys = keys
        self.processors = [
            table.c[k].type.dialect_impl(dialect).bind_processor(dialect) for k in keys
        ]

    def sql(self, rows: int) -> str:
        text = self._sql.get(rows)
        if text is None:
            text = self._sql[rows] = self._head + ", ".join([self._row] * rows)
        return text

    def values(self, rows: list[dict[str, Any]]) -> list[Any]:
        """The rows' values, flattened in column order, as the driver takes them."""
        processors = self.processors
        return [
            value if proc is None else proc(value)
            for row in rows
            for proc, value in zip(processors, row.values(), strict=True)
        ]


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
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        _private_sqlite_files(Path(database))
    return {}


def _private_sqlite_files(database: Path) -> None:
    """The database's directory 0700 and its files 0600, before SQLite opens it.

    SQLite creates the WAL and shared-memory files with the database file's
    own mode, so a 0600 database keeps them 0600 too; files of an older, looser
    install are tightened here.
    """
    private.private_dir(database.parent)
    private.private_file(database)
    for suffix in ("-wal", "-shm", "-journal", "-writelock"):
        private.tighten_existing(database.with_name(database.name + suffix))


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
