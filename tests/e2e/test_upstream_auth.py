"""Upstream tokens: anonymous by default, refreshed on 1001, never leaked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack, start_stack, stop_stack
from tests.processes import wait_status


@pytest.fixture
def anonymous_stack(tmp_path: Path) -> Iterator[Stack]:
    s = start_stack(tmp_path, 200, anonymous=True)
    try:
        yield s
    finally:
        stop_stack(s)


def test_expired_anonymous_token_is_refreshed_with_the_same_client_id(
    anonymous_stack: Stack,
) -> None:
    stack = anonymous_stack
    with stack.client() as api:
        first = api.get("/v1/me").json()
        assert first["credits"]["available"] == 100  # an anonymous token's starting balance
        stack.fault("run_sse", "token_expired")
        video = api.post("/v1/videos", json={"prompt": "snow on pines", "duration_seconds": 2})
        final = wait_status(api, video.json()["id"], {"succeeded", "failed"}, timeout=90)
    assert final["status"] == "succeeded", final["error"]
    stats = stack.stats()
    assert stats["messages_posted"] == 1
    # The client id is kept in the data dir: one id, reused.
    client_id = (stack.tmp / "gateway-data" / "nemo_client_id").read_text().strip()
    assert client_id
    log = (stack.tmp / "gateway.log").read_text()
    assert "nmv_usr_" not in log, "an upstream token reached the log"
