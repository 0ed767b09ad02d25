"""What runs in front of every protocol endpoint: counting, faults, auth, attribution.

Each protocol view is tagged with its endpoint name (``@protocol("state")``);
the hook counts the call, fires an armed fault if there is one, then resolves
the bearer token into ``g.token``.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request

from gateway.sandbox.envelope import ApiError, session_not_found, token_invalid
from gateway.sandbox.faults import IN_VIEW, Fault, FaultBoard, Kind
from gateway.sandbox.store import Store

F = TypeVar("F", bound=Callable[..., Any])

# The scope a registered token needs per endpoint (anonymous tokens: see docs/sandbox.md).
_SCOPES = {
    "session": "write",
    "claim_token": "write",
    "run_sse": "write",
    "upload": "upload",
    "state": "read",
    "credits": "read",
    "render_submit": "render",
    "render_status": "read",
    "render_cancel": "render",
    "download": "read",
}


def protocol(name: str) -> Callable[[F], F]:
    def tag(view: F) -> F:
        view.nemo_endpoint = name  # type: ignore[attr-defined]
        return view

    return tag


def store() -> Store:
    return current_app.extensions["sandbox.store"]


def faults() -> FaultBoard:
    return current_app.extensions["sandbox.faults"]


def endpoint_name() -> str | None:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "nemo_endpoint", None)


def init_app(app: Flask) -> None:
    app.before_request(_before)


def _before() -> Response | None:
    name = endpoint_name()
    if name is None:
        return None
    g.endpoint = name
    store().count_request(name, _attribution())
    fault = faults().take(name, set(Kind) - IN_VIEW)
    if fault is not None:
        store().fault_fired(fault.kind)
        if _fire(fault):
            return Response(status=500)  # never reaches the client: the socket is gone
    if name != "anonymous_token":
        g.token = _authenticate(name)
    return None


def _attribution() -> str | None:
    values = [request.headers.get(f"X-Skill-{h}") for h in ("Source", "Version", "Platform")]
    if not any(values):
        return None
    return "/".join(v or "-" for v in values)


def _authenticate(name: str) -> Any:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise token_invalid("missing bearer token")
    token = store().resolve(value.strip())
    if not token.anonymous and not token.allows(_SCOPES[name]):
        raise ApiError(403, f"token lacks the {_SCOPES[name]!r} scope", status=403)
    return token


def _fire(fault: Fault) -> bool:
    """Raise the fault's error, or sleep; True when the connection was reset."""
    config = current_app.extensions["sandbox.config"]
    if fault.kind is Kind.SLOW:
        time.sleep(fault.seconds if fault.seconds is not None else config.real(30))
    elif fault.kind is Kind.HTTP_429:
        retry = fault.seconds if fault.seconds is not None else max(1, round(config.real(30)))
        raise ApiError(429, "rate limited", status=429, headers={"Retry-After": f"{retry:g}"})
    elif fault.kind is Kind.HTTP_500:
        raise ApiError(500, "internal server error", status=500)
    elif fault.kind is Kind.RESET:
        reset_connection(request.environ)
        return True
    elif fault.kind is Kind.TOKEN_EXPIRED:
        _expire_bearer()
    elif fault.kind is Kind.SESSION_LOST:
        _lose_session()
    elif fault.kind is Kind.OUT_OF_CREDITS:
        raise store().out_of_credits(_authenticate(g.endpoint))
    elif fault.kind is Kind.EXPORT_BLOCKED:
        raise export_blocked()
    return False


def export_blocked() -> ApiError:
    return ApiError(402, "export is not available on the free plan", status=402)


def _expire_bearer() -> None:
    _, _, value = request.headers.get("Authorization", "").partition(" ")
    store().expire(value.strip())
    raise token_invalid("token expired")


def _lose_session() -> None:
    sid = (request.view_args or {}).get("sid")
    if sid is None:
        body = request.get_json(silent=True) or {}
        sid = body.get("session_id") or body.get("sessionId")
    if sid:
        store().drop_session(sid)
    raise session_not_found(sid)


def reset_connection(environ: dict[str, Any]) -> None:
    """Make the client see a TCP reset instead of a response.

    SO_LINGER 0 turns the final close into an RST. The server still holds the
    socket (and its file objects keep the descriptor open), so a plain close()
    would be deferred until after werkzeug wrote a response. Instead the
    descriptor is replaced in place by a socket whose peer is already gone:
    the connection closes now, and werkzeug's later writes fail as a dropped
    peer (EPIPE) and its reads see EOF, so nothing is logged as an error.
    """
    sock: socket.socket = environ["werkzeug.socket"]
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    dead, peer = socket.socketpair()
    peer.close()
    with dead:
        os.dup2(dead.fileno(), sock.fileno())
