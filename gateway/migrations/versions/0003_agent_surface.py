"""The agent surface: what a chat turn said and cost, kept on its video row.

``reply`` is the agent's text (GUI wording translated), ``tool_steps`` the
compact list of tool calls, ``credits_charged`` what the turn cost by the
protocol's price list. Messages sent through ``/v1/sessions/{id}/messages``
are rows of kind ``message`` in ``videos`` (see docs/architecture.md).

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.add_column(sa.Column("reply", sa.Text(), nullable=True))
        batch.add_column(sa.Column("tool_steps", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("credits_charged", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("videos") as batch:
        batch.drop_column("credits_charged")
        batch.drop_column("tool_steps")
        batch.drop_column("reply")
