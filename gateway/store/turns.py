"""One chat turn at a time per session: ``sessions.busy_video_id`` is the lock.

The agent must never get two messages of one session in parallel (the second
would run after the first and charge twice). A video, edit or message takes
the lock in the transaction that creates it, with one conditional UPDATE, so
of two requests racing for a session exactly one wins; the loser's transaction
is rolled back and it answers 409 ``session_busy``. The holder releases the
lock when its turn is over (draft read) or when it ends, again conditionally:
only the holder can release it. A lock held by a finished video (an older
gateway, a manual repair) counts as free.
"""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from gateway.store.models import VIDEO_TERMINAL, ChatSession, Video, utcnow


def take_turn(session: Session, chat_id: str, video_id: str) -> bool:
    """Give the session's turn to ``video_id``; False when another video holds it."""
    finished = select(Video.id).where(Video.status.in_(VIDEO_TERMINAL))
    stmt = (
        update(ChatSession)
        .where(
            ChatSession.id == chat_id,
            or_(ChatSession.busy_video_id.is_(None), ChatSession.busy_video_id.in_(finished)),
        )
        .values(busy_video_id=video_id, updated_at=utcnow())
    )
    result = session.execute(stmt, execution_options={"synchronize_session": False})
    return result.rowcount == 1


def release_turn(session: Session, chat_id: str, video_id: str) -> None:
    """Free the session's turn if ``video_id`` holds it."""
    session.execute(
        update(ChatSession)
        .where(ChatSession.id == chat_id, ChatSession.busy_video_id == video_id)
        .values(busy_video_id=None, updated_at=utcnow()),
        execution_options={"synchronize_session": False},
    )


def holder(session: Session, chat: ChatSession) -> str | None:
    """The video holding the turn, or None (a finished holder does not count)."""
    if not chat.busy_video_id:
        return None
    status = session.scalar(select(Video.status).where(Video.id == chat.busy_video_id))
    return None if status in VIDEO_TERMINAL else chat.busy_video_id
