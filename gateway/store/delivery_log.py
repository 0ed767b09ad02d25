"""The delivery log: deliveries with their attempts, and replaying them.

Pages are newest first by id (ids sort by creation time), and the cursor is
the last id of the previous page. A replay makes a delivery due now
(``pending``) unless a dispatcher holds it at this moment; the attempt counter
is kept, so a delivery past its automatic attempts gets exactly one more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from gateway.store.models import Delivery, DeliveryAttempt, Event

# Replayed by ``recover``: failed (retrying) and dead deliveries.
REPLAYABLE = ("failed", "dead")
# Manual retries can add attempts without end; the log shows the latest ones.
MAX_ATTEMPTS_SHOWN = 50


@dataclass(frozen=True)
class LogEntry:
    delivery: Delivery
    event: Event
    attempts: Sequence[DeliveryAttempt]


@dataclass(frozen=True)
class LogPage:
    items: list[LogEntry]
    next_cursor: str | None


def deliveries_page(
    session: Session,
    *,
    subscription_id: str | None = None,
    video_id: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> LogPage:
    """One page of a subscription's or a video's deliveries, newest first."""
    stmt = select(Delivery, Event).join(Event, Event.id == Delivery.event_id)
    if subscription_id is not None:
        stmt = stmt.where(Delivery.subscription_id == subscription_id)
    if video_id is not None:
        stmt = stmt.where(Event.video_id == video_id)
    if cursor is not None:
        stmt = stmt.where(Delivery.id < cursor)
    rows = session.execute(stmt.order_by(Delivery.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    attempts = _attempts(session, [row[0].id for row in rows])
    items = [LogEntry(d, e, attempts.get(d.id, [])) for d, e in rows]
    return LogPage(items, rows[-1][0].id if more and rows else None)


def delivery_entry(session: Session, api_key_id: str, delivery_id: str) -> LogEntry | None:
    """A delivery of one of the key's events; another key's is not found."""
    row = session.execute(
        select(Delivery, Event)
        .join(Event, Event.id == Delivery.event_id)
        .where(Delivery.id == delivery_id, Event.api_key_id == api_key_id)
    ).first()
    if row is None:
        return None
    return LogEntry(row[0], row[1], _attempts(session, [row[0].id]).get(row[0].id, []))


def replay_one(session: Session, delivery_id: str, now: datetime) -> bool:
    """Make one delivery due now; False when a dispatcher holds it right now."""
    return _replay(session, now, Delivery.id == delivery_id) == 1


def replay_failed(session: Session, subscription_id: str, since: datetime, now: datetime) -> int:
    """Make the subscription's failed and dead deliveries created since ``since`` due now."""
    return _replay(
        session,
        now,
        Delivery.subscription_id == subscription_id,
        Delivery.status.in_(REPLAYABLE),
        Delivery.created_at >= since,
    )


def abandon_open(session: Session, subscription_id: str, reason: str) -> int:
    """Stop the open deliveries of a subscription (it is being deleted)."""
    stmt = (
        update(Delivery)
        .where(
            Delivery.subscription_id == subscription_id,
            Delivery.status.in_(("pending", "failed")),
        )
        .values(status="dead", last_error=reason, next_attempt_at=None)
    )
    return session.execute(stmt, execution_options={"synchronize_session": False}).rowcount


def _replay(session: Session, now: datetime, *conditions: ColumnElement[bool]) -> int:
    unleased = or_(Delivery.lease_expires_at.is_(None), Delivery.lease_expires_at < now)
    stmt = (
        update(Delivery)
        .where(unleased, *conditions)
        .values(status="pending", next_attempt_at=now, lease_owner=None, lease_expires_at=None)
    )
    return session.execute(stmt, execution_options={"synchronize_session": False}).rowcount


def _attempts(session: Session, delivery_ids: list[str]) -> dict[str, list[DeliveryAttempt]]:
    if not delivery_ids:
        return {}
    stmt = (
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id.in_(delivery_ids))
        .order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.attempted_at, DeliveryAttempt.id)
    )
    out: dict[str, list[DeliveryAttempt]] = {}
    for attempt in session.scalars(stmt):
        out.setdefault(attempt.delivery_id, []).append(attempt)
    return {key: rows[-MAX_ATTEMPTS_SHOWN:] for key, rows in out.items()}
