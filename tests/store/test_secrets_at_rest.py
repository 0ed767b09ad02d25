"""Secrets at rest: webhook secrets sealed in the rows, files private to the gateway."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from gateway.config import GatewayConfig
from gateway.net.guard import STRICT
from gateway.store import ApiKey, Database, create_key, crypto
from gateway.store.db import alembic_config
from gateway.store.keys import reseal_secrets, webhook_secret
from gateway.store.models import WebhookSubscription, utcnow


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def raw_secrets(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        keys = conn.execute(text("SELECT webhook_secret FROM api_keys")).scalars().all()
        subs = (
            conn.execute(
                text(
                    "SELECT secret FROM webhook_subscriptions UNION ALL "
                    "SELECT previous_secret FROM webhook_subscriptions "
                    "WHERE previous_secret IS NOT NULL"
                )
            )
            .scalars()
            .all()
        )
    return [*keys, *subs]


def test_webhook_secrets_are_sealed_in_the_rows_and_open_for_signing(db: Database) -> None:
    from gateway import subscriptions_service

    key, _ = create_key(db, "k")
    created = subscriptions_service.create_subscription(
        db,
        key.id,
        {"url": "https://hooks.example.com/x", "events": ["video.completed"]},
        url_guard=STRICT,
    )
    rotated = subscriptions_service.rotate_secret(db, key.id, created.subscription.id)
    stored = raw_secrets(db)
    assert len(stored) == 3
    assert all(value.startswith("enc:v1:") and "whsec_" not in value for value in stored)
    assert webhook_secret(db, key).startswith("whsec_")
    with db.session() as s:
        row = s.get(WebhookSubscription, created.subscription.id)
        assert db.keyring.open(row.secret) == rotated.secret
        assert db.keyring.open(row.previous_secret) == created.secret


def _downgrade(db: Database, revision: str) -> None:
    with db._writer.begin() as session:
        config = alembic_config()
        config.attributes["connection"] = session.connection()
        config.attributes["keyring"] = lambda: db.keyring
        command.downgrade(config, revision)


def test_the_migration_seals_the_secrets_of_an_existing_database(db: Database) -> None:
    _downgrade(db, "0004")  # the schema as it was, with plaintext secrets
    now = utcnow()
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO api_keys (id, name, key_prefix, key_hash, webhook_secret,"
                " created_at) VALUES ('key_old', 'old', 'ngw_', :h, 'whsec_b2xk', :now)"
            ),
            {"h": "0" * 64, "now": now.replace(tzinfo=None)},
        )
        conn.execute(
            text(
                "INSERT INTO webhook_subscriptions (id, api_key_id, url, events, secret,"
                " previous_secret, status, created_at, updated_at) VALUES ('whk_old',"
                " 'key_old', 'https://x.example', '[]', 'whsec_c3Vi', 'whsec_cHJldg',"
                " 'active', :now, :now)"
            ),
            {"now": now.replace(tzinfo=None)},
        )
    db.upgrade()
    stored = raw_secrets(db)
    assert stored and all(value.startswith("enc:v1:") for value in stored)
    with db.session() as s:
        assert db.keyring.open(s.get(ApiKey, "key_old").webhook_secret) == "whsec_b2xk"
        sub = s.get(WebhookSubscription, "whk_old")
        assert db.keyring.open(sub.secret) == "whsec_c3Vi"
        assert db.keyring.open(sub.previous_secret) == "whsec_cHJldg"
    db.upgrade()  # at head: nothing sealed twice
    assert sorted(raw_secrets(db)) == sorted(stored)


def test_rotation_keeps_old_keys_for_decryption_and_reseals(db: Database) -> None:
    old_key = crypto.new_key()
    db._keyring = crypto.Keyring([old_key])
    key, _ = create_key(db, "k")
    secret = webhook_secret(db, key)
    # The new key first, the old one kept: rows sealed with the old key still open.
    newest = crypto.new_key()
    db._keyring = crypto.Keyring([newest, old_key])
    assert webhook_secret(db, key) == secret
    assert reseal_secrets(db) == 1
    # After the reseal the new key alone opens every row.
    only_new = crypto.Keyring([newest])
    assert [only_new.open(v) for v in raw_secrets(db)] == [secret]


def test_a_secret_no_key_opens_is_an_error_not_a_guess() -> None:
    sealed = crypto.Keyring([crypto.new_key()]).seal("whsec_x")
    with pytest.raises(crypto.SecretUnreadable):
        crypto.Keyring([crypto.new_key()]).open(sealed)


def test_keys_from_the_environment_win_over_the_key_file(tmp_path: Path) -> None:
    key = crypto.new_key()
    ring = crypto.load(tmp_path, {crypto.ENV_KEYS: f" {key} , {crypto.new_key()}"})
    assert crypto.Keyring([key]).open(ring.seal("s")) == "s"
    assert not (tmp_path / crypto.KEY_FILE).exists()


def test_the_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    first = crypto.load(tmp_path / "d", {})
    path = tmp_path / "d" / crypto.KEY_FILE
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert crypto.load(tmp_path / "d", {}).open(first.seal("s")) == "s"


def test_sqlite_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = Database(f"sqlite:///{data / 'gateway.db'}")
    db.upgrade()
    create_key(db, "k")  # a write: the WAL and shared-memory files exist now
    try:
        assert mode(data) == 0o700
        for name in ("gateway.db", "gateway.db-wal", "gateway.db-shm", "gateway.db-writelock"):
            assert mode(data / name) == 0o600, name
    finally:
        db.dispose()


def test_loose_files_of_an_older_install_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    old = Database(f"sqlite:///{data / 'gateway.db'}")
    old.upgrade()
    create_key(old, "k")
    for path in (data, data / "gateway.db", data / "gateway.db-wal"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)  # as an older version left them
    db = Database(f"sqlite:///{data / 'gateway.db'}")
    try:
        assert mode(data) == 0o700
        assert mode(data / "gateway.db") == 0o600
        assert mode(data / "gateway.db-wal") == 0o600
    finally:
        db.dispose()
        old.dispose()


def test_the_apps_data_dir_media_and_keys_are_private(tmp_path: Path) -> None:
    from gateway.app import build_services

    data = tmp_path / "data"
    services = build_services(GatewayConfig(data_dir=data))
    try:
        create_key(services.db, "k")
        assert mode(data) == 0o700
        assert mode(data / "media") == 0o700
        assert mode(data / "signing.key") == 0o600
        assert mode(data / "gateway.db") == 0o600
        if not os.environ.get(crypto.ENV_KEYS):
            assert mode(data / crypto.KEY_FILE) == 0o600
    finally:
        services.db.dispose()
