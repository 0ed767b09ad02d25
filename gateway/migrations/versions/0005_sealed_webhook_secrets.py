"""Webhook secrets sealed at rest: API keys' ``whsec_`` and subscriptions' secrets.

Every plaintext secret is encrypted with the gateway's encryption keys
(``gateway.store.crypto``: Fernet, keys from ``GATEWAY_ENCRYPTION_KEYS`` or
the key file, never from the database). On PostgreSQL the columns become
``text`` (a sealed secret is about 170 characters); SQLite does not enforce
the declared length, so its columns stay as they are.

Revision ID: 0005
Revises: 0004
Create Date: 2025-01-05 00:00:00
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from gateway.store import crypto

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, primary key, secret columns)
SECRETS = (
    ("api_keys", "id", ("webhook_secret",)),
    ("webhook_subscriptions", "id", ("secret", "previous_secret")),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for table, _, columns in SECRETS:
            for column in columns:
                op.alter_column(table, column, type_=sa.Text(), existing_type=sa.String(64))
    _convert(lambda keyring, value: keyring.seal(value), lambda value: not crypto.is_sealed(value))


def downgrade() -> None:
    # Back to plaintext, as the previous revision stored them.
    _convert(lambda keyring, value: keyring.open(value), crypto.is_sealed)


def _keyring() -> crypto.Keyring:
    # Database.upgrade hands its keyring over; the alembic command line uses
    # the environment's (GATEWAY_ENCRYPTION_KEYS or the key file).
    given: Callable[[], crypto.Keyring] | None = context.config.attributes.get("keyring")
    return given() if given is not None else crypto.load()


def _convert(change: Callable[[crypto.Keyring, str], str], wanted: Callable[[str], bool]) -> None:
    bind = op.get_bind()
    keyring: crypto.Keyring | None = None
    for table, pk, columns in SECRETS:
        t = sa.table(table, sa.column(pk), *(sa.column(c) for c in columns))
        rows = bind.execute(sa.select(t)).mappings().all()
        for row in rows:
            values: dict[str, Any] = {}
            for column in columns:
                value = row[column]
                if value is not None and wanted(value):
                    keyring = keyring or _keyring()  # keys only when there is a secret
                    values[column] = change(keyring, value)
            if values:
                bind.execute(sa.update(t).where(t.c[pk] == row[pk]).values(**values))
