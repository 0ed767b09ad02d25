"""The JSON request body at the boundary: read within the limit, parsed, checked once.

Every JSON body passes here before the idempotency hash and before a schema
sees it, so each route refuses the same input the same way:

- 413 ``body_too_large`` past the limit, with a Content-Length or chunked;
- 400 ``invalid_json`` for bad syntax, a non-object, or nesting deeper than
  ``MAX_DEPTH`` (the parser would otherwise recurse until Python gives up);
- 422 ``validation_error`` for a string or key that is not valid Unicode: JSON
  allows a lone surrogate escape (``"\\ud800"``), but no database, HTTP
  client or upstream can carry one, so it is refused here rather than failing
  later somewhere less clear.
"""

from __future__ import annotations

import json
from typing import Any

from flask import request

from gateway.api.errors import ApiError

MAX_DEPTH = 32


def read_body(max_bytes: int) -> bytes:
    """The raw body (cached for later readers), or 413 ``body_too_large``."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes)
    if request.content_length is None:
        # A chunked body is cut off at max_content_length without an error: one
        # byte of room tells a body at the limit from one over it.
        request.max_content_length = max_bytes + 1
    raw = request.get_data(cache=True)
    if len(raw) > max_bytes:
        raise _too_large(max_bytes)
    return raw


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object whose every string is valid Unicode, or a problem."""
    try:
        body = json.loads(raw)
    except RecursionError as exc:
        raise _too_deep() from exc
    except ValueError as exc:  # UnicodeDecodeError included
        raise ApiError("invalid_json", "The body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise ApiError("invalid_json", "The body must be a JSON object.")
    check_values(body)
    return body


def check_values(body: dict[str, Any]) -> None:
    """Walk the parsed body (without recursion): depth, then text, of every member."""
    stack: list[tuple[Any, str, int]] = [(body, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list) and depth > MAX_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            for key, item in value.items():
                name = f"{path}.{key}" if path else str(key)
                if not is_text(key):
                    raise _not_text(name)
                stack.append((item, name, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}.{i}", depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str) and not is_text(value):
            raise _not_text(path)


def is_text(value: str) -> bool:
    """False for a str holding a lone surrogate (it has no UTF-8 form)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _not_text(field: str) -> ApiError:
    # The name itself may hold the surrogate: show it escaped.
    shown = field.encode("utf-8", "backslashreplace").decode("utf-8")
    message = "Must be valid Unicode text: a lone surrogate (\\ud800-\\udfff) is not."
    return ApiError("validation_error", errors=[{"field": shown, "message": message}])


def _too_deep() -> ApiError:
    return ApiError("invalid_json", f"The body is nested deeper than {MAX_DEPTH} levels.")


def _too_large(max_bytes: int) -> ApiError:
    return ApiError("body_too_large", f"The body must be at most {max_bytes} bytes.")
