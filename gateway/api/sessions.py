"""``/v1/sessions``: a chat session, its messages, and exports of its draft."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from gateway import messages_service as messages
from gateway import sessions_service as sessions
from gateway.api.auth import require_key
from gateway.api.body import read_body
from gateway.api.errors import ApiError
from gateway.api.idempotency import idempotent
from gateway.api.media import check_media
from gateway.api.prefer import parse_cancel_after, parse_prefer_wait
from gateway.api.schemas import CreateExport, CreateMessage, CreateSession, load_body
from gateway.api.services import services
from gateway.api.videos import RETRY_AFTER_SECONDS, busy_problem, started
from gateway.api.wait import wait_until_done
from gateway.jobs.states import is_terminal
from gateway.session_resources import message_resource, session_resource

bp = Blueprint("sessions", __name__, url_prefix="/v1/sessions")

UPSTREAM_TIMEOUT = 10.0
_session_schema = CreateSession()
_message_schema = CreateMessage()
_export_schema = CreateExport()


@bp.post("")
@require_key
@idempotent
def create() -> Response:
    body = _optional_body(_session_schema)
    view = sessions.create_session(services().db, g.api_key.id, body.get("language"))
    resource = session_resource(view, services().links_for_request())
    response = jsonify(resource)
    response.status_code = 201
    response.headers["Location"] = resource["urls"]["self"]
    return response


@bp.get("/<session_id>")
@require_key
def read(session_id: str) -> Response:
    view = _call(lambda: sessions.get_session(services().db, g.api_key.id, session_id))
    return jsonify(session_resource(view, services().links_for_request()))


@bp.post("/<session_id>/exports")
@require_key
@idempotent
def export(session_id: str) -> Response:
    svc = services()
    body = _optional_body(_export_schema)
    cancel_after = parse_cancel_after(request.headers.get("Cancel-After"))
    wait = parse_prefer_wait(request.headers.get("Prefer"), svc.config.max_wait_seconds)
    view = _call(
        lambda: sessions.create_export(
            svc.db, g.api_key.id, session_id, body, cancel_after=cancel_after
        )
    )
    return started(view, wait)


@bp.post("/<session_id>/messages")
@require_key
@idempotent
def post_message(session_id: str) -> Response:
    svc = services()
    body = load_body(_message_schema, svc.config.max_body_bytes)
    check_media(body, g.api_key.id)
    wait = parse_prefer_wait(request.headers.get("Prefer"), svc.config.max_wait_seconds)
    view = _call(lambda: messages.post_message(svc.db, g.api_key.id, session_id, body, _upstream))
    return answer_message(view, wait)


def answer_message(view: messages.MessageView, wait: int | None) -> Response:
    """The answer to a posted message (also a keyed retry's after a crash)."""
    services().wake()  # a turn or an export video may have been queued
    if view.export is not None or is_terminal(view.message.status):
        return _message_response(view, wait, done=True)
    if wait:
        view = _wait(view, wait)
    return _message_response(view, wait, done=is_terminal(view.message.status))


@bp.get("/<session_id>/messages/<message_id>")
@require_key
def read_message(session_id: str, message_id: str) -> Response:
    view = _call(lambda: messages.get_message(services().db, g.api_key.id, session_id, message_id))
    return jsonify(message_resource(view, services().links_for_request()))


def _call(run: Callable[[], Any]) -> Any:
    """Run a domain function; its refusals become problems."""
    try:
        return run()
    except sessions.SessionNotFound as exc:
        raise ApiError("not_found", f"No session {exc}.", session_id=str(exc)) from exc
    except messages.MessageNotFound as exc:
        raise ApiError("not_found", f"No message {exc}.") from exc
    except sessions.SessionBusy as exc:
        raise busy_problem(exc) from exc
    except sessions.NoDraft as exc:
        raise ApiError(
            "draft_not_ready",
            "The session has no finished draft yet: generate a video first.",
            session_id=str(exc),
        ) from exc
    except TimeoutError as exc:
        raise ApiError("upstream_unavailable", "NemoVideo did not answer in time.") from exc


def _upstream(call: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
    return services().call_upstream(call, UPSTREAM_TIMEOUT)


def _optional_body(schema: Any) -> dict[str, Any]:
    """A create whose fields are all optional may come without a body."""
    limit = services().config.max_body_bytes
    if not read_body(limit):
        return {}
    return load_body(schema, limit)


def _wait(view: messages.MessageView, seconds: int) -> messages.MessageView:
    db, msg = services().db, view.message
    return wait_until_done(
        lambda: messages.get_message(db, msg.api_key_id, msg.session_id or "", msg.id),
        lambda latest: is_terminal(latest.message.status),
        seconds,
    )


def _message_response(view: messages.MessageView, wait: int | None, *, done: bool) -> Response:
    links = services().links_for_request()
    body = message_resource(view, links)
    response = jsonify(body)
    response.headers["Location"] = body["urls"]["self"]
    if wait is not None:
        response.headers["Preference-Applied"] = f"wait={wait}"
    response.status_code = 200 if done else 202
    if not done:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
