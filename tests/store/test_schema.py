from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, inspect, select, text

from gateway.store import ApiKey, Base, Database, normalize_url


def test_upgrade_creates_every_table_and_is_repeatable(db: Database) -> None:
    db.upgrade()  # second run: already at head, nothing to do
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_migrated_schema_matches_models(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'gateway.db'}")
    database.upgrade()
    yield database
    database.dispose()


def test_sqlite_pragmas(sqlite_db: Database) -> None:
    db = sqlite_db
    with db.engine.connect() as conn:
        pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 1  # NORMAL
        assert pragma("busy_timeout") == 10000
        assert pragma("foreign_keys") == 1


def test_sqlite_write_begins_immediate_and_session_deferred(sqlite_db: Database) -> None:
    db = sqlite_db
    seen: list[str] = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        with db.write() as session:
            session.execute(select(ApiKey.id))
        with db.session() as session:
            session.execute(select(ApiKey.id))
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    begins = [s for s in seen if s.startswith("BEGIN")]
    assert begins == ["BEGIN IMMEDIATE", "BEGIN DEFERRED"]


def test_concurrent_read_then_write_transactions_wait_instead_of_failing(
    db: Database,
) -> None:
    """Two writers that both read first: the second waits for the first (no SQLITE_BUSY)."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def writer(n: int) -> None:
        try:
            barrier.wait()
            with db.write() as session:
                session.execute(text("SELECT count(*) FROM api_keys")).scalar()
                time.sleep(0.2)
                session.add(
                    ApiKey(name=f"k{n}", key_prefix="p", key_hash=f"{n:064}", webhook_secret="s")
                )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session() as session:
        assert len(session.scalars(select(ApiKey)).all()) == 2


def test_database_url_mapping(tmp_path: Path) -> None:
    assert normalize_url("postgresql://u:p@h:5432/d") == "postgresql+psycopg://u:p@h:5432/d"
    assert normalize_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"
    nested = tmp_path / "a" / "b" / "gateway.db"
    database = Database(f"sqlite:///{nested}")
    assert database.dialect == "sqlite"
    database.upgrade()
    database.dispose()
    assert nested.exists()
