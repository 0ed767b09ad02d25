"""ADK ``run_sse`` events, sans-I/O: one SSE event's data string in, ``AgentEvent`` out.

ADK serialises events with ``model_dump_json(exclude_none=True, by_alias=True)``,
so keys are camelCase; snake_case has been seen too and both are read for every
key. An event whose content has several parts (text and a function call, say)
becomes several ``AgentEvent`` objects, one per part, so every event the worker
handles has exactly one kind. Only the last one carries ``turn_complete``.

Errors inside the stream come in three documented forms, each read as one
``EventKind.ERROR`` event whose ``error`` holds the upstream's words:

* current ADK: an event by author ``"system"`` whose text is ``"Error: <words>"``.
  ``error`` is ``<words>``: only the leading ``Error:`` and the whitespace around
  it are dropped (ADK's own framing, which would read "Error: Error: ..." once the
  gateway shows it as an error message); ``error_code`` is None;
* ADK 1.4: ``{"error": "..."}`` or ``{"error": {"message", "code"}}``;
* a model failure: ``errorCode``/``errorMessage`` on an ordinary event. A
  ``finishReason`` other than ``STOP`` is the code when ``errorCode`` is absent;
  a ``finishReason`` alone (say ``MAX_TOKENS`` on a whole reply) is no error.
  Any parts of such an event come first, the error last.

The skill's API reference also documents flat events,
``{"type": "text"|"tool_call"|"tool_result"|"heartbeat", ...}``: read as well.
"""

from __future__ import annotations

import json
import re
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
    invocation_id: str | None = None
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
    common = _common(obj)
    events = _flat(obj, common) or _adk(obj, common)
    if _get(obj, "turnComplete", "turn_complete") is True:
        events[-1] = replace(events[-1], turn_complete=True)
    return events


def _common(obj: dict[str, Any]) -> dict[str, Any]:
    """The fields every event cut from ``obj`` shares."""
    author = obj.get("author")
    return {
        "partial": obj.get("partial") is True,
        "author": author if isinstance(author, str) else None,
        "invocation_id": _opaque(_get(obj, "invocationId", "invocation_id")),
        "raw": obj,
    }


def _adk(obj: dict[str, Any], common: dict[str, Any]) -> list[AgentEvent]:
    parts = _parts(obj, common)
    system = _system_error(obj, parts, common)
    if system is not None:
        return [system]
    events = parts + _error(obj, common)
    return events or [AgentEvent(EventKind.OTHER, **common)]


# ADK's run_sse wraps an exception as Event(author="system", text=f"Error: {e}").
_SYSTEM_ERROR = re.compile(r"\s*error:\s*", re.IGNORECASE)


def _system_error(
    obj: dict[str, Any], parts: list[AgentEvent], common: dict[str, Any]
) -> AgentEvent | None:
    if common["author"] != "system":
        return None
    text = "".join(event.text for event in parts if event.kind is EventKind.TEXT)
    match = _SYSTEM_ERROR.match(text)
    if match is None:
        return None
    words = text[match.end() :].strip() or text.strip()
    code = _opaque(_get(obj, "errorCode", "error_code"))
    return AgentEvent(EventKind.ERROR, error=words, error_code=code, **common)


def _error(obj: dict[str, Any], common: dict[str, Any]) -> list[AgentEvent]:
    error = obj.get("error")
    code = _get(obj, "errorCode", "error_code")
    message = _get(obj, "errorMessage", "error_message")
    if isinstance(error, dict):
        message = message or error.get("message")
        code = code if code is not None else error.get("code")
    elif isinstance(error, str) and error:
        message = message or error
    if message and code is None:
        code = _failed_finish(obj)
    if not (message or code is not None):
        return []
    text = str(message or code)
    return [AgentEvent(EventKind.ERROR, error=text, error_code=_opaque(code), **common)]


def _failed_finish(obj: dict[str, Any]) -> str | None:
    reason = _get(obj, "finishReason", "finish_reason")
    if isinstance(reason, str) and reason.upper() not in ("STOP", "FINISH_REASON_UNSPECIFIED"):
        return reason
    return None


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
        return _tool_call(call.get("name"), call.get("id"), call.get("args"), common)
    result = _get(part, "functionResponse", "function_response")
    if isinstance(result, dict):
        return _tool_result(result.get("name"), result.get("id"), result.get("response"), common)
    # "thought" parts are the model's reasoning: never user-facing.
    if isinstance(part.get("text"), str) and not part.get("thought"):
        return AgentEvent(EventKind.TEXT, text=part["text"], **common)
    return AgentEvent(EventKind.OTHER, **common)


def _tool_call(name: Any, id_: Any, args: Any, common: dict[str, Any]) -> AgentEvent:
    return AgentEvent(
        EventKind.TOOL_CALL,
        tool_name=name if isinstance(name, str) else None,
        tool_id=_opaque(id_),
        tool_args=args if isinstance(args, dict) else {},
        **common,
    )


def _tool_result(name: Any, id_: Any, response: Any, common: dict[str, Any]) -> AgentEvent:
    return AgentEvent(
        EventKind.TOOL_RESULT,
        tool_name=name if isinstance(name, str) else None,
        tool_id=_opaque(id_),
        tool_response=response,
        **common,
    )


def _flat(obj: dict[str, Any], common: dict[str, Any]) -> list[AgentEvent]:
    """The API reference's flat events; [] for anything else (ADK events have no type)."""
    kind = obj.get("type")
    if not isinstance(kind, str) or isinstance(obj.get("content"), dict):
        return []
    if kind == "heartbeat":
        return [HEARTBEAT]
    if kind == "text":
        text = obj.get("content", obj.get("text"))
        return [AgentEvent(EventKind.TEXT, text=text, **common)] if isinstance(text, str) else []
    if kind == "tool_call":
        args = obj.get("args", obj.get("arguments"))
        return [_tool_call(obj.get("name"), obj.get("id"), args, common)]
    if kind == "tool_result":
        response = obj.get("result", obj.get("response"))
        return [_tool_result(obj.get("name"), obj.get("id"), response, common)]
    return []


def _opaque(value: Any) -> str | None:
    """An id or code as a string, whatever its JSON type; None when absent."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    return str(value)


def _get(obj: dict[str, Any], camel: str, snake: str) -> Any:
    value = obj.get(camel)
    return value if value is not None else obj.get(snake)
