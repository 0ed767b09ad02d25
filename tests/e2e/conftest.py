"""End-to-end: the sandbox and the gateway as real processes on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import processes
from tests.openapi_check import check_httpx


@dataclass
class Stack:
    tmp: Path
    sandbox: processes.Proc
    gateway: processes.Proc
    key: str
    env: dict[str, str] = field(default_factory=dict)
    time_scale: float = 200.0

    @property
    def upstream(self) -> str:
        return self.sandbox.url

    def client(self, key: str | None = None) -> httpx.Client:
        """An API client whose every response is checked against openapi.yaml."""
        return httpx.Client(
            base_url=self.gateway.url,
            headers={"Authorization": f"Bearer {key or self.key}"},
            timeout=90,
            event_hooks={"response": [_checked]},
        )

    def restart_gateway(self) -> None:
        self.gateway.stop()
        self.gateway = processes.gateway(
            self.tmp, self.upstream, 0, time_scale=self.time_scale, **self.env
        ).start()

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.upstream}/_sandbox/stats").json()["data"]

    def fault(self, endpoint: str, fault: str, times: int = 1, **extra: Any) -> None:
        body = {"endpoint": endpoint, "fault": fault, "times": times, **extra}
        httpx.post(f"{self.upstream}/_sandbox/faults", json=body).raise_for_status()


def _checked(response: httpx.Response) -> None:
    response.read()
    check_httpx(response)


def start_stack(
    tmp: Path,
    speed: float,
    *,
    anonymous: bool = False,
    time_scale: float | None = None,
    dialect: str = "default",
    anonymous_credits: int = 100,
    **env: str,
) -> Stack:
    """Sandbox + gateway. By default the gateway holds a NEMO_TOKEN with plenty of
    credits; `anonymous` makes it get an anonymous token itself (with
    `anonymous_credits`, by default the protocol's 100). `dialect` is the shape
    the sandbox answers in."""
    extra = ("--initial-credits", str(anonymous_credits)) if anonymous else ()
    sandbox = processes.sandbox(tmp, speed, *extra, dialect=dialect).start()
    try:
        if not anonymous:
            minted = httpx.post(f"{sandbox.url}/_sandbox/tokens", json={"credits": 100_000})
            env = {"NEMO_TOKEN": minted.json()["data"]["token"], **env}
        key = processes.create_key(tmp / "gateway-data", **env)
        scale = time_scale or speed
        gateway = processes.gateway(tmp, sandbox.url, 0, time_scale=scale, **env).start()
    except BaseException:
        sandbox.stop()
        raise
    return Stack(tmp, sandbox, gateway, key, env, scale)


def stop_stack(stack: Stack) -> None:
    stack.gateway.stop()
    stack.sandbox.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One fast stack per module (speed x200), reset between tests."""
    s = start_stack(tmp_path_factory.mktemp("stack"), 200)
    try:
        yield s
    finally:
        stop_stack(s)


@pytest.fixture
def fresh_stack(tmp_path: Path) -> Iterator[Stack]:
    """A stack of its own, slower (x20) so a test can act mid-generation."""
    # The gateway's protocol waits run at half the sandbox's pace: recovery's
    # "five unchanged reads" window then outlasts a generation even on a busy
    # machine, as it does at real speed (5 min against 100-300 s).
    s = start_stack(tmp_path, 20, time_scale=10)
    try:
        yield s
    finally:
        stop_stack(s)


@pytest.fixture
def receiver() -> Iterator[processes.WebhookReceiver]:
    r = processes.WebhookReceiver()
    try:
        yield r
    finally:
        r.close()
