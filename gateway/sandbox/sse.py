"""The ``run_sse`` wire format of one dialect: events, in-stream errors, keep-alives.

Events are built once, as ADK serialises them (camelCase aliases, nulls left
out), then shaped for the dialect: snake_case keys, the JSON spread over several
``data:`` lines, CRLF line ends. Each of those is legal under the WHATWG
event-stream rules, and each is seen from some upstream.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from gateway.sandbox.dialects import Dialect

AUTHOR = "nemo_agent"
_PART_KEYS = {"function_call": "functionCall", "function_response": "functionResponse"}
# ADK's camelCase aliases and their field names; only these keys are renamed
# (tool arguments and results are the tools' own data).
_SNAKE = {
    "invocationId": "invocation_id",
    "functionCall": "function_call",
    "functionResponse": "function_response",
    "turnComplete": "turn_complete",
    "customMetadata": "custom_metadata",
    "errorCode": "error_code",
    "errorMessage": "error_message",
}
_HEARTBEATS = {
    "comment": [": heartbeat"],
    "event": ["event: heartbeat", "data: "],
    "empty_data": ["data:"],
}


@dataclass(frozen=True)
class SseWire:
    dialect: Dialect

    def event(self, step: Any, invocation_id: str) -> str:
        """One agent step as an ADK Event."""
        parts = [_camel_part(p) for p in step.parts]
        complete = bool(step.turn_complete) and self.dialect.turn_complete
        return self.encode(
            {
                **_header(invocation_id, AUTHOR),
                "content": {"role": "model", "parts": parts} if parts else None,
                "partial": bool(step.partial),
                "turnComplete": True if complete else None,
                "customMetadata": {"stage": step.stage} if getattr(step, "stage", None) else None,
            }
        )

    def error(self, message: str, code: str) -> str:
        """A failure inside a running stream, in the dialect's form."""
        form = self.dialect.stream_error
        if form == "error_field":  # ADK 1.4
            return self.encode({"error": message})
        if form == "system_event":  # current ADK: an event by "system", HTTP 200
            text = message if message.startswith("Error:") else f"Error: {message}"
            content = {"role": "model", "parts": [{"text": text}]}
            return self.encode({**_header(uuid.uuid4().hex, "system"), "content": content})
        # A model failure on an ordinary event.
        header = _header("e-" + uuid.uuid4().hex, AUTHOR)
        return self.encode({**header, "errorCode": code, "errorMessage": message})

    def heartbeat(self, n: int) -> str:
        forms = self.dialect.heartbeats
        return self._frame(_HEARTBEATS[forms[n % len(forms)]])

    def encode(self, payload: dict[str, Any]) -> str:
        body = drop_nulls(payload)
        if self.dialect.event_keys == "snake":
            body = _snake(body)
        if self.dialect.multiline_data:
            lines = json.dumps(body, ensure_ascii=False, indent=1).split("\n")
        else:
            lines = [json.dumps(body, ensure_ascii=False)]
        return self._frame([f"data: {line}" for line in lines])

    def _frame(self, lines: list[str]) -> str:
        end = self.dialect.line_end
        return "".join(line + end for line in lines) + end


def _header(invocation_id: str, author: str) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "invocationId": invocation_id,
        "author": author,
        "timestamp": time.time(),
    }


def drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [drop_nulls(v) for v in value]
    return value


def _camel_part(part: dict[str, Any]) -> dict[str, Any]:
    return {_PART_KEYS.get(k, k): v for k, v in part.items()}


def _snake(event: dict[str, Any]) -> dict[str, Any]:
    out = {_SNAKE.get(k, k): v for k, v in event.items()}
    content = out.get("content")
    if isinstance(content, dict) and isinstance(content.get("parts"), list):
        parts = [{_SNAKE.get(k, k): v for k, v in p.items()} for p in content["parts"]]
        out["content"] = {**content, "parts": parts}
    return out
