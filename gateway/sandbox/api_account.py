"""Account endpoints: anonymous token, claim token, credit balance."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, request

from gateway.sandbox.envelope import ApiError, ok
from gateway.sandbox.hooks import protocol, store

bp = Blueprint("account", __name__)


@bp.post("/api/auth/anonymous-token")
@protocol("anonymous_token")
def anonymous_token() -> tuple[Response, int]:
    client_id = request.headers.get("X-Client-Id", "").strip()
    if not client_id:
        raise ApiError(400, "X-Client-Id header is required", status=400)
    token = store().anonymous_token(client_id, request.remote_addr or "unknown")
    now = store().clock()
    return ok(
        {
            "token": token.value,
            "credits": store().balance(token.user_id)["available"],
            "user_id": token.user_id,
            "scopes": list(token.scopes),
            "expires_at": int(token.expires_at),
            "expires_in": max(0, int(token.expires_at - now)),
        }
    )


@bp.post("/api/auth/claim-token")
@protocol("claim_token")
def claim_token() -> tuple[Response, int]:
    body = request.get_json(silent=True) or {}
    claim = store().claim(g.token.user_id, body.get("task_id", ""), body.get("session_id", ""))
    web = current_app.extensions["sandbox.config"].web_url
    return ok(
        {
            "claim_token": claim,
            "expires_in": 604800,
            "claim_url": f"{web}/workspace/claim?ct={claim}",
        }
    )


@bp.get("/api/credits/balance/simple")
@protocol("credits")
def credits() -> tuple[Response, int]:
    return ok(store().balance(g.token.user_id))
