"""Helpers for the upstream client tests: a recording MockTransport and body builders."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class Recorder:
    """A MockTransport handler that keeps every request (body read) for assertions."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        result = self.handler(request)
        return await result if inspect.isawaitable(result) else result

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]

    def count(self, path: str) -> int:
        return self.paths().count(path)


def ok(data: Any = None, *, status: int = 200, headers: dict[str, str] | None = None):
    return httpx.Response(status, json={"code": 0, "message": "success", "data": data},
                          headers=headers)  # fmt: skip


def fail(code: int, message: str = "failed", *, status: int = 200, data: Any = None, **kw: Any):
    body = {"code": code, "message": message, "data": data}
    return httpx.Response(status, json=body, **kw)


def sse(*events: dict[str, Any] | str) -> bytes:
    """An SSE body: dicts become ``data: <json>`` events, strings are copied verbatim."""
    out = []
    for event in events:
        out.append(event if isinstance(event, str) else f"data: {json.dumps(event)}\n\n")
    return "".join(out).encode()


def text_event(text: str, *, partial: bool = False, complete: bool = False) -> dict[str, Any]:
    event: dict[str, Any] = {
        "author": "nemo_agent",
        "content": {"role": "model", "parts": [{"text": text}]},
        "partial": partial,
    }
    if complete:
        event["turnComplete"] = True
    return event


FAKE_TOKEN = "nmv_usr_SECRET_fixed_token"


def run(coro: Awaitable[Any], timeout: float = 10.0) -> Any:
    """Run a coroutine to completion, bounded so a bug cannot hang the suite."""
    return asyncio.run(asyncio.wait_for(coro, timeout))
