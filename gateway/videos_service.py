"""Video use cases behind the REST API: create, read, list, cancel.

Handlers stay thin by calling one function here. Each function takes the
``Database`` and plain values, so it is testable without Flask. Cancel writes
the status change and its ``video.canceled`` outbox event in one transaction,
as the engine does for its own terminal transitions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from gateway.jobs.events import TERMINAL_EVENTS, target_urls
from gateway.jobs.states import Phase, Status, is_terminal
from gateway.representation import Links, iso, video_resource
from gateway.store import idempotency
from gateway.store import videos as store
from gateway.store.db import Database
from gateway.store.ids import new_id
from gateway.store.models import VIDEO_ACTIVE, ChatSession, Video, utcnow
from gateway.store.outbox import EventSpec, add_event

# Request fields kept in ``videos.params`` (the rest have their own columns).
PARAM_FIELDS = (
    "duration_seconds",
    "aspect_ratio",
    "resolution",
    "language",
    "media_urls",
    "upload_ids",
)


class VideoNotFound(LookupError):
    """No such video for this API key (another key's video is not found either)."""


class VideoFinished(Exception):
    """The video is already terminal (``status``)."""

    def __init__(self, video_id: str, status: str) -> None:
        super().__init__(f"video {video_id} is {status}")
        self.video_id, self.status = video_id, status


@dataclass(frozen=True)
class VideoView:
    """A row with what its representation needs from elsewhere (the session's claim link)."""

    video: Video
    claim_url: str | None = None

    def resource(self, links: Links) -> dict[str, Any]:
        return video_resource(self.video, links, self.claim_url)


@dataclass(frozen=True)
class CancelResult:
    view: VideoView
    # True: canceled now (no worker held it). False: flagged; the worker finishes it.
    immediate: bool


@dataclass(frozen=True)
class ListResult:
    items: list[VideoView]
    next_cursor: str | None


def create_video(
    db: Database,
    api_key_id: str,
    request: dict[str, Any],
    *,
    cancel_after: datetime | None = None,
) -> VideoView:
    """A queued generate video in a new chat session, due at once.

    The hot path of ``POST /v1/videos``: two Core inserts (the session, born
    with its turn taken by the video so no message joins mid-generation, then
    the video) committed with other requests' in one transaction
    (``Database.insert_rows``), and the answer built from the inserted values
    rather than read back.
    """
    params = {k: request[k] for k in PARAM_FIELDS if k in request}
    now = utcnow()
    video_id, chat_id = new_id("vid"), new_id("ses")
    chat = {
        "id": chat_id,
        "api_key_id": api_key_id,
        "language": params.get("language"),
        "credits_spent": 0,
        "busy_video_id": video_id,
        "created_at": now,
        "updated_at": now,
    }
    fields: dict[str, Any] = {
        "id": video_id,
        "api_key_id": api_key_id,
        "session_id": chat_id,
        "parent_id": None,
        "kind": "generate",
        "status": Status.QUEUED.value,
        "phase": Phase.SESSION.value,
        "stage": None,
        "progress": 0,
        "prompt": request["prompt"],
        "params": params,
        "webhook_url": request.get("webhook_url"),
        "webhook_events_filter": request.get("webhook_events_filter"),
        "meta": request.get("metadata"),
        "cancel_requested": False,
        "cancel_after": cancel_after,
        "attempts": 0,
        "render_attempts": 0,
        "poll_count": 0,
        "credits_charged": 0,
        "lease_token": 0,
        "due_at": now,
        "created_at": now,
        "updated_at": now,
    }
    rows = [(ChatSession.__table__, chat), (Video.__table__, store.video_row(fields))]
    # A keyed request's record names the video in the same transaction.
    db.insert_rows(rows, idempotency.link_updates(video_id))
    # What a read right after the commit returns (the columns left out are NULL),
    # without the cost of an ORM instance: the answer only reads attributes.
    return VideoView(cast(Video, SimpleNamespace(**{**_UNSET_COLUMNS, **fields})))


# Every Video attribute, None: the base of a row built from its inserted values.
_UNSET_COLUMNS: dict[str, Any] = dict.fromkeys(Video.__mapper__.column_attrs.keys())


def get_video(db: Database, api_key_id: str, video_id: str) -> VideoView:
    with db.session() as session:
        video = store.get_video(session, api_key_id, video_id)
        if video is None:
            raise VideoNotFound(video_id)
        return _view(session, video)


def find_video(db: Database, video_id: str) -> Video | None:
    """A video by id alone, for requests already authorised another way (signed links)."""
    with db.session() as session:
        return session.get(Video, video_id)


def list_videos(
    db: Database,
    api_key_id: str,
    *,
    status: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> ListResult:
    """Newest first; raises ``store.InvalidCursor`` for a cursor we did not issue."""
    with db.session() as session:
        page = store.list_videos(session, api_key_id, status=status, limit=limit, cursor=cursor)
        claims = _claim_urls(session, (v.session_id for v in page.items))
    views = [VideoView(v, claims.get(v.session_id or "")) for v in page.items]
    return ListResult(views, page.next_cursor)


def cancel_video(db: Database, api_key_id: str, video_id: str, links: Links) -> CancelResult:
    """Cancel now if no worker holds the video, else ask the worker to.

    The immediate path is one conditional UPDATE (not leased, not finished), so
    it cannot race a worker's claim; it bumps the fencing token so a worker
    whose lease just lapsed cannot write over the canceled row.
    """
    now = utcnow()
    with db.write() as session:
        video = store.get_video(session, api_key_id, video_id)
        if video is None:
            raise VideoNotFound(video_id)
        if is_terminal(video.status):
            raise VideoFinished(video.id, video.status)
        if _cancel_unleased(session, video_id, now):
            video = store.get_video(session, api_key_id, video_id)
            view = _view(session, video)
            event = TERMINAL_EVENTS[Status.CANCELED.value]
            add_event(session, video_event_spec(view, event, links, now), now)
            return CancelResult(view, immediate=True)
        video = store.request_cancel(session, api_key_id, video_id)
        return CancelResult(_view(session, video), immediate=False)


def video_event_spec(view: VideoView, event_type: str, links: Links, now: datetime) -> EventSpec:
    """The outbox event for a video: the payload is the Video as a GET would return it."""
    video = view.video
    return EventSpec(
        type=event_type,
        payload={"type": event_type, "timestamp": iso(now), "data": view.resource(links)},
        api_key_id=video.api_key_id,
        video_id=video.id,
        urls=target_urls(video.webhook_url, video.webhook_events_filter, event_type),
    )


def _cancel_unleased(session: Session, video_id: str, now: datetime) -> bool:
    stmt = (
        update(Video)
        .where(
            Video.id == video_id,
            Video.status.in_(VIDEO_ACTIVE),
            or_(Video.lease_expires_at.is_(None), Video.lease_expires_at < now),
            # A submitted render is canceled by the worker, which also asks the
            # upstream to stop it (the web side makes no upstream calls).
            Video.render_id.is_(None),
        )
        .values(
            status=Status.CANCELED.value,
            phase=Phase.DONE.value,
            stage=Status.CANCELED.value,  # as the engine labels its own cancels
            cancel_requested=True,
            due_at=None,
            completed_at=now,
            updated_at=now,
            lease_owner=None,
            lease_expires_at=None,
            lease_token=Video.lease_token + 1,
        )
    )
    if session.execute(stmt, execution_options={"synchronize_session": False}).rowcount == 0:
        return False
    # Free the session's turn if this video held it, so its next video can run.
    session.execute(
        update(ChatSession)
        .where(ChatSession.busy_video_id == video_id)
        .values(busy_video_id=None, updated_at=now),
        execution_options={"synchronize_session": False},
    )
    return True


def _view(session: Session, video: Video) -> VideoView:
    claim = _claim_urls(session, [video.session_id]).get(video.session_id or "")
    return VideoView(video, claim)


def _claim_urls(session: Session, session_ids: Iterable[str | None]) -> dict[str, str | None]:
    ids = {sid for sid in session_ids if sid}
    if not ids:
        return {}
    rows = session.execute(
        select(ChatSession.id, ChatSession.claim_url).where(ChatSession.id.in_(ids))
    )
    return {sid: url for sid, url in rows}
