"""The webhook outbox: events, their deliveries, and the delivery leases.

An event is written in the same transaction as the status change it reports
(see ``videos.transition_with_event``); one delivery row per target URL is
then claimed by dispatchers like a job, so a crash between the status change
and the HTTP call still sends the webhook. Every delivery write is fenced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.db import Database
from gateway.store.leases import Claim, claim_due, release
from gateway.store.models import DELIVERY_OPEN, Delivery, Event, utcnow

# Receivers' error pages can be huge; the log needs only the start.
_MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class EventSpec:
    """An event to record, and the URLs it must be delivered to."""

    type: str
    payload: dict[str, Any]
    api_key_id: str
    video_id: str | None = None
    urls: Sequence[str] = field(default_factory=tuple)


def add_event(session: Session, spec: EventSpec, now: datetime | None = None) -> Event:
    """Insert the event and one pending delivery per distinct URL, in ``session``."""
    now = now or utcnow()
    event = Event(
        api_key_id=spec.api_key_id,
        video_id=spec.video_id,
        type=spec.type,
        payload=spec.payload,
        created_at=now,
    )
    session.add(event)
    session.flush()
    for url in dict.fromkeys(spec.urls):
        session.add(Delivery(event_id=event.id, url=url, next_attempt_at=now, created_at=now))
    session.flush()
    return event


def claim_deliveries(
    db: Database, owner: str, now: datetime, limit: int, lease_seconds: float
) -> list[Claim]:
    """Lease deliveries whose next attempt is due (pending or failed-and-retrying)."""
    return claim_due(
        db,
        Delivery,
        owner=owner,
        now=now,
        limit=limit,
        lease_seconds=lease_seconds,
        where=[Delivery.status.in_(DELIVERY_OPEN)],
    )


def load_delivery(session: Session, delivery_id: str) -> tuple[Delivery, Event] | None:
    row = session.execute(
        select(Delivery, Event)
        .join(Event, Event.id == Delivery.event_id)
        .where(Delivery.id == delivery_id)
    ).first()
    return None if row is None else (row[0], row[1])


def mark_succeeded(
    db: Database, claim: Claim, status_code: int | None, now: datetime | None = None
) -> None:
    _finish(
        db,
        claim,
        status="succeeded",
        last_status_code=status_code,
        last_error=None,
        delivered_at=now or utcnow(),
    )


def schedule_retry(
    db: Database,
    claim: Claim,
    status_code: int | None,
    error: str | None,
    next_attempt_at: datetime,
) -> None:
    _finish(
        db,
        claim,
        due_at=next_attempt_at,
        status="failed",
        last_status_code=status_code,
        last_error=_truncate(error),
    )


def mark_dead(db: Database, claim: Claim, status_code: int | None, error: str | None) -> None:
    """Give up on the delivery: no more automatic attempts."""
    _finish(db, claim, status="dead", last_status_code=status_code, last_error=_truncate(error))


def _finish(db: Database, claim: Claim, due_at: datetime | None = None, **values: Any) -> None:
    # Every outcome counts as one attempt and gives the lease back (fenced).
    release(db, Delivery, claim, due_at=due_at, attempts=Delivery.attempts + 1, **values)


def _truncate(error: str | None) -> str | None:
    return None if error is None else error[:_MAX_ERROR_CHARS]
