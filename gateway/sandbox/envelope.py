"""The upstream's response envelope, in the active dialect's shape.

``{"code", "message", "data"}`` (the protocol reference), or
``{"success": true, "data"}`` / ``{"success": false, "error": {"code", "message"}}``
(the public skill's api-reference). Operator endpoints under ``/_sandbox/``
always answer the first shape, whatever the dialect: tests read them.

Exception tree (the only errors the sandbox raises on purpose)::

    ApiError                 an envelope with a non-zero code and an HTTP status
    └── (raised from views, faults, auth; rendered by one handler)

Codes follow the protocol doc: 1001 token, 1002 session, 2001 credits,
4001 file type, 4002 file size; HTTP-only conditions (400, 402, 404, 429, 500)
carry the HTTP status as their code.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from gateway.sandbox.dialects import Dialect

TOKEN_INVALID = 1001
SESSION_NOT_FOUND = 1002
OUT_OF_CREDITS = 2001
UNSUPPORTED_FILE = 4001
FILE_TOO_LARGE = 4002


class ApiError(Exception):
    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: int = 200,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.data = data
        self.headers = headers or {}


OPERATOR = Dialect("operator")  # the shape of /_sandbox/ answers in every dialect


def dialect() -> Dialect:
    """The dialect this request is answered in."""
    if request.blueprint == "operator":
        return OPERATOR
    return current_app.extensions["sandbox.dialect"]


def ok(data: Any, status: int = 200) -> tuple[Response, int]:
    return jsonify(success_body(dialect(), data)), status


def success_body(d: Dialect, data: Any) -> dict[str, Any]:
    if d.envelope == "success":
        return {"success": True, "data": data}
    return {"code": 0, "message": "success", "data": data}


def error_body(d: Dialect, err: ApiError) -> dict[str, Any]:
    if d.envelope == "success":
        error: dict[str, Any] = {"code": err.code, "message": err.message}
        if err.data is not None:  # e.g. the registration link of a 2001
            error["data"] = err.data
        return {"success": False, "error": error}
    return {"code": err.code, "message": err.message, "data": err.data}


def error_response(err: ApiError) -> Response:
    d = dialect()
    if err.code == SESSION_NOT_FOUND and _on_stream() and d.missing_session == "detail":
        # ADK's server: a plain 404 before any streaming, no envelope.
        response = jsonify({"detail": "Session not found"})
        response.status_code = 404
        return response
    response = jsonify(error_body(d, err))
    response.status_code = d.token_error_status if err.code == TOKEN_INVALID else err.status
    response.headers.update(err.headers)
    return response


def _on_stream() -> bool:
    return getattr(g, "endpoint", None) == "run_sse"


def token_invalid(message: str = "token invalid or expired") -> ApiError:
    # The real backend's HTTP status for 1001 is unspecified; 401 is the honest one.
    return ApiError(TOKEN_INVALID, message, status=401)


def session_not_found(session_id: str | None) -> ApiError:
    return ApiError(SESSION_NOT_FOUND, f"session not found: {session_id}", status=404)


def init_app(app: Flask) -> None:
    app.register_error_handler(ApiError, error_response)
    app.register_error_handler(HTTPException, _http_error)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    return error_response(ApiError(status, exc.description or exc.name, status=status))
