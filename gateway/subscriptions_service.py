"""Webhook subscription use cases behind ``/v1/webhooks``: CRUD, rotation, recovery.

Each function takes the ``Database`` and plain values (testable without
Flask) and raises the errors below; the blueprint maps them to problems.
A subscription's secret is returned only by ``create_subscription`` and
``rotate_secret`` (``Created``); reads never carry it.

Errors: ``SubscriptionNotFound`` (a ``LookupError``), ``InvalidWebhookUrl``
(a ``ValueError``), ``SubscriptionLimit``, ``SubscriptionDisabled``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from gateway.net.guard import UrlGuard
from gateway.representation import iso
from gateway.store import delivery_log
from gateway.store import subscriptions as store
from gateway.store.db import Database
from gateway.store.models import WebhookSubscription, utcnow
from gateway.webhooks.signing import new_secret

SUBSCRIBABLE_EVENTS = (
    "video.started",
    "video.progress",
    "video.completed",
    "video.failed",
    "video.canceled",
)
# Every event fans out to every matching subscription: keep the fan-out bounded.
MAX_SUBSCRIPTIONS = 50
# How long the old secret still signs after a rotation (both sign meanwhile).
ROTATION_GRACE = timedelta(hours=24)
UPDATABLE = ("url", "events", "description", "status")


class SubscriptionNotFound(LookupError):
    """No such subscription for this API key (another key's is not found either)."""


class InvalidWebhookUrl(ValueError):
    """The URL guard refused the URL (``gateway.net.guard``: malformed, or a refused host)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SubscriptionLimit(Exception):
    """The API key already has ``MAX_SUBSCRIPTIONS`` subscriptions."""


class SubscriptionDisabled(Exception):
    """The subscription is disabled; re-enable it before replaying deliveries."""


@dataclass(frozen=True)
class Created:
    """A subscription together with a secret shown this once."""

    subscription: WebhookSubscription
    secret: str


def check_url(url: str, *, url_guard: UrlGuard) -> None:
    """The request-time URL check (no DNS: names are judged at delivery time)."""
    reason = url_guard.refusal(url)
    if reason:
        raise InvalidWebhookUrl(reason)


def create_subscription(
    db: Database,
    api_key_id: str,
    request: dict[str, Any],
    *,
    url_guard: UrlGuard,
) -> Created:
    check_url(request["url"], url_guard=url_guard)
    now = utcnow()
    secret = new_secret()  # shown this once; stored sealed
    with db.write() as session:
        if store.count_subscriptions(session, api_key_id) >= MAX_SUBSCRIPTIONS:
            raise SubscriptionLimit(api_key_id)
        row = WebhookSubscription(
            api_key_id=api_key_id,
            url=request["url"],
            events=_events(request["events"]),
            description=request.get("description"),
            secret=db.keyring.seal(secret),
            status=store.ACTIVE,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return Created(row, secret)


def list_subscriptions(db: Database, api_key_id: str) -> Sequence[WebhookSubscription]:
    with db.session() as session:
        return store.list_subscriptions(session, api_key_id)


def get_subscription(db: Database, api_key_id: str, subscription_id: str) -> WebhookSubscription:
    with db.session() as session:
        return _get(session, api_key_id, subscription_id)


def update_subscription(
    db: Database,
    api_key_id: str,
    subscription_id: str,
    changes: dict[str, Any],
    *,
    url_guard: UrlGuard,
) -> WebhookSubscription:
    """Change url/events/description; ``status`` "active" re-enables, "disabled" pauses."""
    if "url" in changes:
        check_url(changes["url"], url_guard=url_guard)
    now = utcnow()
    with db.write() as session:
        row = _get(session, api_key_id, subscription_id)
        for name in ("url", "description"):
            if name in changes:
                setattr(row, name, changes[name])
        if "events" in changes:
            row.events = _events(changes["events"])
        _set_status(row, changes.get("status"), now)
        row.updated_at = now
        session.flush()
        return row


def delete_subscription(db: Database, api_key_id: str, subscription_id: str) -> None:
    """Delete it; its open deliveries stop, the delivery log stays."""
    with db.write() as session:
        row = _get(session, api_key_id, subscription_id)
        delivery_log.abandon_open(session, row.id, "the webhook subscription was deleted")
        session.delete(row)


def rotate_secret(db: Database, api_key_id: str, subscription_id: str) -> Created:
    """A new secret; the old one keeps signing too for ``ROTATION_GRACE``."""
    now = utcnow()
    with db.write() as session:
        row = _get(session, api_key_id, subscription_id)
        secret = new_secret()  # shown this once; stored sealed
        row.previous_secret = row.secret
        row.previous_secret_expires_at = now + ROTATION_GRACE
        row.secret = db.keyring.seal(secret)
        row.updated_at = now
        session.flush()
        return Created(row, secret)


def recover(db: Database, api_key_id: str, subscription_id: str, since: datetime) -> int:
    """Replay the subscription's failed and dead deliveries created since ``since``."""
    now = utcnow()
    with db.write() as session:
        row = _get(session, api_key_id, subscription_id)
        if row.status != store.ACTIVE:
            raise SubscriptionDisabled(subscription_id)
        return delivery_log.replay_failed(session, row.id, since, now)


def subscription_resource(row: WebhookSubscription, secret: str | None = None) -> dict[str, Any]:
    """The public object; ``secret`` only in a create or rotate answer."""
    resource: dict[str, Any] = {
        "object": "webhook",
        "id": row.id,
        "url": row.url,
        "events": list(row.events or []),
        "description": row.description,
        "status": row.status,
        "disabled_reason": row.disabled_reason,
        "failing_since": iso(row.failing_since),
        "previous_secret_expires_at": _grace_end(row),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }
    if secret is not None:
        resource["secret"] = secret
    return resource


def _get(session: Session, api_key_id: str, subscription_id: str) -> WebhookSubscription:
    row = store.get_subscription(session, api_key_id, subscription_id)
    if row is None:
        raise SubscriptionNotFound(subscription_id)
    return row


def _events(values: Sequence[str]) -> list[str]:
    """Distinct, in the canonical order, whatever order the caller used."""
    chosen = set(values)
    return [event for event in SUBSCRIBABLE_EVENTS if event in chosen]


def _set_status(row: WebhookSubscription, status: str | None, now: datetime) -> None:
    if status is None or status == row.status:
        return
    if status == store.ACTIVE:
        store.reactivate(row, now)
    else:
        row.status = store.DISABLED
        row.disabled_reason = "disabled through the API"


def _grace_end(row: WebhookSubscription) -> str | None:
    expires = row.previous_secret_expires_at
    return iso(expires) if row.previous_secret and expires and expires > utcnow() else None
