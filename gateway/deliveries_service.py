"""The delivery log behind the API: a subscription's or a video's deliveries, one retry.

Each delivery shows its attempts (time, status code, latency, the start of the
answer, the next retry), so a user can see what reached their receiver and
replay what did not. Errors: ``DeliveryNotFound`` (a ``LookupError``),
``DeliveryBusy`` (a dispatcher is sending it right now), and the services'
``SubscriptionNotFound`` / ``VideoNotFound`` for the parent resource.
"""

from __future__ import annotations

from typing import Any

from gateway.representation import iso
from gateway.store import delivery_log
from gateway.store import subscriptions as subscription_store
from gateway.store import videos as video_store
from gateway.store.db import Database
from gateway.store.delivery_log import LogEntry, LogPage
from gateway.store.models import DeliveryAttempt, utcnow
from gateway.subscriptions_service import SubscriptionNotFound
from gateway.videos_service import VideoNotFound


class DeliveryNotFound(LookupError):
    """No such delivery among this API key's events."""


class DeliveryBusy(Exception):
    """A dispatcher holds the delivery at this moment; retry shortly."""


def subscription_deliveries(
    db: Database, api_key_id: str, subscription_id: str, *, limit: int, cursor: str | None = None
) -> LogPage:
    with db.session() as session:
        if subscription_store.get_subscription(session, api_key_id, subscription_id) is None:
            raise SubscriptionNotFound(subscription_id)
        return delivery_log.deliveries_page(
            session, subscription_id=subscription_id, limit=limit, cursor=cursor
        )


def video_deliveries(
    db: Database, api_key_id: str, video_id: str, *, limit: int, cursor: str | None = None
) -> LogPage:
    with db.session() as session:
        if video_store.get_video(session, api_key_id, video_id) is None:
            raise VideoNotFound(video_id)
        return delivery_log.deliveries_page(session, video_id=video_id, limit=limit, cursor=cursor)


def retry_delivery(db: Database, api_key_id: str, delivery_id: str) -> LogEntry:
    """Make the delivery due now (whatever its status): one more attempt."""
    with db.write() as session:
        if delivery_log.delivery_entry(session, api_key_id, delivery_id) is None:
            raise DeliveryNotFound(delivery_id)
        if not delivery_log.replay_one(session, delivery_id, utcnow()):
            raise DeliveryBusy(delivery_id)
        entry = delivery_log.delivery_entry(session, api_key_id, delivery_id)
        assert entry is not None
        session.refresh(entry.delivery)
        return entry


def delivery_resource(entry: LogEntry) -> dict[str, Any]:
    delivery, event = entry.delivery, entry.event
    return {
        "object": "delivery",
        "id": delivery.id,
        "event_id": event.id,
        "event_type": event.type,
        "video_id": event.video_id,
        "webhook_id": delivery.subscription_id,
        "status": delivery.status,
        "attempt_count": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "next_attempt_at": iso(delivery.next_attempt_at) if _open(delivery.status) else None,
        "delivered_at": iso(delivery.delivered_at),
        "created_at": iso(delivery.created_at),
        "attempts": [_attempt(a) for a in entry.attempts],
    }


def page_resource(page: LogPage) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [delivery_resource(entry) for entry in page.items],
        "next_cursor": page.next_cursor,
        "has_more": page.next_cursor is not None,
    }


def _attempt(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "attempted_at": iso(attempt.attempted_at),
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "error": attempt.error,
        "next_retry_at": iso(attempt.next_retry_at),
    }


def _open(status: str) -> bool:
    return status in ("pending", "failed")
