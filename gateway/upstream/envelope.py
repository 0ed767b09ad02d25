"""The upstream's JSON envelope, sans-I/O: bytes and headers in, data or an error out.

Answers look like ``{"code": 0, "message": "...", "data": {...}}``. The HTTP
status and the envelope code are both checked because the upstream may answer
HTTP 200 with a non-zero code. Non-JSON bodies (an HTML 502 page from a proxy)
map to ``UpstreamUnavailable`` for 5xx and ``ProtocolError`` otherwise.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from gateway.upstream.errors import (
    ExportBlocked,
    InsufficientCredits,
    MediaTooLarge,
    ProtocolError,
    RateLimited,
    SessionNotFound,
    TokenInvalid,
    UnsupportedMedia,
    UpstreamError,
    UpstreamUnavailable,
)

_SIMPLE_CODES: dict[int, type[UpstreamError]] = {
    1001: TokenInvalid,
    1002: SessionNotFound,
    4002: MediaTooLarge,
    402: ExportBlocked,
}
_SIMPLE_STATUSES: dict[int, type[UpstreamError]] = {
    401: TokenInvalid,
    402: ExportBlocked,
    413: MediaTooLarge,
    408: UpstreamUnavailable,
}
_MAX_MESSAGE = 300


def unwrap(status: int, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """Return the envelope's ``data`` (a bare JSON object without ``code`` is returned whole).

    A list in ``data`` comes back as ``{"items": [...]}`` so callers always get a dict.
    """
    return data_of(check(status, headers, body))


def data_of(payload: dict[str, Any]) -> dict[str, Any]:
    """The ``data`` of a checked envelope, by the rules of ``unwrap``."""
    if "code" not in payload and "data" not in payload:
        return payload
    data = payload.get("data")
    if data is None:
        return {}
    if isinstance(data, dict):
        return data
    if isinstance(data, list):
        return {"items": data}
    return {"value": data}


def check(status: int, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """Raise the mapped error for a failed answer, else return the decoded JSON object."""
    payload = decode(body)
    error = error_for(status, headers, payload)
    if error is not None:
        raise error
    if payload is None:
        raise ProtocolError(f"HTTP {status}: expected a JSON object", upstream_code=status)
    return payload


def error_for(
    status: int, headers: Mapping[str, str], payload: dict[str, Any] | None
) -> UpstreamError | None:
    """The error an answer stands for, or None when it is a success."""
    code = envelope_code(payload)
    if code not in (None, 0):
        return _from_code(code, status, headers, payload or {})
    if 200 <= status < 300:
        return None
    return _from_status(status, headers, payload or {})


def envelope_code(payload: dict[str, Any] | None) -> int | None:
    if not isinstance(payload, dict):
        return None
    code = payload.get("code")
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.strip().lstrip("-").isdigit():
        return int(code)
    return None


def retry_after(headers: Mapping[str, str], payload: dict[str, Any] | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta or HTTP date) or a ``retry_after`` field."""
    value = _header(headers, "retry-after")
    if value is None and isinstance(payload, dict):
        data = payload.get("data") if isinstance(payload.get("data"), dict) else payload
        value = data.get("retry_after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    try:
        return max(0.0, parsedate_to_datetime(str(value)).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _from_code(
    code: int, status: int, headers: Mapping[str, str], payload: dict[str, Any]
) -> UpstreamError:
    message = _message(payload, f"upstream error code {code}")
    if code == 2001:
        return _credits_error(message, payload)
    if code == 4001:
        return _media_error(message, payload, code)
    if code == 429:
        return RateLimited(message, upstream_code=code, retry_after=retry_after(headers, payload))
    if code in _SIMPLE_CODES:
        return _SIMPLE_CODES[code](message, upstream_code=code)
    if 500 <= code < 600:
        return UpstreamUnavailable(message, upstream_code=code)
    if status >= 400:
        return _from_status(status, headers, payload)
    return UpstreamError(message, upstream_code=code)


def _from_status(status: int, headers: Mapping[str, str], payload: dict[str, Any]) -> UpstreamError:
    message = _message(payload, f"HTTP {status}")
    if status == 429:
        return RateLimited(message, upstream_code=status, retry_after=retry_after(headers, payload))
    if status == 415:
        return _media_error(message, payload, status)
    if status in _SIMPLE_STATUSES:
        return _SIMPLE_STATUSES[status](message, upstream_code=status)
    if status >= 500:
        return UpstreamUnavailable(message, upstream_code=status)
    return ProtocolError(message, upstream_code=status)


def _credits_error(message: str, payload: dict[str, Any]) -> InsufficientCredits:
    data = _data(payload)
    url = _first_str(data, "registration_url", "register_url", "bind_url", "url")
    bind = _first_str(data, "bind_id", "bind", "anonymous_id", "user_id", ints=True)
    return InsufficientCredits(message, registration_url=url, bind_id=bind)


def _media_error(message: str, payload: dict[str, Any], code: int) -> UnsupportedMedia:
    data = _data(payload)
    for key in ("accepted_formats", "accepted", "allowed_formats", "formats"):
        value = data.get(key)
        if isinstance(value, list) and all(isinstance(v, str) for v in value) and value:
            return UnsupportedMedia(message, upstream_code=code, accepted_formats=tuple(value))
    return UnsupportedMedia(message, upstream_code=code)


def decode(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _data(payload: dict[str, Any]) -> dict[str, Any]:
    data = payload.get("data")
    return data if isinstance(data, dict) else {}


def _message(payload: dict[str, Any], default: str) -> str:
    value = _first_str(payload, "message", "msg", "error")
    return (value or default)[:_MAX_MESSAGE]


def _first_str(data: dict[str, Any], *keys: str, ints: bool = False) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
        if ints and isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # numeric user ids
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # httpx.Headers is case-insensitive, a plain dict (tests, sandbox) is not.
    value = headers.get(name)
    if value is not None:
        return value
    for key, val in headers.items():
        if key.lower() == name:
            return val
    return None
