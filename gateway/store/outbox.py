"""The webhook outbox: events, their deliveries, and the delivery leases.

An event is written in the same transaction as the status change it reports
(see ``videos.transition_with_event``), with one delivery row per target:
each URL the event names (a video's own ``webhook_url``) and each active
subscription of the API key that asked for the event type. Deliveries are
then claimed by dispatchers like a job, so a crash between the status change
and the HTTP call still sends the webhook. Every delivery write is fenced, and
each HTTP attempt is kept in ``delivery_attempts`` for the delivery log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, tuple_, update
from sqlalchemy.orm import Session

from gateway.store.db import Database
from gateway.store.ids import new_id
from gateway.store.leases import Claim, claim_due, release
from gateway.store.models import DELIVERY_OPEN, Delivery, DeliveryAttempt, Event, utcnow
from gateway.store.subscriptions import matching_subscriptions

# Receivers' error pages can be huge; the log needs only the start.
_MAX_ERROR_CHARS = 2000
Target = Database | Session


@dataclass(frozen=True)
class EventSpec:
    """An event to record, and the URLs it must be delivered to."""

    type: str
    payload: dict[str, Any]
    api_key_id: str
    video_id: str | None = None
    urls: Sequence[str] = field(default_factory=tuple)
    # Optional events (started, progress) are not recorded when nobody receives them.
    optional: bool = False


@dataclass(frozen=True)
class AttemptLog:
    """What one HTTP attempt produced, as the delivery log shows it."""

    attempted_at: datetime
    status_code: int | None
    latency_ms: int | None
    error: str | None


def add_event(session: Session, spec: EventSpec, now: datetime | None = None) -> Event | None:
    """Insert the event and its pending deliveries, in ``session``.

    One delivery per distinct URL of ``spec`` and one per matching active
    subscription. Returns None (and writes nothing) for an optional event
    that nobody receives.
    """
    now = now or utcnow()
    urls = list(dict.fromkeys(spec.urls))
    subscriptions = matching_subscriptions(session, spec.api_key_id, spec.type)
    if spec.optional and not urls and not subscriptions:
        return None
    event = Event(
        api_key_id=spec.api_key_id,
        video_id=spec.video_id,
        type=spec.type,
        payload=spec.payload,
        created_at=now,
    )
    session.add(event)
    session.flush()
    for url in urls:
        session.add(Delivery(event_id=event.id, url=url, next_attempt_at=now, created_at=now))
    for sub in subscriptions:
        session.add(
            Delivery(
                event_id=event.id,
                url=sub.url,
                subscription_id=sub.id,
                next_attempt_at=now,
                created_at=now,
            )
        )
    session.flush()
    return event


def add_attempt(
    session: Session, delivery_id: str, log: AttemptLog, next_retry_at: datetime | None
) -> None:
    session.add(
        DeliveryAttempt(
            delivery_id=delivery_id,
            attempted_at=log.attempted_at,
            status_code=log.status_code,
            latency_ms=log.latency_ms,
            error=_truncate(log.error),
            next_retry_at=next_retry_at,
        )
    )


def add_attempts(
    session: Session, entries: Sequence[tuple[str, AttemptLog, datetime | None]]
) -> None:
    """Insert many attempts at once (one ``executemany``): ``(delivery id, log, next retry)``."""
    if not entries:
        return
    rows = [
        {
            "id": new_id("att"),
            "delivery_id": delivery_id,
            "attempted_at": log.attempted_at,
            "status_code": log.status_code,
            "latency_ms": log.latency_ms,
            "error": _truncate(log.error),
            "next_retry_at": next_retry_at,
        }
        for delivery_id, log, next_retry_at in entries
    ]
    session.execute(insert(_ATTEMPTS), rows)


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


def load_deliveries(session: Session, delivery_ids: Sequence[str]) -> list[tuple[Delivery, Event]]:
    """Several deliveries with their events, in one query (missing ids are left out)."""
    if not delivery_ids:
        return []
    rows = session.execute(
        select(Delivery, Event)
        .join(Event, Event.id == Delivery.event_id)
        .where(Delivery.id.in_(delivery_ids))
    ).all()
    return [(row[0], row[1]) for row in rows]


def mark_succeeded(
    db: Target, claim: Claim, status_code: int | None, now: datetime | None = None
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
    db: Target,
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


def mark_dead(db: Target, claim: Claim, status_code: int | None, error: str | None) -> None:
    """Give up on the delivery: no more automatic attempts."""
    _finish(db, claim, status="dead", last_status_code=status_code, last_error=_truncate(error))


def abandon_delivery(db: Target, claim: Claim, reason: str) -> None:
    """Dead without an attempt (its subscription is gone or disabled); replayable later."""
    release(db, Delivery, claim, status="dead", last_error=reason)


def _finish(db: Target, claim: Claim, due_at: datetime | None = None, **values: Any) -> None:
    # Every outcome counts as one attempt and gives the lease back (fenced).
    release(db, Delivery, claim, due_at=due_at, attempts=Delivery.attempts + 1, **values)


@dataclass(frozen=True)
class Outcome:
    """One attempt's effect on its delivery, for ``record_outcomes``.

    ``status`` is ``succeeded``, ``failed`` (retry at ``next_attempt_at``) or ``dead``.
    """

    claim: Claim
    status: str
    log: AttemptLog
    next_attempt_at: datetime | None = None


_DELIVERIES = Delivery.__table__
_ATTEMPTS = DeliveryAttempt.__table__
_COLUMNS = _DELIVERIES.c
_WHEN = _COLUMNS.next_attempt_at.type
# One statement for every outcome, run as an executemany: compiled once, fenced per
# row by its token (the owner was checked by ``_still_held`` in the same transaction).
_FINISH = (
    update(_DELIVERIES)
    .where(
        _DELIVERIES.c.id == bindparam("b_id"),
        _DELIVERIES.c.lease_token == bindparam("b_token"),
    )
    .values(
        status=bindparam("b_status"),
        attempts=_DELIVERIES.c.attempts + 1,
        last_status_code=bindparam("b_code"),
        last_error=bindparam("b_error"),
        next_attempt_at=func.coalesce(
            bindparam("b_due", type_=_WHEN), _DELIVERIES.c.next_attempt_at
        ),
        delivered_at=func.coalesce(bindparam("b_done", type_=_WHEN), _DELIVERIES.c.delivered_at),
        lease_owner=None,
        lease_expires_at=None,
    )
)


def record_outcomes(session: Session, outcomes: Sequence[Outcome]) -> set[str]:
    """Write many attempts' outcomes in ``session``; return the ids recorded.

    The same rules as ``mark_succeeded``/``schedule_retry``/``mark_dead`` plus
    ``add_attempt``, for a batch: one query finds the claims still held (the
    fence), one ``executemany`` updates those deliveries, one inserts their
    attempts. A delivery whose lease was lost gets neither. Call it inside a
    write transaction (SQLite's ``BEGIN IMMEDIATE`` keeps the fence true until
    the commit; PostgreSQL locks the rows).
    """
    if not outcomes:
        return set()
    held = _still_held(session, [o.claim for o in outcomes])
    mine = [o for o in outcomes if o.claim.id in held]
    if not mine:
        return set()
    session.execute(
        _FINISH,
        [
            {
                "b_id": o.claim.id,
                "b_token": o.claim.token,
                "b_status": o.status,
                "b_code": o.log.status_code,
                "b_error": None if o.status == "succeeded" else _truncate(o.log.error),
                "b_due": o.next_attempt_at if o.status == "failed" else None,
                "b_done": o.log.attempted_at if o.status == "succeeded" else None,
            }
            for o in mine
        ],
    )
    add_attempts(session, [(o.claim.id, o.log, o.next_attempt_at) for o in mine])
    return {o.claim.id for o in mine}


def _still_held(session: Session, claims: Sequence[Claim]) -> set[str]:
    found: set[str] = set()
    by_owner: dict[str | None, list[Claim]] = {}
    for claim in claims:
        by_owner.setdefault(claim.owner, []).append(claim)
    for owner, group in by_owner.items():
        for start in range(0, len(group), 400):  # SQLite's expression depth
            chunk = group[start : start + 400]
            pairs = tuple_(_DELIVERIES.c.id, _DELIVERIES.c.lease_token).in_(
                [(c.id, c.token) for c in chunk]
            )
            stmt = select(_DELIVERIES.c.id).where(pairs)
            if owner is not None:
                stmt = stmt.where(_DELIVERIES.c.lease_owner == owner)
            if session.get_bind().dialect.name == "postgresql":
                stmt = stmt.with_for_update()
            found.update(session.scalars(stmt))
    return found


def _truncate(error: str | None) -> str | None:
    return None if error is None else error[:_MAX_ERROR_CHARS]
