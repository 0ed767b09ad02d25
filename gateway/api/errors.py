"""The one error shape on the wire: RFC 9457 ``application/problem+json``.

Every failure a client can see is an ``ApiError`` by the time it is written:
Werkzeug's HTTP exceptions (404, 405, 413), upstream errors (by their stable
``code``) and unexpected exceptions (500) are converted here, in one handler
registered once by ``register_error_handlers``. ``ERROR_CODES`` lists every
``code`` the API emits; ``openapi.yaml`` enumerates the same values and a test
keeps the two equal.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from gateway.upstream.errors import InsufficientCredits, RateLimited, UpstreamError

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://nemo-gateway.dev/problems/"
PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class ErrorCode:
    status: int
    title: str


ERROR_CODES: dict[str, ErrorCode] = {
    # The request itself
    "invalid_json": ErrorCode(400, "Request body is not a JSON object"),  # 415: wrong type
    "invalid_header": ErrorCode(400, "A request header is malformed"),
    "invalid_parameter": ErrorCode(400, "A query parameter is malformed"),
    "validation_error": ErrorCode(422, "Request body failed validation"),
    "body_too_large": ErrorCode(413, "Request body too large"),
    "unauthorized": ErrorCode(401, "Missing or invalid API key"),
    "invalid_signature": ErrorCode(403, "Signed link is invalid or expired"),
    "bad_request": ErrorCode(400, "Bad request"),
    "not_found": ErrorCode(404, "Not found"),
    "method_not_allowed": ErrorCode(405, "Method not allowed"),
    "range_not_satisfiable": ErrorCode(416, "Requested range not satisfiable"),
    "precondition_failed": ErrorCode(412, "A precondition (If-Match) failed"),
    # Idempotency
    "idempotency_key_reused": ErrorCode(422, "Idempotency-Key reused with a different request"),
    "idempotency_key_in_flight": ErrorCode(409, "A request with this Idempotency-Key is running"),
    # Video state
    "video_finished": ErrorCode(409, "Video already finished"),
    "video_not_ready": ErrorCode(409, "Video content not ready"),
    # Webhook subscriptions and deliveries
    "webhook_disabled": ErrorCode(409, "Webhook subscription is disabled"),
    "webhook_limit_reached": ErrorCode(409, "Too many webhook subscriptions"),
    "delivery_in_progress": ErrorCode(409, "Delivery is being sent right now"),
    # Sessions, edits and media (the agent surface)
    "session_busy": ErrorCode(409, "The session is busy with another turn"),
    "parent_not_succeeded": ErrorCode(409, "Only a succeeded video can be edited"),
    "media_fetch_failed": ErrorCode(422, "The media URL could not be fetched"),
    # Upstream (NemoVideo), by gateway.upstream.errors codes
    "insufficient_credits": ErrorCode(402, "Out of NemoVideo credits"),
    "export_blocked": ErrorCode(402, "Export blocked by the NemoVideo plan"),
    "unsupported_media": ErrorCode(415, "Unsupported media type"),
    "media_too_large": ErrorCode(413, "Media file too large"),
    "media_empty": ErrorCode(422, "Media file is empty"),
    "rate_limited": ErrorCode(429, "Rate limited by NemoVideo"),
    "upstream_unavailable": ErrorCode(503, "NemoVideo is unavailable"),
    "upstream_auth": ErrorCode(502, "NemoVideo rejected the gateway's token"),
    "upstream_protocol": ErrorCode(502, "Unexpected answer from NemoVideo"),
    "session_lost": ErrorCode(502, "NemoVideo session not found"),
    "draft_not_ready": ErrorCode(409, "No finished draft to render"),
    "upstream_error": ErrorCode(502, "NemoVideo request failed"),
    # Everything else
    "internal_error": ErrorCode(500, "Internal server error"),
    "not_ready": ErrorCode(503, "Not ready to serve"),
}

# Werkzeug statuses we translate; anything else keeps its status with a generic code.
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    412: "precondition_failed",
    413: "body_too_large",
    416: "range_not_satisfiable",
}


class ApiError(Exception):
    """A problem to send; ``extra`` members are added to the problem object."""

    def __init__(
        self,
        code: str,
        detail: str | None = None,
        *,
        status: int | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        known = ERROR_CODES[code]  # KeyError on an unlisted code: add it to the table
        super().__init__(detail or known.title)
        self.code = code
        self.status = status or known.status
        self.title = title or known.title
        self.detail = detail or known.title
        self.headers = headers or {}
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            **self.extra,
        }


def problem_response(error: ApiError) -> Response:
    response = Response(json.dumps(error.to_dict()), status=error.status, mimetype=PROBLEM_JSON)
    response.headers.update(error.headers)
    return response


def from_upstream(exc: UpstreamError) -> ApiError:
    """An upstream failure as a problem; unknown codes fall back to ``upstream_error``."""
    code = exc.code if exc.code in ERROR_CODES else "upstream_error"
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, InsufficientCredits) and exc.registration_url:
        extra["registration_url"] = exc.registration_url
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(math.ceil(exc.retry_after or 30))
    return ApiError(code, exc.message, headers=headers, **extra)


def from_http(exc: HTTPException) -> ApiError:
    status = exc.code or 500
    code = _HTTP_CODES.get(status, "internal_error" if status >= 500 else "bad_request")
    # Keep what Werkzeug put in the headers (Allow on 405, Content-Range on 416).
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return ApiError(code, exc.description, status=status, headers=headers)


def _handle(exc: Exception) -> Response:
    if isinstance(exc, ApiError):
        return problem_response(exc)
    if isinstance(exc, HTTPException):
        return problem_response(from_http(exc))
    if isinstance(exc, UpstreamError):
        return problem_response(from_upstream(exc))
    # Never echo internals to the client; the log keeps the traceback.
    log.exception("unhandled error")
    return problem_response(ApiError("internal_error"))


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(Exception, _handle)
