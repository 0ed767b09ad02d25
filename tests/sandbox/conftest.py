"""One real sandbox process per test session, reset before every test.

Tests talk to it over HTTP with plain httpx, exactly as the gateway will.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests import processes

from .support import Nemo

SPEED = 200
# The protocol's anonymous balance (the sandbox's own default is more generous),
# so a generation or two reaches the 2001 path.
ANONYMOUS_CREDITS = "100"


@pytest.fixture(scope="session")
def sandbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("sandbox")
    sandbox = processes.sandbox(tmp, SPEED, "--initial-credits", ANONYMOUS_CREDITS)
    sandbox.start(timeout=30)
    try:
        yield sandbox.url
    finally:
        sandbox.stop()


@pytest.fixture
def base_url(sandbox_process: str) -> str:
    httpx.post(f"{sandbox_process}/_sandbox/reset").raise_for_status()
    return sandbox_process


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


@pytest.fixture
def nemo(http: httpx.Client) -> Nemo:
    return Nemo(http)
