"""Videos: insert, read scoped by API key, list with cursors, transitions, cancel."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.orm import Session

from gateway.store import idempotency
from gateway.store.db import Database
from gateway.store.leases import Claim, claim_due, fenced_update
from gateway.store.models import VIDEO_ACTIVE, Event, Video, utcnow
from gateway.store.outbox import EventSpec, add_event

__all__ = [
    "EventSpec",
    "InvalidCursor",
    "Page",
    "claim_videos",
    "get_video",
    "insert_video",
    "list_videos",
    "request_cancel",
    "transition_with_event",
]


# Chat messages share the pipeline (and so the table) but are not videos.
HIDDEN_KINDS = ("message",)


class InvalidCursor(ValueError):
    """A list cursor that this gateway did not produce."""


@dataclass(frozen=True)
class Page:
    items: list[Video]
    next_cursor: str | None


def insert_video(session: Session, **fields: Any) -> Video:
    """Add a video (defaults: queued, due now) and flush so its id is known."""
    fields.setdefault("due_at", utcnow())
    video = Video(**fields)
    session.add(video)
    session.flush()
    # A keyed request's record names the video in this same transaction.
    idempotency.link(session, video.id)
    return video


def video_row(fields: dict[str, Any]) -> dict[str, Any]:
    """Video attributes (``insert_video``'s keywords) as ``videos`` column values, for Core."""
    return {_COLUMN_OF.get(name, name): value for name, value in fields.items()}


# Attributes whose column is named differently.
_COLUMN_OF = {"meta": "metadata"}


def get_video(session: Session, api_key_id: str, video_id: str) -> Video | None:
    """The video if it belongs to ``api_key_id``; another key's video is ``None``."""
    stmt = select(Video).where(
        Video.id == video_id, Video.api_key_id == api_key_id, Video.kind.not_in(HIDDEN_KINDS)
    )
    return session.scalar(stmt.execution_options(populate_existing=True))


def list_videos(
    session: Session,
    api_key_id: str,
    *,
    status: str | Sequence[str] | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page:
    """Newest first. The cursor marks the last item seen, so inserts never shift pages."""
    stmt = select(Video).where(Video.api_key_id == api_key_id, Video.kind.not_in(HIDDEN_KINDS))
    if status is not None:
        stmt = stmt.where(Video.status.in_([status] if isinstance(status, str) else status))
    if cursor is not None:
        created_at, last_id = decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                Video.created_at < created_at,
                and_(Video.created_at == created_at, Video.id < last_id),
            )
        )
    stmt = stmt.order_by(Video.created_at.desc(), Video.id.desc()).limit(limit + 1)
    rows = list(session.scalars(stmt))
    items = rows[:limit]
    more = len(rows) > limit
    return Page(items, encode_cursor(items[-1]) if more and items else None)


def encode_cursor(video: Video) -> str:
    raw = f"{video.created_at.isoformat()}|{video.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, video_id = raw.split("|", 1)
        created_at = datetime.fromisoformat(created)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidCursor(cursor) from exc
    if created_at.tzinfo is None or not video_id:
        raise InvalidCursor(cursor)
    return created_at, video_id


def claim_videos(
    db: Database, owner: str, now: datetime, limit: int, lease_seconds: float
) -> list[Claim]:
    """Lease due videos that are not finished yet."""
    return claim_due(
        db,
        Video,
        owner=owner,
        now=now,
        limit=limit,
        lease_seconds=lease_seconds,
        where=[Video.status.in_(VIDEO_ACTIVE)],
    )


def transition_with_event(
    db: Database, claim: Claim, *, values: dict[str, Any], event: EventSpec | None
) -> Event | None:
    """Write the video's new state and its outbox event in one transaction.

    Raises ``LeaseLost`` (and writes nothing) if the claim no longer holds.
    """
    with db.write() as session:
        fenced_update(session, Video, claim, **values)
        return None if event is None else add_event(session, event)


def request_cancel(session: Session, api_key_id: str, video_id: str) -> Video | None:
    """Flag an unfinished video for cancellation and make it due now.

    The engine does the canceling (it may hold the lease). A finished video is
    returned unchanged; another key's video is ``None``. Starts with a write, so
    it is safe in a deferred SQLite transaction too.
    """
    now = utcnow()
    session.execute(
        update(Video)
        .where(
            Video.id == video_id,
            Video.api_key_id == api_key_id,
            Video.status.in_(VIDEO_ACTIVE),
        )
        .values(
            cancel_requested=True,
            due_at=case((or_(Video.due_at.is_(None), Video.due_at > now), now), else_=Video.due_at),
        ),
        execution_options={"synchronize_session": False},
    )
    return get_video(session, api_key_id, video_id)
