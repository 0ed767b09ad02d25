"""Webhook secrets at rest: sealed with Fernet, the keys kept apart from the database.

The gateway must sign with its webhook secrets (HMAC needs the secret
itself), so they cannot be hashed like API keys: they are encrypted.
``cryptography``'s Fernet (AES-128-CBC + HMAC-SHA256, authenticated, with a
timestamped token format) is the well-kept, misuse-resistant choice; its
``MultiFernet`` decrypts with any of several keys and encrypts with the first,
which is exactly what key rotation needs.

Where the keys come from, first match wins:

1. ``GATEWAY_ENCRYPTION_KEYS``: comma-separated Fernet keys, newest first.
   The choice for several machines sharing a PostgreSQL, and for keys that
   come from a secret manager.
2. The key file ``GATEWAY_ENCRYPTION_KEY_FILE``, by default
   ``<data dir>/encryption.keys``: one key per line, newest first, mode 0600,
   created with one fresh key on first start. It is not in the database, so a
   dump, a replica or a stolen copy of ``gateway.db`` alone holds no usable
   secret.

Rotation: put a new key first (old keys stay in the list for decryption),
restart every process, run ``gateway.store.keys.reseal_secrets(db)`` to
re-encrypt every row with the new key, then drop the old key.

A stored value is ``enc:v1:<Fernet token>``. A value without the prefix is a
plaintext secret written before the encryption migration (``open`` returns it
as is, so an upgrade never loses a secret; the migration seals them all).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gateway.store import files

PREFIX = "enc:v1:"
KEY_FILE = "encryption.keys"
ENV_KEYS = "GATEWAY_ENCRYPTION_KEYS"
ENV_KEY_FILE = "GATEWAY_ENCRYPTION_KEY_FILE"


class SecretUnreadable(Exception):
    """A sealed secret no configured key opens (a key was dropped too early)."""


class Keyring:
    """Seals and opens secrets; encrypts with the first key, decrypts with any."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def seal(self, plaintext: str) -> str:
        return PREFIX + self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def open(self, stored: str) -> str:
        if not is_sealed(stored):
            return stored  # written before the encryption migration
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode()
        except InvalidToken as exc:
            raise SecretUnreadable("no configured encryption key opens this secret") from exc

    def open_optional(self, stored: str | None) -> str | None:
        return None if stored is None else self.open(stored)

    def reseal(self, stored: str) -> str:
        """``stored`` encrypted with the newest key (plaintext is sealed too)."""
        if not is_sealed(stored):
            return self.seal(stored)
        token = stored[len(PREFIX) :].encode("ascii")
        return PREFIX + self._fernet.rotate(token).decode("ascii")


def is_sealed(stored: str | None) -> bool:
    return stored is not None and stored.startswith(PREFIX)


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def load(data_dir: Path | None = None, env: Mapping[str, str] | None = None) -> Keyring:
    """The keyring the environment describes (see the module docstring)."""
    env = os.environ if env is None else env
    listed = [k.strip() for k in env.get(ENV_KEYS, "").split(",") if k.strip()]
    if listed:
        return Keyring(listed)
    explicit = env.get(ENV_KEY_FILE)
    path = Path(explicit) if explicit else Path(data_dir or "data") / KEY_FILE
    return Keyring(read_key_file(path))


def read_key_file(path: Path) -> list[str]:
    """The keys in ``path``, creating it (0600, one fresh key) on first use."""
    files.create_once(path, new_key() + "\n")
    keys = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    keys = [k for k in keys if not k.startswith("#")]
    if not keys:
        raise ValueError(f"{path} holds no encryption key")
    return keys
