"""The delivery log keeps no answer bodies: ``delivery_attempts.response_body`` goes.

Shown back through ``/v1/webhooks/.../deliveries``, the start of each
receiver's answer let a caller read any page the gateway could reach (a
read-SSRF primitive where private URLs are allowed). Dropping the column also
deletes the bodies already stored. An attempt keeps its status code, timing
and error class.

Revision ID: 0006
Revises: 0005
Create Date: 2025-01-06 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_column("response_body")


def downgrade() -> None:
    # The column comes back empty: the dropped bodies are gone for good.
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.add_column(sa.Column("response_body", sa.Text(), nullable=True))
