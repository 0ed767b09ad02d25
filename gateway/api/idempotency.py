"""``Idempotency-Key`` for POSTs: the same key and request replay the first response.

Scoped per API key and kept 24 hours (``gateway.store.idempotency``). The
request is identified by a hash of method, path and the canonical JSON body
(key order and whitespace do not matter). A request that fails with a 4xx or
an exception leaves no record, so the client can fix it and retry with the
same key; only a successful (2xx) response is stored and replayed.

A crash mid-request cannot hold the key: the record's lease lapses (or its
owner is seen dead) and the retry runs. On the routes that make a video or a
message (``RECOVERABLE``), the record names the new resource in the very
transaction that creates it, so a retry after a crash is answered with that
resource, as it is now (and ``Prefer: wait`` waits on it), never a second one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Response, g, make_response, request

from gateway.api.body import read_body
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
    except (ValueError, RecursionError):
        # Not JSON (or too deep to parse): the handler will refuse it, but the
        # hash must still be stable.
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


def _video_answer(resource_id: str) -> Response:
    # Imported here: gateway.api.videos imports this module.
    from gateway import videos_service
    from gateway.api.prefer import parse_prefer_wait
    from gateway.api.videos import started

    svc = services()
    view = videos_service.get_video(svc.db, g.api_key.id, resource_id)
    wait = parse_prefer_wait(request.headers.get("Prefer"), svc.config.max_wait_seconds)
    return started(view, wait)


def _message_answer(resource_id: str) -> Response:
    from gateway import messages_service
    from gateway.api.prefer import parse_prefer_wait
    from gateway.api.sessions import answer_message

    svc = services()
    session_id = request.view_args.get("session_id", "") if request.view_args else ""
    view = messages_service.get_message(svc.db, g.api_key.id, session_id, resource_id)
    wait = parse_prefer_wait(request.headers.get("Prefer"), svc.config.max_wait_seconds)
    return answer_message(view, wait)


@dataclass(frozen=True)
class Recoverable:
    """A route whose retry after a crash is answered from the resource it made."""

    prefix: str  # the resource's id prefix
    answer: Callable[[str], Response]  # the response for that resource, now


RECOVERABLE: dict[str, Recoverable] = {
    "videos.create": Recoverable("vid_", _video_answer),
    "videos.edit": Recoverable("vid_", _video_answer),
    "sessions.export": Recoverable("vid_", _video_answer),
    "sessions.post_message": Recoverable("turn_", _message_answer),
}


def _run_once(key: str, run: Callable[[], Response]) -> Response:
    svc = services()
    raw = read_body(svc.config.max_body_bytes)
    digest = request_hash(request.method, request.path, raw)
    api_key_id = g.api_key.id
    owner = records.process_owner()
    started = records.begin(
        svc.db, api_key_id, key, request.method, request.path, digest, utcnow(), owner=owner
    )
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
    route = RECOVERABLE.get(request.endpoint or "")
    if started.kind == "recovered":
        assert started.resource_id is not None
        if route is not None:
            run = lambda: route.answer(started.resource_id)  # noqa: E731
    pending = records.Pending(api_key_id, key, owner, route.prefix) if route else None
    try:
        with records.lease_keeper(svc.db).holding(), records.serving(pending):
            response = run()
    except BaseException:
        records.abandon(svc.db, api_key_id, key, owner=owner)
        raise
    _store(key, api_key_id, owner, response)
    return response


def _store(key: str, api_key_id: str, owner: str, response: Response) -> None:
    db = services().db
    if not 200 <= response.status_code < 300:
        records.abandon(db, api_key_id, key, owner=owner)
        return
    headers = {h: response.headers[h] for h in _REPLAYED_HEADERS if h in response.headers}
    body = response.get_data(as_text=True)
    status = response.status_code
    records.complete(db, api_key_id, key, status, headers, body, _resource_id(body), owner=owner)


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
