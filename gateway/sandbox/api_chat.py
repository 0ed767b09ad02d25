"""``POST /run_sse``: one chat turn, streamed as ADK events."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, request

from gateway.sandbox import agent
from gateway.sandbox.config import SandboxConfig
from gateway.sandbox.envelope import ApiError, dialect
from gateway.sandbox.faults import Fault, Kind
from gateway.sandbox.hooks import faults, protocol, store
from gateway.sandbox.sse import SseWire
from gateway.sandbox.stream import Channel, Listener, TurnJob

# Faults this view takes itself: they change the stream, not the answer.
STREAM_FAULTS = {Kind.SSE_CUT, Kind.HEARTBEAT_ONLY, Kind.STREAM_ERROR, Kind.SILENT}

bp = Blueprint("chat", __name__)


@bp.post("/run_sse")
@protocol("run_sse")
def run_sse() -> Response:
    body = request.get_json(silent=True) or {}
    config: SandboxConfig = current_app.extensions["sandbox.config"]
    session = store().session(g.token.user_id, body.get("session_id"))
    message = message_text(body)
    turn = agent.plan_turn(
        message,
        session.draft,
        session_id=session.id,
        turn_index=session.turns_started,
        silent_edit_share=config.silent_edit_share,
        media=tuple(session.video_infos),
        trailing_issue_share=dialect().trailing_issue_share,
    )
    # Credits are checked before any byte of stream: 2001 is a plain envelope.
    store().begin_turn(g.token, session, turn.cost)
    fault = faults().take("run_sse", STREAM_FAULTS)
    if fault is not None:
        store().fault_fired(fault.kind)
    if fault is not None and fault.kind is Kind.SILENT:
        turn = agent.silenced(turn)  # same cost: the work is done, only the words are missing
    channel = Channel()
    wire = SseWire(dialect())
    TurnJob(
        store(),
        config,
        g.token.user_id,
        session.id,
        turn,
        channel,
        wire,
        heartbeat_only_seconds=_heartbeat_only(fault, config),
        stream_error=fault is not None and fault.kind is Kind.STREAM_ERROR,
    ).start()
    listener = _listener(channel, wire, session.id, config, fault, len(turn.steps))
    return Response(
        listener.frames(),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def message_text(body: dict[str, Any]) -> str:
    parts = ((body.get("new_message") or body.get("newMessage") or {}).get("parts")) or []
    text = " ".join(p["text"] for p in parts if isinstance(p, dict) and p.get("text"))
    if not text.strip():
        raise ApiError(400, "new_message.parts must hold a text part", status=400)
    return text


def _heartbeat_only(fault: Fault | None, config: SandboxConfig) -> float | None:
    if fault is None or fault.kind is not Kind.HEARTBEAT_ONLY:
        return None
    if fault.seconds is not None:
        return fault.seconds * config.speed  # given in real seconds, the runner scales
    return config.heartbeat_only_seconds


def _listener(
    channel: Channel,
    wire: SseWire,
    session_id: str,
    config: SandboxConfig,
    fault: Fault | None,
    steps: int,
) -> Listener:
    cut_after = None
    if fault is not None and fault.kind is Kind.SSE_CUT:
        cut_after = min(2, max(1, steps - 1))  # always before the last event
    st = store()
    return Listener(
        channel,
        wire,
        heartbeat_interval=config.real(config.heartbeat_seconds),
        on_heartbeat=lambda: st.count("heartbeats_sent", session_id),
        cut_after=cut_after,
        on_cut=lambda: st.count("streams_cut", session_id),
        sock=request.environ.get("werkzeug.socket"),
    )
