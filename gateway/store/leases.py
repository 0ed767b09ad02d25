"""Leases with fencing tokens, for any table that has the lease columns.

A worker claims due rows for a while (``lease_expires_at``); every claim bumps
``lease_token``. Every later write by that worker is conditional on the token
(and owner) it got, so a worker whose lease lapsed and was re-claimed by
another cannot overwrite newer state: its write matches no row and raises
``LeaseLost``. Works with ``Video`` and ``Delivery``; the column that says
when a row is next due is named by the model's ``__due_column__``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, tuple_, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from gateway.store.db import Database


class LeaseLost(Exception):
    """A fenced write matched no row: the lease was lost (re-claimed or released)."""

    def __init__(self, claim: Claim) -> None:
        super().__init__(f"lease lost on {claim.id} (token {claim.token})")
        self.claim = claim


@dataclass(frozen=True)
class Claim:
    """The right to write one row: its id and the fencing token of the claim.

    ``owner`` is filled in by ``claim_due``; when set, fenced writes also check
    it, which fences a holder whose lease was released but not yet re-claimed.
    """

    id: str
    token: int
    owner: str | None = None


def claim_due(
    db: Database,
    model: type[Any],
    *,
    owner: str,
    now: datetime,
    limit: int,
    lease_seconds: float,
    due_column: str | None = None,
    where: Iterable[ColumnElement[bool]] = (),
) -> list[Claim]:
    """Lease up to ``limit`` rows that are due and not leased; oldest due first.

    ``where`` adds conditions (e.g. non-terminal statuses). Two claimers never
    get the same row: PostgreSQL skips rows another transaction has locked,
    SQLite runs the whole claim under ``BEGIN IMMEDIATE``.
    """
    due = _due(model, due_column)
    conditions = [
        due.is_not(None),
        due <= now,
        or_(model.lease_expires_at.is_(None), model.lease_expires_at < now),
        *where,
    ]
    pick = select(model.id).where(*conditions).order_by(due, model.id).limit(limit)
    values = {
        "lease_owner": owner,
        "lease_token": model.lease_token + 1,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
        **_untouched(model),
    }
    with db.write() as session:
        if db.dialect == "postgresql":
            ids = session.scalars(pick.with_for_update(skip_locked=True)).all()
            if not ids:
                return []
            target = model.id.in_(ids)
        else:
            target = model.id.in_(pick.scalar_subquery())
        stmt = update(model).where(target).values(values)
        rows = session.execute(
            stmt.returning(model.id, model.lease_token),
            execution_options={"synchronize_session": False},
        ).all()
    return sorted((Claim(row_id, token, owner) for row_id, token in rows), key=lambda c: c.id)


def renew(
    db: Database, model: type[Any], owner: str, claims: Iterable[Claim], until: datetime
) -> set[str]:
    """Extend the leases still held (same owner and token) to ``until``; return their ids."""
    claims = list(claims)
    if not claims:
        return set()
    # One expanding (id, token) IN list: the statement compiles once and is
    # cached, where an OR of ANDs compiled anew on every tick (and past ~1000
    # claims exceeded SQLite's expression depth).
    held = tuple_(model.id, model.lease_token).in_([(c.id, c.token) for c in claims])
    stmt = (
        update(model)
        .where(model.lease_owner == owner, held)
        .values(lease_expires_at=until, **_untouched(model))
        .returning(model.id)
    )
    with db.write() as session:
        return set(session.scalars(stmt, execution_options={"synchronize_session": False}))


def fenced_update(
    target: Database | Session, model: type[Any], claim: Claim, **values: Any
) -> None:
    """Update the claimed row only if the claim still holds; else raise ``LeaseLost``.

    With a ``Session`` the update joins the caller's transaction (so it can be
    atomic with other writes); with a ``Database`` it is its own transaction.
    Values may be SQL expressions, e.g. ``attempts=Video.attempts + 1``.
    """
    if isinstance(target, Database):
        with target.write() as session:
            _fenced(session, model, claim, values)
    else:
        _fenced(target, model, claim, values)


def release(
    target: Database | Session,
    model: type[Any],
    claim: Claim,
    due_at: datetime | None = None,
    **values: Any,
) -> None:
    """Give the row back (fenced), optionally rescheduling it and writing ``values``."""
    values.update(lease_owner=None, lease_expires_at=None)
    if due_at is not None:
        values[model.__due_column__] = due_at
    fenced_update(target, model, claim, **values)


def _fenced(session: Session, model: type[Any], claim: Claim, values: dict[str, Any]) -> None:
    # An empty update still checks the fence (and bumps updated_at where there is one).
    values = values or {"lease_token": model.lease_token}
    stmt = update(model).where(model.id == claim.id, model.lease_token == claim.token)
    if claim.owner is not None:
        stmt = stmt.where(model.lease_owner == claim.owner)
    result = session.execute(stmt.values(values), execution_options={"synchronize_session": False})
    if result.rowcount == 0:
        raise LeaseLost(claim)


def _due(model: type[Any], name: str | None) -> InstrumentedAttribute[Any]:
    return getattr(model, name or model.__due_column__)


def _untouched(model: type[Any]) -> dict[str, Any]:
    """Lease bookkeeping is not a change of the resource: keep ``updated_at`` as is."""
    return {"updated_at": model.updated_at} if hasattr(model, "updated_at") else {}
