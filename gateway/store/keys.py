"""API keys: created once (the plaintext is shown once), then found by hash.

Requests authenticate through ``authenticate_cached``: each process keeps the
keys it has seen for ``KEY_CACHE_SECONDS`` (5 s), so a burst of requests costs
one lookup per key, not one per request. The price is bounded staleness: a key
disabled by another process (the CLI, another web worker) is still accepted by
a process that saw it during the last 5 s at most. ``disable_key`` clears the
cache of its own process at once. Unknown keys are never cached (a new key
works at once).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import weakref
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.store.db import Database
from gateway.store.models import ApiKey, WebhookSubscription, utcnow

KEY_PREFIX = "ngw_"
_DISPLAY_CHARS = 12
# How long a process trusts a key it found enabled (see the module docstring).
KEY_CACHE_SECONDS = 5.0
_KEY_CACHE_MAX = 10_000


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes.

    Generated here rather than imported from ``gateway.webhooks``: the store is
    the bottom layer, and ``gateway.webhooks`` imports the store (an import cycle).
    """
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def create_key(db: Database, name: str) -> tuple[ApiKey, str]:
    """Create a key; returns it with the plaintext, which is stored nowhere.

    Its webhook secret is stored sealed (``gateway.store.crypto``):
    ``webhook_secret(db, key)`` opens it.
    """
    plaintext = KEY_PREFIX + secrets.token_urlsafe(24)  # 32 characters
    key = ApiKey(
        name=name,
        key_prefix=plaintext[:_DISPLAY_CHARS],
        key_hash=hash_key(plaintext),
        webhook_secret=db.keyring.seal(new_webhook_secret()),
    )
    with db.write() as session:
        session.add(key)
    return key, plaintext


def webhook_secret(db: Database, key: ApiKey) -> str:
    """The key's ``whsec_`` secret in the clear, to sign or to show its owner."""
    return db.keyring.open(key.webhook_secret)


def reseal_secrets(db: Database) -> int:
    """Re-encrypt every webhook secret with the newest key (after a rotation).

    Once it has run, the old keys can leave ``GATEWAY_ENCRYPTION_KEYS`` or the
    key file. Returns how many values were rewritten.
    """
    count = 0
    with db.write() as session:
        for key in session.scalars(select(ApiKey)):
            key.webhook_secret = db.keyring.reseal(key.webhook_secret)
            count += 1
        for sub in session.scalars(select(WebhookSubscription)):
            sub.secret = db.keyring.reseal(sub.secret)
            if sub.previous_secret is not None:
                sub.previous_secret = db.keyring.reseal(sub.previous_secret)
            count += 1 + (sub.previous_secret is not None)
    key_cache(db).clear()
    return count


def authenticate(session: Session, plaintext: str) -> ApiKey | None:
    """The enabled key with this plaintext, else ``None``.

    Looking up by hash means no secret is compared byte by byte in Python.
    """
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(plaintext)))
    if key is None or key.disabled_at is not None:
        return None
    return key


class KeyCache:
    """Enabled keys by hash, each trusted for ``ttl`` seconds (monotonic clock)."""

    def __init__(self, ttl: float = KEY_CACHE_SECONDS, max_entries: int = _KEY_CACHE_MAX) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self._entries: dict[str, tuple[float, ApiKey]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> ApiKey | None:
        entry = self._entries.get(digest)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def put(self, digest: str, key: ApiKey) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + self.ttl, key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_caches: weakref.WeakKeyDictionary[Database, KeyCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def key_cache(db: Database) -> KeyCache:
    cache = _caches.get(db)
    if cache is None:
        with _caches_lock:
            cache = _caches.setdefault(db, KeyCache())
    return cache


def authenticate_cached(db: Database, plaintext: str) -> ApiKey | None:
    """``authenticate`` through this process's key cache (at most 5 s stale).

    The returned key is detached and shared between threads: read it, never
    change it or add it to a session.
    """
    digest = hash_key(plaintext)
    cache = key_cache(db)
    key = cache.get(digest)
    if key is not None:
        return key
    with db.session() as session:
        key = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    if key is None or key.disabled_at is not None:
        return None
    cache.put(digest, key)
    return key


def disable_key(db: Database, key_id: str, now: datetime | None = None) -> bool:
    """Disable a key for good; False if there is no such enabled key."""
    stmt = (
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.disabled_at.is_(None))
        .values(disabled_at=now or utcnow())
    )
    with db.write() as session:
        changed = session.execute(stmt).rowcount > 0
    key_cache(db).clear()
    return changed
