"""The upstream's JSON envelope, sans-I/O: bytes and headers in, data or an error out.

Three envelopes are documented (protocol sections 1-8 and 10) and all are read:

* ``{"code": 0, "message": "...", "data": {...}}``: ``code`` 0 is success;
* ``{"success": true, "data": {...}}``, failing as
  ``{"success": false, "error": {"code": ..., "message": "..."}}``;
* a bare object (render status shape 1), returned whole.

A code may be an int, a digit string (read as an int) or a name such as
``"INSUFFICIENT_CREDITS"``; well-known names map onto the same errors as their
numbers, and the error keeps the code as given in ``upstream_code``.

The HTTP status and the envelope are both checked because the upstream may
answer HTTP 200 with a failure. Error answers without an envelope are read too:
FastAPI's ``{"detail": ...}`` (ADK's server), HTML pages from a proxy and plain
text. A message is always readable text (markup stripped) of bounded length.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from gateway.upstream.errors import (
    DuplicateId,
    ExportBlocked,
    InsufficientCredits,
    MediaTooLarge,
    ProtocolError,
    RateLimited,
    SessionNotFound,
    TokenInvalid,
    UnsupportedMedia,
    UpstreamCode,
    UpstreamError,
    UpstreamUnavailable,
)

_SIMPLE_CODES: dict[int, type[UpstreamError]] = {
    1001: TokenInvalid,
    1002: SessionNotFound,
    4002: MediaTooLarge,
    402: ExportBlocked,
    409: DuplicateId,
}
_SIMPLE_STATUSES: dict[int, type[UpstreamError]] = {
    401: TokenInvalid,
    402: ExportBlocked,
    409: DuplicateId,
    413: MediaTooLarge,
    408: UpstreamUnavailable,
}
# Named codes (the ``success`` envelope's ``error.code``), upper-cased with
# separators as "_", read as the number that means the same.
_CODE_NAMES: dict[str, int] = {
    "TOKEN_EXPIRED": 1001,
    "TOKEN_INVALID": 1001,
    "INVALID_TOKEN": 1001,
    "UNAUTHORIZED": 1001,
    "UNAUTHENTICATED": 1001,
    "SESSION_NOT_FOUND": 1002,
    "INSUFFICIENT_CREDITS": 2001,
    "INSUFFICIENT_BALANCE": 2001,
    "OUT_OF_CREDITS": 2001,
    "UNSUPPORTED_FILE_TYPE": 4001,
    "UNSUPPORTED_MEDIA": 4001,
    "UNSUPPORTED_FORMAT": 4001,
    "FILE_TOO_LARGE": 4002,
    "PAYLOAD_TOO_LARGE": 4002,
    "EXPORT_BLOCKED": 402,
    "RATE_LIMITED": 429,
    "RATE_LIMIT_EXCEEDED": 429,
    "TOO_MANY_REQUESTS": 429,
    "DUPLICATE_ID": 409,
    "DUPLICATE": 409,
    "ALREADY_EXISTS": 409,
    "CONFLICT": 409,
}
# Messages that name the failure when no code does (ADK: 404 "Session not found").
_SESSION_GONE = re.compile(
    r"\bsession\b.{0,80}?\b(?:not\s+found|does\s*n[o']t\s+exist|no\s+longer\s+exists|unknown)"
    r"|\b(?:no\s+such|unknown)\s+session\b",
    re.IGNORECASE | re.DOTALL,
)
_DUPLICATE = re.compile(
    r"\bduplicated?\b|\balready\s+(?:exists?|used|in\s+use|taken|submitted|registered)\b",
    re.IGNORECASE,
)
_MAX_MESSAGE = 300


def unwrap(status: int, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """Return the envelope's ``data`` (a bare JSON object is returned whole).

    A list in ``data`` comes back as ``{"items": [...]}`` so callers always get a dict.
    """
    return data_of(check(status, headers, body))


def data_of(payload: dict[str, Any]) -> dict[str, Any]:
    """The ``data`` of a checked envelope, by the rules of ``unwrap``."""
    if not is_envelope(payload):
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
    error = error_for(status, headers, payload, body)
    if error is not None:
        raise error
    if payload is None:
        raise ProtocolError(f"HTTP {status}: expected a JSON object", upstream_code=status)
    return payload


def error_for(
    status: int, headers: Mapping[str, str], payload: dict[str, Any] | None, body: bytes = b""
) -> UpstreamError | None:
    """The error an answer stands for, or None when it is a success.

    ``body`` (the raw bytes) only serves the message of an answer that is not JSON.
    """
    if is_failure(payload):
        return _from_code(envelope_code(payload), status, headers, payload or {})
    if 200 <= status < 300:
        return None
    if payload is None:
        message = _with_status(status, _body_text(body))
    else:
        message = _message(payload, f"HTTP {status}")
    return _from_status(status, headers, payload or {}, message, status)


def is_envelope(payload: dict[str, Any] | None) -> bool:
    """Whether ``payload`` is one of the two envelopes rather than a bare object."""
    if not isinstance(payload, dict):
        return False
    return "code" in payload or "data" in payload or isinstance(payload.get("success"), bool)


def is_failure(payload: dict[str, Any] | None) -> bool:
    """An envelope that reports a failure: ``"success": false``, or a non-zero code
    when there is no ``success`` flag (which then decides: ``{"success": true,
    "code": 200}`` is a success)."""
    if not isinstance(payload, dict):
        return False
    success = payload.get("success")
    if isinstance(success, bool):
        return not success
    return envelope_code(payload) not in (None, 0)


def envelope_code(payload: dict[str, Any] | None) -> UpstreamCode:
    """The envelope's code: ``code``, else the ``success`` envelope's ``error.code``.

    Digit strings become ints; other strings are kept as given.
    """
    if not isinstance(payload, dict):
        return None
    code = payload.get("code")
    error = payload.get("error")
    if code is None and isinstance(error, dict):
        code = error.get("code")
    return _code(code)


def retry_after(headers: Mapping[str, str], payload: dict[str, Any] | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta or HTTP date) or a ``retry_after`` field."""
    value = _header(headers, "retry-after")
    if value is None and isinstance(payload, dict):
        value = _details(payload).get("retry_after")
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


def decode(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


# -- mapping ----------------------------------------------------------------------


def _from_code(
    code: UpstreamCode, status: int, headers: Mapping[str, str], payload: dict[str, Any]
) -> UpstreamError:
    default = "the upstream reported a failure" if code is None else f"upstream error code {code}"
    message = _message(payload, default)
    number = _CODE_NAMES.get(_name(code)) if isinstance(code, str) else code
    if number == 2001:
        return _credits_error(message, payload, code)
    if number == 4001:
        return _media_error(message, payload, code)
    if number == 429:
        return RateLimited(message, upstream_code=code, retry_after=retry_after(headers, payload))
    if number in _SIMPLE_CODES:
        return _SIMPLE_CODES[number](message, upstream_code=code)
    by_words = _from_words(message, code)
    if by_words is not None:
        return by_words
    if isinstance(number, int) and 500 <= number < 600:
        return UpstreamUnavailable(message, upstream_code=code)
    if status >= 400:
        return _from_status(status, headers, payload, message, code if code is not None else status)
    return UpstreamError(message, upstream_code=code)


def _from_status(
    status: int,
    headers: Mapping[str, str],
    payload: dict[str, Any],
    message: str,
    code: UpstreamCode,
) -> UpstreamError:
    if status == 429:
        return RateLimited(message, upstream_code=code, retry_after=retry_after(headers, payload))
    if status == 415:
        return _media_error(message, payload, code)
    if status in _SIMPLE_STATUSES:
        return _SIMPLE_STATUSES[status](message, upstream_code=code)
    by_words = _from_words(message, code)
    if by_words is not None:
        return by_words
    if status >= 500:
        return UpstreamUnavailable(message, upstream_code=code)
    return ProtocolError(message, upstream_code=code)


def _from_words(message: str, code: UpstreamCode) -> UpstreamError | None:
    """The error a message names when neither code nor status does."""
    if _SESSION_GONE.search(message):
        return SessionNotFound(message, upstream_code=code)
    if _DUPLICATE.search(message):
        return DuplicateId(message, upstream_code=code)
    return None


def _credits_error(
    message: str, payload: dict[str, Any], code: UpstreamCode
) -> InsufficientCredits:
    details = _details(payload)
    url = _first_str(details, "registration_url", "register_url", "bind_url", "url")
    bind = _first_str(details, "bind_id", "bind", "anonymous_id", "user_id", ints=True)
    return InsufficientCredits(message, upstream_code=code, registration_url=url, bind_id=bind)


def _media_error(message: str, payload: dict[str, Any], code: UpstreamCode) -> UnsupportedMedia:
    details = _details(payload)
    for key in ("accepted_formats", "accepted", "allowed_formats", "formats"):
        value = details.get(key)
        if isinstance(value, list) and all(isinstance(v, str) for v in value) and value:
            return UnsupportedMedia(message, upstream_code=code, accepted_formats=tuple(value))
    return UnsupportedMedia(message, upstream_code=code)


def _code(value: Any) -> UpstreamCode:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit() and text.isascii():
            return int(text)
        if _name(text) in ("OK", "SUCCESS"):
            return 0  # a named success, as some gateways spell code 0
        return text or None
    return None


def _name(code: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", code.upper()).strip("_")


# -- messages -----------------------------------------------------------------------

_HTML = re.compile(r"<\s*(?:!doctype|html|head|body|title|h1|p|div|center|pre|br|hr)\b", re.I)
_TAG = re.compile(r"<[^>]*>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>|<h1[^>]*>(.*?)</h1>", re.I | re.DOTALL)
_DROPPED = re.compile(r"<(script|style)\b.*?</\1\s*>", re.I | re.DOTALL)


def _message(payload: dict[str, Any] | None, default: str) -> str:
    """The upstream's own words for a failure, readable and bounded."""
    text = _words(payload) if isinstance(payload, dict) else None
    return _readable(text or "") or default[:_MAX_MESSAGE]


def _words(payload: dict[str, Any]) -> str | None:
    error = payload.get("error")
    if isinstance(error, dict):
        nested = _first_str(error, "message", "msg", "detail", "description")
        if nested:
            return nested
    # A success envelope's "message" ("success") says nothing about an HTTP failure.
    if is_envelope(payload) and not is_failure(payload):
        return _detail(payload.get("detail"))
    found = _first_str(payload, "message", "msg", "errorMessage", "error_message")
    if found:
        return found
    if isinstance(error, str) and error:
        return error
    return _detail(payload.get("detail"))


def _detail(detail: Any) -> str | None:
    """FastAPI's ``detail``: a string, or a list of validation errors (``loc`` + ``msg``)."""
    if isinstance(detail, str):
        return detail or None
    if isinstance(detail, dict):
        return _first_str(detail, "message", "msg", "detail")
    if not isinstance(detail, list):
        return None
    items = [_validation_item(item) for item in detail]
    return "; ".join(item for item in items if item) or None


def _validation_item(item: Any) -> str:
    if isinstance(item, str):
        return item
    if not isinstance(item, dict):
        return ""
    loc = item.get("loc")
    where = ".".join(str(part) for part in loc) if isinstance(loc, list) else ""
    msg = str(item.get("msg") or item.get("message") or "")
    return f"{where}: {msg}" if where and msg else where or msg


def _body_text(body: bytes) -> str:
    """A readable summary of a body that is not JSON (an HTML page, plain text)."""
    return _readable(body.decode("utf-8", errors="replace"))


def _readable(text: str) -> str:
    """Plain text of at most ``_MAX_MESSAGE`` characters: an HTML page is read as its
    title (or first heading), else as its text without tags; whitespace collapsed."""
    if _HTML.search(text):
        match = _TITLE.search(text)
        text = (match.group(1) or match.group(2)) if match else _DROPPED.sub(" ", text)
        text = _TAG.sub(" ", text)
    return " ".join(html.unescape(text).split())[:_MAX_MESSAGE]


def _with_status(status: int, text: str) -> str:
    """``HTTP 502 Bad Gateway`` or ``HTTP 503: upstream connect error ...``."""
    if not text:
        return f"HTTP {status}"
    joiner = " " if text.startswith(str(status)) else f" {status}: "
    return f"HTTP{joiner}{text}"[:_MAX_MESSAGE]


# -- small readers ------------------------------------------------------------------


def _details(payload: dict[str, Any]) -> dict[str, Any]:
    """Where an error's extra fields live: ``data``, ``error`` or ``error.details``."""
    merged: dict[str, Any] = {}
    error = payload.get("error")
    if isinstance(error, dict):
        inner = error.get("details")
        merged |= inner if isinstance(inner, dict) else {}
        merged |= error
    data = payload.get("data")
    if isinstance(data, dict):
        merged |= data
    elif not is_envelope(payload):
        merged |= payload
    return merged


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
