"""``Idempotency-Key`` for POSTs: the same key and request replay the first response.

Scoped per API key and kept 24 hours (``gateway.store.idempotency``). The
request is identified by a hash of method, path and the canonical JSON body
(key order and whitespace do not matter). A request that fails with a 4xx or
an exception leaves no record, so the client can fix it and retry with the
same key; only a successful (2xx) response is stored and replayed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, g, make_response, request

from gateway.api.errors import ApiError
from gateway.api.services import services
from gateway.store import idempotency as records
from gateway.store.models import utcnow

F = TypeVar("F", bound=Callable[..., Any])

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# Headers worth replaying; others (Date, Content-Length) are regenerated.
_REPLAYED_HEADERS = ("Content-Type", "Location", "Retry-After", "Preference-Applied")


def request_hash(method: str, path: str, raw_body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(raw_body), sort_keys=True, separators=(",", ":"))
    except (ValueError, UnicodeDecodeError):
        # Not JSON: the handler will refuse it, but the hash must still be stable.
        canonical = raw_body.decode("latin-1")
    return hashlib.sha256(f"{method}\n{path}\n{canonical}".encode()).hexdigest()


def idempotent(view: F) -> F:
    """Decorator for a POST view that runs after authentication (``g.api_key``)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return make_response(view(*args, **kwargs))
        return _run_once(_checked_key(key), lambda: make_response(view(*args, **kwargs)))

    return wrapper  # type: ignore[return-value]


def _checked_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise ApiError(
            "invalid_header",
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters.",
            header=HEADER,
        )
    return key


def _run_once(key: str, run: Callable[[], Response]) -> Response:
    svc = services()
    limit = svc.config.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ApiError("body_too_large", f"The body must be at most {limit} bytes.")
    digest = request_hash(request.method, request.path, request.get_data(cache=True))
    api_key_id = g.api_key.id
    started = records.begin(svc.db, api_key_id, key, request.method, request.path, digest, utcnow())
    if started.kind == "replay":
        return _replay(started)
    if started.kind == "mismatch":
        raise ApiError(
            "idempotency_key_reused",
            f"This {HEADER} was used with a different request.",
        )
    if started.kind == "in_flight":
        raise ApiError(
            "idempotency_key_in_flight",
            f"A request with this {HEADER} is still being processed; retry later.",
            headers={"Retry-After": "1"},
        )
    try:
        response = run()
    except BaseException:
        records.abandon(svc.db, api_key_id, key)
        raise
    _store(key, api_key_id, response)
    return response


def _store(key: str, api_key_id: str, response: Response) -> None:
    db = services().db
    if not 200 <= response.status_code < 300:
        records.abandon(db, api_key_id, key)
        return
    headers = {h: response.headers[h] for h in _REPLAYED_HEADERS if h in response.headers}
    body = response.get_data(as_text=True)
    records.complete(db, api_key_id, key, response.status_code, headers, body, _resource_id(body))


def _resource_id(body: str) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _replay(started: records.Begin) -> Response:
    response = Response(started.body, status=started.status)
    response.headers.update(started.headers or {})
    response.headers["Idempotent-Replayed"] = "true"
    return response
