"""The turn runner and the response that listens to it.

A turn runs in its own thread and owns the session's state and the frozen
credits; the HTTP response only listens to it through a ``Channel``. So a client
that disconnects (or a fault that cuts the stream) changes nothing server-side:
the turn completes and is charged, exactly like the real backend.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.sandbox.config import SandboxConfig
from gateway.sandbox.sse import SseWire
from gateway.sandbox.store import Store

_CLOSED = object()
# The stream_error fault: what the model says, in the upstream's words.
OVERLOADED = "Error: the video model is overloaded, please retry later"
OVERLOADED_CODE = "MODEL_OVERLOADED"
# Simulated seconds a failing turn works on each tool call before it fails.
_FAIL_STEP_SECONDS = 10.0


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
    wire: SseWire
    heartbeat_only_seconds: float | None = None  # set by the heartbeat_only fault
    stream_error: bool = False  # set by the stream_error fault
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
                elif self.stream_error:
                    self._fail_midway()
                else:
                    self._walk()
        except Exception as exc:  # a broken turn must still release its credits
            self._settle(charge=False)
            self.channel.put(self.wire.error(f"turn failed: {exc}", "INTERNAL"))
        finally:
            self.store.stream_closed(self.session_id)
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
            self.channel.put(self.wire.event(step, invocation))
        if not steps:
            self._finish()

    def _fail_midway(self) -> None:
        """A tool call or two, then a model failure: no draft change, nothing charged."""
        invocation = "e-" + uuid.uuid4().hex
        for step in leading_tool_steps(self.turn.steps):
            self._sleep(min(step.work_seconds, _FAIL_STEP_SECONDS))
            self.channel.put(self.wire.event(step, invocation))
        self._settle(charge=False)
        self.store.count("stream_errors", self.session_id)
        self.channel.put(self.wire.error(OVERLOADED, OVERLOADED_CODE))

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


def leading_tool_steps(steps: Sequence[Any], at_most: int = 2) -> list[Any]:
    """The first tool-only steps of a turn, with nothing they would have announced:
    no draft, no stage, not the last."""
    out = []
    for step in steps[:at_most]:
        if any("text" in part for part in step.parts):
            break
        out.append(dataclasses.replace(step, turn_complete=False, draft=None, stage=None))
    return out


@dataclass
class Listener:
    """The response side: frames from the channel, heartbeats in the gaps."""

    channel: Channel
    wire: SseWire
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
                yield self.wire.heartbeat(beats)
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
