"""Following one chat turn's event stream and turning it into progress.

Tool calls and results are internal progress, never shown raw; text is kept
(translated) as the agent's reply; heartbeats only prove the turn is alive, and
a turn that sends nothing but heartbeats for `heartbeat_only_limit` is lost.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.store.leases import Claim
from gateway.store.models import Video
from gateway.upstream.adk import is_ignorable_trailer, translate_gui

if TYPE_CHECKING:
    from gateway.jobs.engine import Engine


@dataclass(frozen=True)
class AgentError:
    """An error the upstream reported inside the stream (HTTP 200): the turn failed."""

    message: str
    code: str | None = None

    @property
    def upstream_code(self) -> int | str | None:
        if self.code is None:
            return None
        return int(self.code) if self.code.lstrip("-").isdigit() else self.code


# Stage and progress reached when a tool step is seen, in the order they come.
_GENERATE_HINTS = ("generate", "create_video", "text_to_video")


class TurnWatcher:
    def __init__(self, engine: Engine, claim: Claim, video: Video) -> None:
        self.engine, self.claim, self.video = engine, claim, video
        self.lost = False
        self.completed = False
        self.reply_parts: list[str] = []
        # Compact: {"tool": name, "status": "ok" | "error" | ...}; never the raw arguments.
        self.tool_steps: list[dict[str, str]] = []
        # The upstream's own words and code when the turn failed in the stream.
        self.error: AgentError | None = None
        self._raw_clip_seen = False

    async def follow(
        self,
        session_id: str,
        text: str,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Post ``text`` and follow the turn; ``before_send`` runs just before the POST."""
        limit = self.engine.timings.heartbeat_only_limit
        last_real = time.monotonic()
        stream = self.engine.client.stream_message(session_id, text, before_send=before_send)
        # aclosing: leaving the loop early closes the upstream connection at once.
        async with aclosing(stream) as events:
            async for event in events:
                if event.kind == "heartbeat":
                    if time.monotonic() - last_real > limit:
                        self.lost = True  # only heartbeats for too long: the turn is lost
                        return
                    continue
                last_real = time.monotonic()
                await self._handle(event)
                if event.turn_complete:
                    self.completed = True
                if self.error is not None:
                    return  # an in-stream error ends the run (ADK sends nothing after it)

    async def _handle(self, event: Any) -> None:
        if event.kind == "tool_call":
            self.tool_steps.append({"tool": event.tool_name or "tool", "status": "running"})
            await self._record_steps(self._stage_after_call(event.tool_name or ""))
        elif event.kind == "tool_result":
            self._settle_step(event.tool_name or "tool", event.tool_response)
            await self._record_steps(self._stage_after_result(event.tool_name or ""))
        elif event.kind == "text" and not event.partial and event.text:
            if not is_ignorable_trailer(event.text):
                self.reply_parts.append(translate_gui(event.text))
        elif event.kind == "error":
            self.error = AgentError(event.error or "the agent reported an error", event.error_code)

    def _settle_step(self, name: str, response: Any) -> None:
        """Mark the oldest running call of this tool with the result's status word."""
        status = "done"
        if isinstance(response, dict):
            word = response.get("status") or ("error" if response.get("error") else None)
            status = str(word)[:32] if word else status
        for step in self.tool_steps:
            if step["tool"] == name and step["status"] == "running":
                step["status"] = status
                return

    def _stage_after_call(self, name: str) -> tuple[str, int] | None:
        if self._raw_clip_seen:
            return "post_production", 60
        if any(hint in name for hint in _GENERATE_HINTS):
            return "generating", 15
        return None

    def _stage_after_result(self, name: str) -> tuple[str, int] | None:
        if any(hint in name for hint in _GENERATE_HINTS) and not self._raw_clip_seen:
            self._raw_clip_seen = True
            return "raw_clip_ready", 50
        return None

    async def _record_steps(self, stage: tuple[str, int] | None) -> None:
        """Save the tool steps so far (and a new stage) as they happen.

        The steps decide what the turn cost (``costs.charged``): kept on the row
        at once, a turn recovered after a crash is charged like one followed to
        the end. A handful of tool events per turn: a handful of small writes.
        """
        values: dict[str, Any] = {"tool_steps": [dict(step) for step in self.tool_steps]}
        if stage is not None and self.video.stage != stage[0]:
            values.update(stage=stage[0], progress=max(self.video.progress, stage[1]))
        await self.engine.save(self.claim, self.video, **values)

    @property
    def reply(self) -> str | None:
        return "\n\n".join(self.reply_parts) or None
