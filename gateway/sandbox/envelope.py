"""The upstream's one response shape: ``{"code", "message", "data"}``.

Exception tree (the only errors the sandbox raises on purpose)::

    ApiError                 an envelope with a non-zero code and an HTTP status
    └── (raised from views, faults, auth; rendered by one handler)

Codes follow the protocol doc: 1001 token, 1002 session, 2001 credits,
4001 file type, 4002 file size; HTTP-only conditions (400, 402, 404, 429, 500)
carry the HTTP status as their code.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

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


def ok(data: Any, status: int = 200) -> tuple[Response, int]:
    return jsonify({"code": 0, "message": "success", "data": data}), status


def error_response(err: ApiError) -> Response:
    body = {"code": err.code, "message": err.message, "data": err.data}
    response = jsonify(body)
    response.status_code = err.status
    response.headers.update(err.headers)
    return response


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
