"""Requests a crash can no longer hold: idempotency leases, the balance at send.

``idempotency_keys.owner`` names the process running a keyed request (host,
pid and a per-process token) and ``lease_expires_at`` how long that process
vouches for it (renewed while the request runs): an expired lease or a dead
owner means the request is no longer in flight. Records written before this
revision have neither, so a record left ``in_flight`` by a crash is freed.
``videos.credits_at_send`` keeps the balance read just before a chat message
was sent, so a lost turn can say whether anything was charged.

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("owner", sa.String(200), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", TS, nullable=True))
    with op.batch_alter_table("videos") as batch:
        batch.add_column(sa.Column("credits_at_send", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.drop_column("credits_at_send")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("lease_expires_at")
        batch.drop_column("owner")
