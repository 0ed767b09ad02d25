"""The database schema as SQLAlchemy 2.0 typed declarative models.

``gateway/migrations/versions`` creates exactly these tables; a test compares
the two. Status-like columns are plain strings: the state machines that give
them meaning live in the engine, and a new state should not need a migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway.store.ids import new_id

VIDEO_STATUSES = ("queued", "generating", "rendering", "succeeded", "failed", "canceled")
VIDEO_TERMINAL = frozenset({"succeeded", "failed", "canceled"})
VIDEO_ACTIVE = tuple(s for s in VIDEO_STATUSES if s not in VIDEO_TERMINAL)
DELIVERY_STATUSES = ("pending", "succeeded", "failed", "dead")
# "failed" means the last attempt failed and a retry is scheduled.
DELIVERY_OPEN = ("pending", "failed")
SUBSCRIPTION_STATUSES = ("active", "disabled")

# Deterministic constraint names, so later migrations can address them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware datetime that is always UTC in Python.

    SQLite has no time zones: values are stored as naive UTC text (which also
    makes string comparison in SQL a correct time comparison). PostgreSQL
    stores ``timestamptz``. Naive datetimes are refused rather than guessed.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware (UTC) datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Sealed secrets (``enc:v1:<Fernet token>``, about 170 characters). SQLite does
# not enforce VARCHAR lengths, and rebuilding api_keys (which every table
# references) only to change a declared length would trip its foreign keys:
# there the column keeps its original declaration.
SEALED = sa.Text().with_variant(sa.String(64), "sqlite")


def _id(prefix: str) -> Any:
    return lambda: new_id(prefix)


def _zero() -> Any:
    return mapped_column(sa.Integer, default=0, server_default=sa.text("0"))


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: sa.JSON, Any: sa.JSON}


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=_id("key"))
    name: Mapped[str] = mapped_column(sa.String(200))
    key_prefix: Mapped[str] = mapped_column(sa.String(12))
    key_hash: Mapped[str] = mapped_column(sa.String(64), index=True, unique=True)
    webhook_secret: Mapped[str] = mapped_column(SEALED)  # sealed at rest
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]


class ChatSession(Base):
    """One upstream conversation; videos in it take turns (``busy_video_id``)."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=_id("ses"))
    api_key_id: Mapped[str] = mapped_column(sa.ForeignKey("api_keys.id"), index=True)
    upstream_session_id: Mapped[str | None] = mapped_column(sa.String(200))
    task_id: Mapped[str | None] = mapped_column(sa.String(200))
    claim_url: Mapped[str | None] = mapped_column(sa.Text)
    language: Mapped[str | None] = mapped_column(sa.String(32))
    draft: Mapped[Any | None]
    credits_spent: Mapped[int] = _zero()
    # No foreign key: videos already point at sessions, and a cycle would
    # complicate table creation order for little gain.
    busy_video_id: Mapped[str | None] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Video(Base):
    __tablename__ = "videos"
    __table_args__ = (
        sa.Index("ix_videos_status_due_at", "status", "due_at"),
        sa.Index("ix_videos_api_key_id_created_at_id", "api_key_id", "created_at", "id"),
    )
    # The column leases.claim_due reads to decide whether a row is due.
    __due_column__ = "due_at"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=_id("vid"))
    api_key_id: Mapped[str] = mapped_column(sa.ForeignKey("api_keys.id"))
    session_id: Mapped[str | None] = mapped_column(sa.ForeignKey("sessions.id"), index=True)
    parent_id: Mapped[str | None] = mapped_column(sa.ForeignKey("videos.id"))
    kind: Mapped[str] = mapped_column(sa.String(16), default="generate")
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    phase: Mapped[str] = mapped_column(sa.String(32), default="queued")
    stage: Mapped[str | None] = mapped_column(sa.String(64))
    progress: Mapped[int] = _zero()
    prompt: Mapped[str] = mapped_column(sa.Text, default="")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    webhook_url: Mapped[str | None] = mapped_column(sa.Text)
    webhook_events_filter: Mapped[Any | None]
    meta: Mapped[Any | None] = mapped_column("metadata", sa.JSON)
    timeline: Mapped[str | None] = mapped_column(sa.Text)
    draft: Mapped[Any | None]
    baseline_draft: Mapped[Any | None]
    changes: Mapped[Any | None]
    # What the chat turn said (GUI wording translated), its tool calls, and its cost.
    reply: Mapped[str | None] = mapped_column(sa.Text)
    tool_steps: Mapped[Any | None]
    credits_charged: Mapped[int] = _zero()
    message_sent_at: Mapped[datetime | None]
    # The balance read just before the message was sent ({available, frozen}):
    # a lost turn compares it with the balance then to say whether it was charged.
    credits_at_send: Mapped[Any | None]
    render_id: Mapped[str | None] = mapped_column(sa.String(200))
    render_attempts: Mapped[int] = _zero()
    poll_count: Mapped[int] = _zero()
    output: Mapped[Any | None]
    error: Mapped[Any | None]
    cancel_requested: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    cancel_after: Mapped[datetime | None]
    attempts: Mapped[int] = _zero()
    # NULL means the engine has nothing to do. No column default: the ORM would
    # apply it to an explicit None too; insert_video defaults it to "now".
    due_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(sa.String(200))
    lease_token: Mapped[int] = _zero()
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None]


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    api_key_id: Mapped[str] = mapped_column(sa.ForeignKey("api_keys.id"), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    method: Mapped[str] = mapped_column(sa.String(10))
    path: Mapped[str] = mapped_column(sa.Text)
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(16), default="in_flight")
    response_status: Mapped[int | None]
    response_headers: Mapped[Any | None]
    response_body: Mapped[str | None] = mapped_column(sa.Text)
    resource_id: Mapped[str | None] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    # The process running an in-flight request (``host:pid:token``) and how long
    # it vouches for it: a lapsed lease or a dead owner is no longer in flight.
    owner: Mapped[str | None] = mapped_column(sa.String(200))
    lease_expires_at: Mapped[datetime | None]


class Event(Base):
    """The outbox: its id is the stable ``webhook-id`` across every retry."""

    __tablename__ = "events"
    __table_args__ = (sa.Index("ix_events_api_key_id_created_at", "api_key_id", "created_at"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=_id("msg"))
    api_key_id: Mapped[str] = mapped_column(sa.ForeignKey("api_keys.id"))
    video_id: Mapped[str | None] = mapped_column(sa.ForeignKey("videos.id"), index=True)
    type: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookSubscription(Base):
    """A URL that receives the API key's events of the listed ``events`` types.

    During a secret rotation ``previous_secret`` also signs until
    ``previous_secret_expires_at``. Deliveries keep ``subscription_id`` without
    a foreign key, so deleting a subscription leaves its delivery log intact.
    """

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=_id("whk"))
    api_key_id: Mapped[str] = mapped_column(sa.ForeignKey("api_keys.id"), index=True)
    url: Mapped[str] = mapped_column(sa.Text)
    events: Mapped[list[str]] = mapped_column(sa.JSON)
    description: Mapped[str | None] = mapped_column(sa.Text)
    secret: Mapped[str] = mapped_column(SEALED)  # sealed at rest, like previous_secret
    previous_secret: Mapped[str | None] = mapped_column(SEALED)
    previous_secret_expires_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    disabled_reason: Mapped[str | None] = mapped_column(sa.Text)
    # Set by the first failed attempt after a success; a success clears it.
    failing_since: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        sa.Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        sa.Index("ix_deliveries_subscription_id_id", "subscription_id", "id"),
    )
    __due_column__ = "next_attempt_at"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=_id("dlv"))
    event_id: Mapped[str] = mapped_column(sa.ForeignKey("events.id"), index=True)
    url: Mapped[str] = mapped_column(sa.Text)
    subscription_id: Mapped[str | None] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = _zero()
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    delivered_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(sa.String(200))
    lease_token: Mapped[int] = _zero()
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeliveryAttempt(Base):
    """One HTTP attempt of a delivery, for the delivery log."""

    __tablename__ = "delivery_attempts"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=_id("att"))
    delivery_id: Mapped[str] = mapped_column(sa.ForeignKey("deliveries.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]
    latency_ms: Mapped[int | None]
    # No answer body: shown back, it would let a caller read what the gateway can reach.
    error: Mapped[str | None] = mapped_column(sa.Text)
    next_retry_at: Mapped[datetime | None]


class Upload(Base):
    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True, default=_id("upl"))
    api_key_id: Mapped[str] = mapped_column(sa.ForeignKey("api_keys.id"), index=True)
    filename: Mapped[str] = mapped_column(sa.Text)
    content_type: Mapped[str] = mapped_column(sa.String(200))
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    path: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
