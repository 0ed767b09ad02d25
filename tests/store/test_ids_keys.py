from __future__ import annotations

import base64
import re
import time

from gateway.store import Database, authenticate, create_key, disable_key, new_id
from gateway.store.keys import webhook_secret


def test_ids_have_prefix_and_sort_by_creation() -> None:
    ids = []
    for i in range(2000):
        ids.append(new_id("vid"))
        if i % 500 == 0:
            time.sleep(0.002)
    assert all(re.fullmatch(r"vid_[0-9a-hjkmnp-tv-z]{20}", i) for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_from_later_milliseconds_sort_later() -> None:
    first = new_id("x")
    time.sleep(0.005)
    assert new_id("x")[2:12] > first[2:12]


def test_create_key_stores_only_the_hash(db: Database) -> None:
    key, plaintext = create_key(db, "zapier")
    assert re.fullmatch(r"ngw_[A-Za-z0-9_-]{32}", plaintext)
    assert key.id.startswith("key_")
    assert key.key_prefix == plaintext[:12]
    assert plaintext not in (key.key_hash, key.key_prefix + "x")
    # Stored sealed; opened with the gateway's encryption keys.
    assert key.webhook_secret.startswith("enc:v1:")
    secret = webhook_secret(db, key)
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    assert key.created_at.tzinfo is not None


def test_authenticate(db: Database) -> None:
    key, plaintext = create_key(db, "n8n")
    other, _ = create_key(db, "other")
    with db.session() as session:
        found = authenticate(session, plaintext)
        assert found is not None and found.id == key.id
        assert authenticate(session, plaintext + "x") is None
        assert authenticate(session, "") is None
    assert disable_key(db, key.id)
    assert not disable_key(db, key.id)  # already disabled
    with db.session() as session:
        assert authenticate(session, plaintext) is None
        assert other.id != key.id
