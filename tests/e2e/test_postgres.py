"""The same product on PostgreSQL (DATABASE_URL) instead of the default SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack, start_stack, stop_stack
from tests.pgserver import server_for_tests
from tests.processes import wait_status


@pytest.fixture
def pg_stack(tmp_path: Path) -> Iterator[Stack]:
    server = server_for_tests()
    url = server.create_database()
    try:
        stack = start_stack(tmp_path, 200, DATABASE_URL=url)
        try:
            yield stack
        finally:
            stop_stack(stack)
    finally:
        server.drop_database(url)
        server.stop()


@pytest.mark.postgres
def test_video_completes_on_postgresql(pg_stack: Stack) -> None:
    with pg_stack.client() as api:
        created = api.post("/v1/videos", json={"prompt": "rain on a window", "duration_seconds": 2})
        final = wait_status(api, created.json()["id"], {"succeeded", "failed"}, timeout=90)
        assert final["status"] == "succeeded", final["error"]
        assert api.get("/readyz").status_code == 200
    assert not (pg_stack.tmp / "gateway-data" / "gateway.db").exists()
