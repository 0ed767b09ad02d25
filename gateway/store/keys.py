"""API keys: created once (the plaintext is shown once), then found by hash."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.store.db import Database
from gateway.store.models import ApiKey, utcnow

KEY_PREFIX = "ngw_"
_DISPLAY_CHARS = 12


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes.

    Generated here rather than imported from ``gateway.webhooks``: the store is
    the bottom layer, and ``gateway.webhooks`` imports the store (an import cycle).
    """
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def create_key(db: Database, name: str) -> tuple[ApiKey, str]:
    """Create a key; returns it with the plaintext, which is stored nowhere."""
    plaintext = KEY_PREFIX + secrets.token_urlsafe(24)  # 32 characters
    key = ApiKey(
        name=name,
        key_prefix=plaintext[:_DISPLAY_CHARS],
        key_hash=hash_key(plaintext),
        webhook_secret=new_webhook_secret(),
    )
    with db.write() as session:
        session.add(key)
    return key, plaintext


def authenticate(session: Session, plaintext: str) -> ApiKey | None:
    """The enabled key with this plaintext, else ``None``.

    Looking up by hash means no secret is compared byte by byte in Python.
    """
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(plaintext)))
    if key is None or key.disabled_at is not None:
        return None
    return key


def disable_key(db: Database, key_id: str, now: datetime | None = None) -> bool:
    """Disable a key for good; False if there is no such enabled key."""
    stmt = (
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.disabled_at.is_(None))
        .values(disabled_at=now or utcnow())
    )
    with db.write() as session:
        return session.execute(stmt).rowcount > 0
