"""One chat turn on ``/run_sse``: framing, completion tracking, refusals.

Split from the client so the rules that decide "was the message accepted" and
"did the turn complete" sit together and stay small.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any, NoReturn

import httpx

from gateway.upstream import envelope
from gateway.upstream.adk import HEARTBEAT, AgentEvent, EventKind, parse_data
from gateway.upstream.errors import (
    MessageMaybeDelivered,
    ProtocolError,
    StreamDropped,
    UpstreamError,
)
from gateway.upstream.sse import SSEDecoder, SSEFrame

APP = "nemo_agent"


def run_body(session_id: str, text: str) -> dict[str, Any]:
    return {
        "app_name": APP,
        "user_id": "me",
        "session_id": session_id,
        "new_message": {"role": "user", "parts": [{"text": text}]},
    }


class Turn:
    """Tracks one chat turn: events seen, completion, time since real output."""

    def __init__(self, now: float, idle_limit: float) -> None:
        self.count = 0
        self.complete = False
        self.last: AgentEvent | None = None
        self._last_output = now
        self._idle_limit = idle_limit

    def note(self, event: AgentEvent, now: float) -> None:
        self.count += 1
        self.complete = self.complete or event.turn_complete
        if event.kind is not EventKind.HEARTBEAT:
            self.last = event
            self._last_output = now

    def idle(self, now: float) -> bool:
        return now - self._last_output > self._idle_limit

    @property
    def finished(self) -> bool:
        """Ended normally: a turn-complete flag, or a clean close after a final answer
        (ADK's run_sse does not always send ``turnComplete``)."""
        return self.complete or (self.last is not None and self.last.is_final_answer)


async def frames(
    response: httpx.Response, deadline: float, read_timeout: float | None = None
) -> AsyncIterator[SSEFrame]:
    """The stream's frames until it ends or ``deadline`` (loop time) passes.

    ``read_timeout``: the transport's own limit on one read, when it enforces
    one. A read then cannot outlast the deadline while the deadline is further
    away than that, and needs no timeout scope of its own (one per keep-alive,
    thousands a minute in a busy worker).
    """
    loop = asyncio.get_running_loop()
    decoder = SSEDecoder()
    chunks = response.aiter_bytes()
    while True:
        if read_timeout is not None and deadline - loop.time() > read_timeout:
            chunk = await anext(chunks, None)
        else:
            # The cap wraps each read only: a timeout scope must not span a yield.
            async with asyncio.timeout_at(deadline):
                chunk = await anext(chunks, None)
        if chunk is None:
            break
        for frame in decoder.feed(chunk):
            yield frame
    for frame in decoder.flush():
        yield frame


def frame_events(frame: SSEFrame) -> list[AgentEvent]:
    if frame.comment:
        return [HEARTBEAT]
    return parse_data(frame.data, frame.event)


async def raise_refusal(response: httpx.Response) -> NoReturn:
    """Raise for a /run_sse answer that is not an event stream.

    A failing envelope (either kind), or any 4xx, means the upstream refused the
    message: the mapped error is raised and the call is safe to repeat. ADK's
    server refuses an unknown session this way, HTTP 404 ``{"detail": "Session
    not found"}`` before any event, which raises ``SessionNotFound``. Anything
    else (an HTML 502, a 200 without a stream) may hide an accepted message.
    """
    try:
        body = await response.aread()
    except httpx.TransportError as exc:
        raise MessageMaybeDelivered("the chat answer was cut while being read") from exc
    status = response.status_code
    error, refused = refusal(status, response.headers, body)
    if error is not None and refused:
        raise error
    cause = error or ProtocolError(f"HTTP {status} without an event stream", upstream_code=status)
    raise MessageMaybeDelivered(f"/run_sse answered HTTP {status} without a stream") from cause


def refusal(
    status: int, headers: Mapping[str, str], body: bytes
) -> tuple[UpstreamError | None, bool]:
    """The error a non-stream /run_sse answer stands for, and whether it is a refusal
    (the message was not delivered). Sans-I/O half of ``raise_refusal``."""
    payload = envelope.decode(body)
    error = envelope.error_for(status, headers, payload, body)
    return error, envelope.is_failure(payload) or 400 <= status < 500


async def turn_events(
    response: httpx.Response, deadline: float, turn: Turn, read_timeout: float | None = None
) -> AsyncIterator[AgentEvent]:
    loop = asyncio.get_running_loop()
    try:
        async with aclosing(frames(response, deadline, read_timeout)) as stream:
            async for frame in stream:
                for event in frame_events(frame):
                    turn.note(event, loop.time())
                    yield event
                if turn.idle(loop.time()):
                    if turn.complete:
                        return
                    raise StreamDropped("only keep-alives for too long", events_seen=turn.count)
    except (TimeoutError, httpx.TransportError, httpx.StreamError) as exc:
        if turn.complete:
            return  # the answer was whole; only the tail of the stream was lost
        reason = _drop_reason(exc)
        raise StreamDropped(reason, events_seen=turn.count) from exc
    if not turn.finished:
        raise StreamDropped(
            "the stream ended without completing the turn",
            clean_close=True,
            events_seen=turn.count,
        )


def _drop_reason(exc: Exception) -> str:
    if isinstance(exc, TimeoutError):
        return "turn time cap reached"
    if isinstance(exc, httpx.ReadTimeout):
        return "stream silent too long"
    return "stream cut"
