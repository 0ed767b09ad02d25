"""ADK ``run_sse`` events, sans-I/O: one SSE event's data string in, ``AgentEvent`` out.

The upstream serialises Google ADK events with camelCase aliases, but snake_case
has been seen too, so both are accepted. An event whose content has several
parts (text and a function call, say) becomes several ``AgentEvent`` objects,
one per part, so every event the worker handles has exactly one kind. Only the
last one carries ``turn_complete``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from gateway.upstream.gui import is_ignorable_trailer, translate_gui

__all__ = [
    "HEARTBEAT",
    "AgentEvent",
    "EventKind",
    "is_ignorable_trailer",
    "parse_data",
    "translate_gui",
]


class EventKind(StrEnum):
    TEXT = "text"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    HEARTBEAT = "heartbeat"
    ERROR = "error"
    OTHER = "other"


@dataclass(frozen=True)
class AgentEvent:
    """One unit of agent output. ``text`` is the backend's raw wording: pass it through
    ``translate_gui`` before showing it. ``partial`` text is a chunk of a longer message
    that a later non-partial event repeats in full."""

    kind: EventKind
    text: str = ""
    partial: bool = False
    turn_complete: bool = False
    tool_name: str | None = None
    tool_id: str | None = None
    tool_args: dict[str, Any] | None = None
    tool_response: Any = None
    error: str | None = None
    error_code: str | None = None
    author: str | None = None
    raw: Any = field(default=None, repr=False, compare=False)

    @property
    def is_final_answer(self) -> bool:
        """A complete model message or an error: what a turn normally ends with."""
        return (self.kind is EventKind.TEXT and not self.partial) or self.kind is EventKind.ERROR


HEARTBEAT = AgentEvent(kind=EventKind.HEARTBEAT)


def parse_data(data: str, event: str = "") -> list[AgentEvent]:
    """Turn one SSE event (its ``event`` name and ``data`` string) into agent events."""
    if event == "heartbeat" or not data.strip():
        return [HEARTBEAT]
    try:
        obj = json.loads(data)
    except ValueError:
        return [AgentEvent(kind=EventKind.OTHER, raw=data)]
    if not isinstance(obj, dict):
        return [AgentEvent(kind=EventKind.OTHER, raw=obj)]
    common = {
        "partial": obj.get("partial") is True,
        "author": obj.get("author") if isinstance(obj.get("author"), str) else None,
        "raw": obj,
    }
    events = _error(obj, common) or _parts(obj, common) or [AgentEvent(EventKind.OTHER, **common)]
    if _get(obj, "turnComplete", "turn_complete") is True:
        events[-1] = replace(events[-1], turn_complete=True)
    return events


def _error(obj: dict[str, Any], common: dict[str, Any]) -> list[AgentEvent]:
    error = obj.get("error")
    code = _get(obj, "errorCode", "error_code")
    message = _get(obj, "errorMessage", "error_message")
    if isinstance(error, dict):
        message = message or error.get("message")
        code = code or error.get("code")
    elif error:
        message = message or str(error)
    if not (message or code):
        return []
    text = str(message or code)
    code_text = str(code) if code is not None else None
    return [AgentEvent(EventKind.ERROR, error=text, error_code=code_text, **common)]


def _parts(obj: dict[str, Any], common: dict[str, Any]) -> list[AgentEvent]:
    content = obj.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list):
        return []
    events: list[AgentEvent] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        event = _part(part, common)
        if event.kind is EventKind.TEXT and events and events[-1].kind is EventKind.TEXT:
            event = AgentEvent(EventKind.TEXT, text=events.pop().text + event.text, **common)
        events.append(event)
    return events


def _part(part: dict[str, Any], common: dict[str, Any]) -> AgentEvent:
    call = _get(part, "functionCall", "function_call")
    if isinstance(call, dict):
        args = call.get("args")
        return AgentEvent(
            EventKind.TOOL_CALL,
            tool_name=call.get("name"),
            tool_id=call.get("id"),
            tool_args=args if isinstance(args, dict) else {},
            **common,
        )
    result = _get(part, "functionResponse", "function_response")
    if isinstance(result, dict):
        return AgentEvent(
            EventKind.TOOL_RESULT,
            tool_name=result.get("name"),
            tool_id=result.get("id"),
            tool_response=result.get("response"),
            **common,
        )
    # "thought" parts are the model's reasoning: never user-facing.
    if isinstance(part.get("text"), str) and not part.get("thought"):
        return AgentEvent(EventKind.TEXT, text=part["text"], **common)
    return AgentEvent(EventKind.OTHER, **common)


def _get(obj: dict[str, Any], camel: str, snake: str) -> Any:
    value = obj.get(camel)
    return value if value is not None else obj.get(snake)
