"""Webhook subscriptions: reads scoped by API key, fan-out targets, delivery health.

A subscription is ``active`` or ``disabled``. Delivery outcomes move it:
any success clears ``failing_since``; a failure sets it if unset; failing
without a break for ``FAILING_LIMIT`` (5 days, as Svix) or a ``410 Gone``
disables it with a ``disabled_reason``. Re-enabling (``reactivate``) clears
both, so the five days start over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gateway.store.models import WebhookSubscription, utcnow

FAILING_LIMIT = timedelta(days=5)
ACTIVE = "active"
DISABLED = "disabled"


def get_subscription(
    session: Session, api_key_id: str, subscription_id: str
) -> WebhookSubscription | None:
    """The key's subscription; another key's is not found either."""
    row = session.get(WebhookSubscription, subscription_id)
    return row if row is not None and row.api_key_id == api_key_id else None


def list_subscriptions(session: Session, api_key_id: str) -> Sequence[WebhookSubscription]:
    stmt = (
        select(WebhookSubscription)
        .where(WebhookSubscription.api_key_id == api_key_id)
        .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
    )
    return session.scalars(stmt).all()


def count_subscriptions(session: Session, api_key_id: str) -> int:
    stmt = select(func.count()).where(WebhookSubscription.api_key_id == api_key_id)
    return session.scalar(stmt) or 0


def matching_subscriptions(
    session: Session, api_key_id: str, event_type: str
) -> list[WebhookSubscription]:
    """Active subscriptions of the key that asked for ``event_type``.

    Filtered in Python: a key has a handful of subscriptions, and JSON
    containment is spelled differently by SQLite and PostgreSQL.
    """
    stmt = select(WebhookSubscription).where(
        WebhookSubscription.api_key_id == api_key_id, WebhookSubscription.status == ACTIVE
    )
    rows = session.scalars(stmt.order_by(WebhookSubscription.id)).all()
    return [row for row in rows if event_type in (row.events or ())]


def signing_secrets(subscription: WebhookSubscription, now: datetime) -> list[str]:
    """The current secret, then the previous one while its rotation grace lasts."""
    secrets = [subscription.secret]
    expires = subscription.previous_secret_expires_at
    if subscription.previous_secret and expires is not None and expires > now:
        secrets.append(subscription.previous_secret)
    return secrets


def record_success(session: Session, subscription_id: str, now: datetime) -> None:
    _update(
        session,
        subscription_id,
        WebhookSubscription.failing_since.is_not(None),
        failing_since=None,
        updated_at=now,
    )


def record_failure(session: Session, subscription_id: str, now: datetime) -> str | None:
    """Note a failed attempt; disable the subscription after 5 failing days.

    Returns the reason when this failure disabled it.
    """
    _update(
        session,
        subscription_id,
        WebhookSubscription.failing_since.is_(None),
        failing_since=now,
        updated_at=now,
    )
    row = session.get(WebhookSubscription, subscription_id, populate_existing=True)
    if row is None or row.status != ACTIVE or row.failing_since is None:
        return None
    if now - row.failing_since < FAILING_LIMIT:
        return None
    since = row.failing_since.isoformat().replace("+00:00", "Z")
    reason = f"every delivery failed since {since} (5 days)"
    disable(session, subscription_id, reason, now)
    return reason


def disable(session: Session, subscription_id: str, reason: str, now: datetime) -> None:
    _update(
        session,
        subscription_id,
        WebhookSubscription.status == ACTIVE,
        status=DISABLED,
        disabled_reason=reason,
        updated_at=now,
    )


def reactivate(subscription: WebhookSubscription, now: datetime | None = None) -> None:
    subscription.status = ACTIVE
    subscription.disabled_reason = None
    subscription.failing_since = None
    subscription.updated_at = now or utcnow()


def _update(session: Session, subscription_id: str, condition: object, **values: object) -> None:
    stmt = (
        update(WebhookSubscription)
        .where(WebhookSubscription.id == subscription_id, condition)  # type: ignore[arg-type]
        .values(**values)
    )
    session.execute(stmt, execution_options={"synchronize_session": False})
