"""Chat sessions and the videos made from them: read, create, edit, export.

A session is one upstream conversation. Its turn (``busy_video_id``, see
``gateway.store.turns``) goes to one video, edit or message at a time; a
request that finds it taken fails with ``SessionBusy`` and nothing is stored.
Edits and exports are videos of the parent's session, so the upstream session
(and its draft) is reused and no new one is created.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway import draft as drafts
from gateway.jobs.states import Phase, Status
from gateway.store import videos as store
from gateway.store.db import Database
from gateway.store.models import ChatSession, Video, utcnow
from gateway.store.turns import holder, take_turn
from gateway.videos_service import VideoNotFound, VideoView

_INHERITED = ("duration_seconds", "aspect_ratio", "resolution", "language")


class SessionNotFound(LookupError):
    """No such session for this API key."""


class SessionBusy(Exception):
    """Another video or message of the session holds its turn."""

    def __init__(self, session_id: str, busy_with: str | None) -> None:
        super().__init__(f"session {session_id} is busy with {busy_with}")
        self.session_id, self.busy_with = session_id, busy_with


class ParentNotSucceeded(Exception):
    """Only a succeeded video can be edited."""

    def __init__(self, video_id: str, status: str) -> None:
        super().__init__(f"video {video_id} is {status}")
        self.video_id, self.status = video_id, status


class NoDraft(Exception):
    """The session has no finished draft to render."""


@dataclass(frozen=True)
class SessionView:
    chat: ChatSession
    busy_with: str | None


def create_session(db: Database, api_key_id: str, language: str | None = None) -> SessionView:
    """A local session; the upstream one is created by its first turn (durably, by the engine)."""
    now = utcnow()
    with db.write() as session:
        chat = ChatSession(api_key_id=api_key_id, language=language, created_at=now, updated_at=now)
        session.add(chat)
    return SessionView(chat, None)


def get_session(db: Database, api_key_id: str, session_id: str) -> SessionView:
    with db.session() as session:
        chat = load_chat(session, api_key_id, session_id)
        return SessionView(chat, holder(session, chat))


def load_chat(session: Session, api_key_id: str, session_id: str) -> ChatSession:
    stmt = select(ChatSession).where(
        ChatSession.id == session_id, ChatSession.api_key_id == api_key_id
    )
    chat = session.scalar(stmt.execution_options(populate_existing=True))
    if chat is None:
        raise SessionNotFound(session_id)
    return chat


def create_edit(
    db: Database,
    api_key_id: str,
    video_id: str,
    request: dict[str, Any],
    *,
    cancel_after: datetime | None = None,
) -> VideoView:
    """An edit of a succeeded video: its instruction goes verbatim to the same session."""
    with db.write() as session:
        parent = store.get_video(session, api_key_id, video_id)
        if parent is None or parent.session_id is None:
            raise VideoNotFound(video_id)
        if parent.status != Status.SUCCEEDED.value:
            raise ParentNotSucceeded(video_id, parent.status)
        video = insert_turn(
            session,
            parent.session_id,
            api_key_id=api_key_id,
            parent_id=parent.id,
            kind="edit",
            phase=Phase.SESSION.value,  # finds the session ready and moves on
            prompt=request["instruction"],
            # The parent's shape, for the representation; its media are in the session already.
            params={k: v for k, v in (parent.params or {}).items() if k in _INHERITED},
            **_delivery(request, cancel_after),
        )
        return VideoView(video, _claim_url(session, parent.session_id))


def create_export(
    db: Database,
    api_key_id: str,
    session_id: str,
    request: dict[str, Any],
    *,
    cancel_after: datetime | None = None,
) -> VideoView:
    """A video rendered from the session's current draft: no chat turn, no credits."""
    with db.write() as session:
        chat = load_chat(session, api_key_id, session_id)
        busy = holder(session, chat)
        if busy is not None:
            # The draft is still moving; a render now would catch it halfway.
            raise SessionBusy(session_id, busy)
        if not chat.upstream_session_id or not drafts.is_ready(chat.draft):
            raise NoDraft(session_id)
        now = utcnow()
        video = store.insert_video(
            session,
            api_key_id=api_key_id,
            session_id=chat.id,
            parent_id=_latest_video_id(session, chat.id),
            kind="export",
            status=Status.QUEUED.value,
            phase=Phase.DRAFT.value,  # straight to reading the draft and rendering it
            prompt="",
            params={"language": chat.language} if chat.language else {},
            created_at=now,
            updated_at=now,
            **_delivery(request, cancel_after),
        )
        return VideoView(video, chat.claim_url)


def insert_turn(session: Session, chat_id: str, **fields: Any) -> Video:
    """Insert a queued video or message holding the session's turn, or raise ``SessionBusy``."""
    now = utcnow()
    fields.setdefault("status", Status.QUEUED.value)
    video = store.insert_video(
        session, session_id=chat_id, created_at=now, updated_at=now, **fields
    )
    if not take_turn(session, chat_id, video.id):
        chat = session.get(ChatSession, chat_id)
        raise SessionBusy(chat_id, chat.busy_video_id if chat else None)
    return video


def _delivery(request: dict[str, Any], cancel_after: datetime | None) -> dict[str, Any]:
    return {
        "webhook_url": request.get("webhook_url"),
        "webhook_events_filter": request.get("webhook_events_filter"),
        "meta": request.get("metadata"),
        "cancel_after": cancel_after,
    }


def _claim_url(session: Session, chat_id: str) -> str | None:
    return session.scalar(select(ChatSession.claim_url).where(ChatSession.id == chat_id))


def _latest_video_id(session: Session, chat_id: str) -> str | None:
    """The session's newest succeeded video: what the export re-renders, as a lineage hint."""
    return session.scalar(
        select(Video.id)
        .where(
            Video.session_id == chat_id,
            Video.status == Status.SUCCEEDED.value,
            Video.kind.not_in(store.HIDDEN_KINDS),
        )
        .order_by(Video.created_at.desc(), Video.id.desc())
        .limit(1)
    )
