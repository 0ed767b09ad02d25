"""The turn runner and the ADK ``run_sse`` wire format.

A turn runs in its own thread and owns the session's state and the frozen
credits; the HTTP response only listens to it through a ``Channel``. So a client
that disconnects (or a fault that cuts the stream) changes nothing server-side:
the turn completes and is charged, exactly like the real backend.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gateway.sandbox.config import SandboxConfig
from gateway.sandbox.store import Store

AUTHOR = "nemo_agent"
# All three keep-alive forms seen in the wild; a stream rotates through them.
HEARTBEATS = (": heartbeat\n\n", "event: heartbeat\ndata: \n\n", "data:\n\n")
_CLOSED = object()
_PART_KEYS = {"function_call": "functionCall", "function_response": "functionResponse"}


class Channel:
    """A one-way pipe of encoded SSE frames from a turn to at most one listener."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Any] = queue.Queue()

    def put(self, frame: str) -> None:
        self._queue.put(frame)

    def close(self) -> None:
        self._queue.put(_CLOSED)

    def get(self, timeout: float) -> str | object | None:
        """A frame, None when nothing came within ``timeout``, or ``_CLOSED``."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None


@dataclass
class TurnJob:
    store: Store
    config: SandboxConfig
    user_id: str
    session_id: str
    turn: Any  # gateway.sandbox.agent.Turn
    channel: Channel
    heartbeat_only_seconds: float | None = None  # set by the heartbeat_only fault
    settled: bool = field(default=False, init=False)

    def start(self) -> None:
        threading.Thread(target=self.run, name=f"turn-{self.session_id[:8]}", daemon=True).start()

    def run(self) -> None:
        lock = self.store.turn_lock(self.session_id)
        try:
            with lock:
                if self.heartbeat_only_seconds is not None:
                    self._sleep(self.heartbeat_only_seconds)
                    self._settle(charge=False)
                else:
                    self._walk()
        except Exception as exc:  # a broken turn must still release its credits
            self._settle(charge=False)
            self.channel.put(encode({"error": f"turn failed: {exc}"}))
        finally:
            self.channel.close()

    def _walk(self) -> None:
        invocation = "e-" + uuid.uuid4().hex
        steps = list(self.turn.steps)
        for index, step in enumerate(steps):
            self._sleep(step.work_seconds)
            if step.draft is not None:
                self.store.set_draft(self.session_id, step.draft)
            if index == len(steps) - 1:
                # State and credits settle before the last event, so a client that
                # reads them on turnComplete sees the final values.
                self._finish()
            self.channel.put(encode(event_of(step, invocation)))
        if not steps:
            self._finish()

    def _finish(self) -> None:
        turn = self.turn
        self.store.finish_turn(self.session_id, turn.final_draft, list(turn.generated_media))
        self._settle(charge=True)

    def _settle(self, *, charge: bool) -> None:
        if self.settled:  # a failure after the charge must not refund it
            return
        self.settled = True
        self.store.settle(self.user_id, self.session_id, self.turn.cost, charge=charge)
        self.store.turn_ended(self.session_id)

    def _sleep(self, simulated_seconds: float) -> None:
        time.sleep(self.config.real(max(0.0, simulated_seconds)))


def event_of(step: Any, invocation_id: str) -> dict[str, Any]:
    """One ADK Event as ``run_sse`` serialises it (camelCase aliases)."""
    parts = [_camel_part(p) for p in step.parts]
    return {
        "id": uuid.uuid4().hex,
        "invocationId": invocation_id,
        "author": AUTHOR,
        "timestamp": time.time(),
        "content": {"role": "model", "parts": parts} if parts else None,
        "partial": bool(step.partial),
        "turnComplete": True if step.turn_complete else None,
        "customMetadata": {"stage": step.stage} if getattr(step, "stage", None) else None,
    }


def encode(payload: dict[str, Any]) -> str:
    """One ``data:`` line and the blank line after it; nulls are left out, as ADK does."""
    return "data: " + json.dumps(drop_nulls(payload), ensure_ascii=False) + "\n\n"


def drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [drop_nulls(v) for v in value]
    return value


def _camel_part(part: dict[str, Any]) -> dict[str, Any]:
    return {_PART_KEYS.get(k, k): v for k, v in part.items()}


@dataclass
class Listener:
    """The response side: frames from the channel, heartbeats in the gaps."""

    channel: Channel
    heartbeat_interval: float
    on_heartbeat: Callable[[], None]
    cut_after: int | None = None  # the sse_cut fault: drop after this many events
    on_cut: Callable[[], None] = lambda: None
    sock: socket.socket | None = None

    def frames(self) -> Iterator[str]:
        beats = events = 0
        while True:
            frame = self.channel.get(self.heartbeat_interval)
            if frame is _CLOSED:
                return
            if frame is None:
                yield HEARTBEATS[beats % len(HEARTBEATS)]
                beats += 1
                self.on_heartbeat()
                continue
            yield frame  # type: ignore[misc]
            events += 1
            if self.cut_after is not None and events >= self.cut_after:
                self._cut()
                return

    def _cut(self) -> None:
        # A FIN without the final empty chunk: the client sees the body end early,
        # as when a proxy drops a long stream. The turn runs on regardless.
        self.on_cut()
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
