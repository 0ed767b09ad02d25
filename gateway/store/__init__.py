"""The storage layer: the database is the source of truth.

Modules: ``db`` (engine, sessions, write transactions, migrations), ``models``
(schema), ``ids`` (sortable ids), ``leases`` (claims with fencing tokens),
``videos``, ``idempotency``, ``outbox`` (events and webhook deliveries),
``keys`` (API keys), ``subscriptions`` (webhook subscriptions and their
health), ``delivery_log`` (deliveries with their attempts; replays).
Errors: ``LeaseLost`` (a fenced write lost its lease), ``InvalidCursor`` (a
``ValueError``: a list cursor we did not produce).
"""

from gateway.store.db import Database, alembic_config, normalize_url
from gateway.store.idempotency import Begin, abandon, begin, complete, purge_expired
from gateway.store.ids import new_id
from gateway.store.keys import authenticate, create_key, disable_key, hash_key
from gateway.store.leases import Claim, LeaseLost, claim_due, fenced_update, release, renew
from gateway.store.models import (
    DELIVERY_OPEN,
    DELIVERY_STATUSES,
    VIDEO_ACTIVE,
    VIDEO_STATUSES,
    VIDEO_TERMINAL,
    ApiKey,
    Base,
    ChatSession,
    Delivery,
    DeliveryAttempt,
    Event,
    IdempotencyKey,
    Upload,
    Video,
    WebhookSubscription,
    utcnow,
)
from gateway.store.outbox import (
    EventSpec,
    add_event,
    claim_deliveries,
    load_delivery,
    mark_dead,
    mark_succeeded,
    schedule_retry,
)
from gateway.store.videos import (
    InvalidCursor,
    Page,
    claim_videos,
    get_video,
    insert_video,
    list_videos,
    request_cancel,
    transition_with_event,
)

__all__ = [
    "DELIVERY_OPEN",
    "DELIVERY_STATUSES",
    "VIDEO_ACTIVE",
    "VIDEO_STATUSES",
    "VIDEO_TERMINAL",
    "ApiKey",
    "Base",
    "Begin",
    "ChatSession",
    "Claim",
    "Database",
    "Delivery",
    "DeliveryAttempt",
    "Event",
    "EventSpec",
    "IdempotencyKey",
    "InvalidCursor",
    "LeaseLost",
    "Page",
    "Upload",
    "Video",
    "WebhookSubscription",
    "abandon",
    "add_event",
    "alembic_config",
    "authenticate",
    "begin",
    "claim_deliveries",
    "claim_due",
    "claim_videos",
    "complete",
    "create_key",
    "disable_key",
    "fenced_update",
    "get_video",
    "hash_key",
    "insert_video",
    "list_videos",
    "load_delivery",
    "mark_dead",
    "mark_succeeded",
    "new_id",
    "normalize_url",
    "purge_expired",
    "release",
    "renew",
    "request_cancel",
    "schedule_retry",
    "transition_with_event",
    "utcnow",
]
