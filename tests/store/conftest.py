"""Every store test runs twice: on a SQLite file and on PostgreSQL.

PostgreSQL comes from ``tests/pgserver.py`` (a throwaway server, or
``TEST_DATABASE_URL``). Without it the postgres cases skip, except under CI,
where they fail: a green CI run must have exercised PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.store import ApiKey, Database, create_key, crypto

try:  # tests/ is on sys.path as a plain directory ...
    from pgserver import PostgresServer, server_for_tests
except ImportError:  # ... or is a package, if tests/__init__.py exists
    from tests.pgserver import PostgresServer, server_for_tests


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = server_for_tests()
    yield server
    server.stop()


def _migrate(url: str) -> None:
    database = Database(url)
    database.upgrade()
    database.dispose()


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> Iterator[str]:
    """A migrated database that each PostgreSQL test copies."""
    url = pg_server.create_template(_migrate)
    yield url
    pg_server.drop_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.db'}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    url = server.create_database(template=request.getfixturevalue("pg_template"))
    yield url
    server.drop_database(url)


# PostgreSQL has no data dir of its own here: its tests seal secrets with this key
# (SQLite's use the key file next to their database, as a deployment does).
PG_KEYRING = crypto.Keyring([crypto.new_key()])


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url, keyring=None if db_url.startswith("sqlite") else PG_KEYRING)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def api_key(db: Database) -> ApiKey:
    return create_key(db, "test")[0]
