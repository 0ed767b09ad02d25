"""Operator knobs under ``/_sandbox/``: counters, faults, reset, test accounts, settings.

Off the protocol paths and without auth: the sandbox is a local tool.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request

from gateway.sandbox.envelope import ApiError, ok
from gateway.sandbox.hooks import faults, store

bp = Blueprint("operator", __name__, url_prefix="/_sandbox")


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@bp.get("/stats")
def stats() -> tuple[Response, int]:
    name = current_app.extensions["sandbox.dialect"].name
    return ok({"dialect": name, **store().stats_snapshot()})


@bp.get("/dialect")
def dialect() -> tuple[Response, int]:
    return ok(current_app.extensions["sandbox.dialect"].public())


@bp.get("/renders/<render_id>")
def render_times(render_id: str) -> tuple[Response, int]:
    """A render's clock in epoch seconds, the same in every dialect (benchmarks read it)."""
    with store().locked() as st:
        job = st.renders.get(render_id)
        if job is None:
            raise ApiError(404, f"render not found: {render_id}", status=404)
        times = {"submitted_at": job.created_at, "completed_at": job.finished_at}
        return ok({"id": job.id, "session_id": job.session_id, "status": str(job.status), **times})


@bp.get("/sessions/<sid>")
def session_times(sid: str) -> tuple[Response, int]:
    """When each turn's stream of a session closed, in epoch seconds."""
    with store().locked() as st:
        session = st.sessions.get(sid)
        if session is None:
            raise ApiError(404, f"session not found: {sid}", status=404)
        return ok({"id": sid, "streams_closed_at": list(session.streams_closed_at)})


@bp.get("/faults")
def list_faults() -> tuple[Response, int]:
    return ok({"faults": faults().listing()})


@bp.post("/faults")
def arm_fault() -> tuple[Response, int]:
    try:
        fault = faults().arm(_body())
    except (ValueError, TypeError) as exc:
        raise ApiError(400, str(exc), status=400) from exc
    return ok(fault.public(), 201)


@bp.delete("/faults")
def clear_faults() -> tuple[Response, int]:
    faults().clear()
    return ok({"faults": []})


@bp.post("/reset")
def reset() -> tuple[Response, int]:
    """Forget everything: tokens, sessions, credits, renders, stats, faults, settings."""
    store().clear()
    faults().clear()
    _set_config(current_app.extensions["sandbox.initial_config"])
    return ok({"reset": True})


@bp.post("/tokens")
def mint_token() -> tuple[Response, int]:
    """A registered-user token (what NEMO_TOKEN holds), with any balance and scopes."""
    body = _body()
    scopes = body.get("scopes") or ["*"]
    token = store().mint(
        int(body.get("credits", 1000)),
        tuple(str(s) for s in scopes),
        ttl_seconds=body.get("expires_in"),
    )
    return ok(
        {
            "token": token.value,
            "user_id": token.user_id,
            "scopes": list(token.scopes),
            "credits": store().balance(token.user_id)["available"],
            "expires_at": int(token.expires_at),
        },
        201,
    )


@bp.post("/credits")
def set_credits() -> tuple[Response, int]:
    body = _body()
    try:
        token = store().resolve(str(body.get("token") or ""))
        balance = store().set_balance(token.user_id, int(body["credits"]))
    except (KeyError, ValueError) as exc:
        raise ApiError(400, 'expected {"token": "...", "credits": N}', status=400) from exc
    return ok(balance)


@bp.get("/config")
def get_config() -> tuple[Response, int]:
    return ok(current_app.extensions["sandbox.config"].public())


@bp.post("/config")
def update_config() -> tuple[Response, int]:
    """Change speed, limits or timings until the next reset."""
    try:
        config = current_app.extensions["sandbox.config"].updated(_body())
    except (ValueError, TypeError) as exc:
        raise ApiError(400, str(exc), status=400) from exc
    _set_config(config)
    return ok(config.public())


def _set_config(config: Any) -> None:
    current_app.extensions["sandbox.config"] = config
    store().config = config
    current_app.extensions["sandbox.renders"].config = config
