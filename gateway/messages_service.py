"""Chat messages to a session: routed per the protocol, or sent to the agent durably.

A message for the agent is a row of kind ``message`` in ``videos``: it runs
through the same engine as a video (session, media, send marked before it is
posted, stream, recovery by state, draft) and stops after the draft phase, with
the agent's reply, its tool steps, the draft changes and the charge. It holds
the session's turn while it runs, so a session never has two messages in
flight. Export, credits and status requests never reach the agent
(``gateway.router``): they are answered here and stored already finished.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import draft as drafts
from gateway import sessions_service as sessions
from gateway.jobs.states import Phase, Status
from gateway.router import Route, route
from gateway.store import videos as store
from gateway.store.db import Database
from gateway.store.ids import new_id
from gateway.store.models import ChatSession, Video, utcnow
from gateway.videos_service import VideoView

T = TypeVar("T")
# Runs one upstream call (a coroutine factory taking the client) with a bounded wait.
Upstream = Callable[[Callable[[Any], Coroutine[Any, Any, Any]]], Any]
KIND = "message"


class MessageNotFound(LookupError):
    """No such message in this session for this API key."""


@dataclass(frozen=True)
class MessageView:
    message: Video
    export: VideoView | None = None  # the export video of an "export" message


def post_message(
    db: Database, api_key_id: str, session_id: str, request: dict[str, Any], upstream: Upstream
) -> MessageView:
    """Route the message: answer it at once, or queue it for the agent."""
    text = request["text"]
    with_media = bool(request.get("media_urls") or request.get("upload_ids"))
    path = Route.CHAT if with_media else route(text)
    if path is Route.EXPORT:
        export = sessions.create_export(db, api_key_id, session_id, {})
        reply = f"Rendering the current draft as video {export.video.id}."
        output = {"export_video_id": export.video.id}
        return MessageView(_record(db, api_key_id, session_id, text, path, reply, output), export)
    if path is Route.CREDITS:
        return MessageView(_credits(db, api_key_id, session_id, text, upstream))
    if path is Route.STATUS:
        return MessageView(_status(db, api_key_id, session_id, text, upstream))
    return MessageView(_queue(db, api_key_id, session_id, request))


def get_message(db: Database, api_key_id: str, session_id: str, message_id: str) -> MessageView:
    with db.session() as session:
        message = session.scalar(
            select(Video)
            .where(
                Video.id == message_id,
                Video.api_key_id == api_key_id,
                Video.session_id == session_id,
                Video.kind == KIND,
            )
            .execution_options(populate_existing=True)
        )
        if message is None:
            raise MessageNotFound(message_id)
        return MessageView(message, _export_of(session, message))


def _queue(db: Database, api_key_id: str, session_id: str, request: dict[str, Any]) -> Video:
    params = {k: request[k] for k in ("media_urls", "upload_ids") if request.get(k)}
    with db.write() as session:
        chat = sessions.load_chat(session, api_key_id, session_id)
        return sessions.insert_turn(
            session,
            chat.id,
            id=new_id("turn"),
            api_key_id=api_key_id,
            kind=KIND,
            phase=Phase.SESSION.value,
            prompt=request["text"],
            params={**params, "route": Route.CHAT.value},
        )


def _credits(
    db: Database, api_key_id: str, session_id: str, text: str, upstream: Upstream
) -> Video:
    sessions.get_session(db, api_key_id, session_id)  # 404 before any upstream call
    balance = upstream(lambda client: client.credits())
    credits = {"available": balance.available, "frozen": balance.frozen, "total": balance.total}
    reply = (
        f"{balance.available} credits available, {balance.frozen} reserved by work in "
        f"progress ({balance.total} in total). A video costs about 100, an edit about 50."
    )
    return _record(db, api_key_id, session_id, text, Route.CREDITS, reply, {"credits": credits})


def _status(db: Database, api_key_id: str, session_id: str, text: str, upstream: Upstream) -> Video:
    chat = sessions.get_session(db, api_key_id, session_id).chat
    draft = chat.draft
    if chat.upstream_session_id:
        sid = chat.upstream_session_id
        state = upstream(lambda client: client.get_state(sid))
        draft = state.get("draft")
    summary = drafts.summarize(draft)
    return _record(db, api_key_id, session_id, text, Route.STATUS, summary, {}, draft=draft)


def _record(
    db: Database,
    api_key_id: str,
    session_id: str,
    text: str,
    path: Route,
    reply: str,
    output: dict[str, Any],
    *,
    draft: Any = None,
) -> Video:
    """A message answered by the gateway itself: stored finished, never claimed."""
    now = utcnow()
    with db.write() as session:
        chat = sessions.load_chat(session, api_key_id, session_id)
        if draft is not None and drafts.is_ready(draft):
            chat.draft = draft  # the state just read is the freshest copy
        return store.insert_video(
            session,
            id=new_id("turn"),
            api_key_id=api_key_id,
            session_id=chat.id,
            kind=KIND,
            status=Status.SUCCEEDED.value,
            phase=Phase.DONE.value,
            stage="done",
            progress=100,
            prompt=text,
            params={"route": path.value},
            reply=reply,
            timeline=drafts.summarize(draft) if path is Route.STATUS else None,
            output=output,
            due_at=None,
            created_at=now,
            updated_at=now,
            completed_at=now,
        )


def _export_of(session: Session, message: Video) -> VideoView | None:
    video_id = (message.output or {}).get("export_video_id")
    video = session.get(Video, video_id) if video_id else None
    if video is None:
        return None
    claim = session.scalar(select(ChatSession.claim_url).where(ChatSession.id == video.session_id))
    return VideoView(video, claim)
