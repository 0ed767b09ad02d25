"""Idempotency-Key records: replay the first response, refuse a changed request.

A request with a key first calls ``begin``: exactly one concurrent caller gets
``"new"`` (the primary key decides insert races) and must later ``complete``
or ``abandon`` the record. Records live ``TTL`` (24 h) and are scoped per API key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.store.db import Database
from gateway.store.models import IdempotencyKey

TTL = timedelta(hours=24)

BeginKind = Literal["new", "replay", "mismatch", "in_flight"]


@dataclass(frozen=True)
class Begin:
    """What to do with the request. ``status``/``headers``/``body`` are set on replay."""

    kind: BeginKind
    status: int | None = None
    headers: dict[str, Any] | None = None
    body: str | None = None
    resource_id: str | None = None


def begin(
    db: Database,
    api_key_id: str,
    key: str,
    method: str,
    path: str,
    request_hash: str,
    now: datetime,
    *,
    ttl: timedelta = TTL,
) -> Begin:
    request = IdempotencyKey(
        api_key_id=api_key_id,
        key=key,
        method=method,
        path=path,
        request_hash=request_hash,
        state="in_flight",
        created_at=now,
        expires_at=now + ttl,
    )
    try:
        with db.write() as session:
            return _begin(session, request, now)
    except IntegrityError:
        # A concurrent request inserted the same key first (PostgreSQL; SQLite
        # serialises writers): its row decides what this one is.
        with db.write() as session:
            return _begin(session, _copy(request), now)


def _begin(session: Session, request: IdempotencyKey, now: datetime) -> Begin:
    row = session.get(IdempotencyKey, (request.api_key_id, request.key))
    if row is not None and row.expires_at <= now:
        session.delete(row)
        session.flush()
        row = None
    if row is None:
        session.add(request)
        session.flush()
        return Begin("new")
    if (row.method, row.path, row.request_hash) != (
        request.method,
        request.path,
        request.request_hash,
    ):
        return Begin("mismatch", resource_id=row.resource_id)
    if row.state == "in_flight":
        return Begin("in_flight", resource_id=row.resource_id)
    return Begin(
        "replay",
        status=row.response_status,
        headers=row.response_headers,
        body=row.response_body,
        resource_id=row.resource_id,
    )


def _copy(request: IdempotencyKey) -> IdempotencyKey:
    # The failed insert left the first instance attached to a dead session.
    columns = IdempotencyKey.__table__.columns.keys()
    return IdempotencyKey(**{name: getattr(request, name) for name in columns})


def complete(
    db: Database,
    api_key_id: str,
    key: str,
    status: int,
    headers: dict[str, Any] | None,
    body: str | None,
    resource_id: str | None,
) -> bool:
    """Store the response to replay; False if the record is gone or already done."""
    stmt = (
        update(IdempotencyKey)
        .where(*_in_flight(api_key_id, key))
        .values(
            state="done",
            response_status=status,
            response_headers=headers,
            response_body=body,
            resource_id=resource_id,
        )
    )
    with db.write() as session:
        return session.execute(stmt).rowcount > 0


def abandon(db: Database, api_key_id: str, key: str) -> bool:
    """Forget an in-flight record: the request failed before creating anything."""
    with db.write() as session:
        return (
            session.execute(delete(IdempotencyKey).where(*_in_flight(api_key_id, key))).rowcount > 0
        )


def purge_expired(db: Database, now: datetime) -> int:
    """Delete records past their expiry; returns how many."""
    with db.write() as session:
        return session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now)
        ).rowcount


def _in_flight(api_key_id: str, key: str) -> tuple[Any, ...]:
    return (
        IdempotencyKey.api_key_id == api_key_id,
        IdempotencyKey.key == key,
        IdempotencyKey.state == "in_flight",
    )
