from __future__ import annotations

import threading
from datetime import timedelta

from gateway.store import ApiKey, Database, abandon, begin, complete, create_key, purge_expired
from gateway.store.models import utcnow

POST = ("POST", "/v1/videos")


def test_new_then_in_flight_then_replay(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    assert begin(db, api_key.id, "k1", *POST, "h1", now).kind == "new"
    assert begin(db, api_key.id, "k1", *POST, "h1", now).kind == "in_flight"
    headers = {"Location": "/v1/videos/vid_1"}
    assert complete(db, api_key.id, "k1", 202, headers, '{"id": "vid_1"}', "vid_1")
    assert not complete(db, api_key.id, "k1", 500, None, None, None)  # already done
    replay = begin(db, api_key.id, "k1", *POST, "h1", now + timedelta(hours=1))
    assert replay.kind == "replay"
    assert (replay.status, replay.headers, replay.body, replay.resource_id) == (
        202,
        headers,
        '{"id": "vid_1"}',
        "vid_1",
    )


def test_mismatch_on_other_body_or_path(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    begin(db, api_key.id, "k", *POST, "h1", now)
    assert begin(db, api_key.id, "k", *POST, "h2", now).kind == "mismatch"
    assert begin(db, api_key.id, "k", "POST", "/v1/other", "h1", now).kind == "mismatch"
    complete(db, api_key.id, "k", 201, {}, "{}", None)
    assert begin(db, api_key.id, "k", *POST, "h2", now).kind == "mismatch"


def test_keys_are_scoped_per_api_key(db: Database, api_key: ApiKey) -> None:
    other, _ = create_key(db, "other")
    now = utcnow()
    assert begin(db, api_key.id, "same", *POST, "h", now).kind == "new"
    assert begin(db, other.id, "same", *POST, "h", now).kind == "new"


def test_abandon_frees_the_key(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    begin(db, api_key.id, "k", *POST, "h", now)
    assert abandon(db, api_key.id, "k")
    assert begin(db, api_key.id, "k", *POST, "h2", now).kind == "new"
    complete(db, api_key.id, "k", 202, {}, "{}", "vid_x")
    assert not abandon(db, api_key.id, "k")  # a finished record stays
    assert begin(db, api_key.id, "k", *POST, "h2", now).kind == "replay"


def test_expired_records_are_reused_and_purged(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    begin(db, api_key.id, "old", *POST, "h", now)
    complete(db, api_key.id, "old", 202, {}, "{}", None)
    begin(db, api_key.id, "fresh", *POST, "h", now + timedelta(hours=23))
    after = now + timedelta(hours=24, seconds=1)
    assert begin(db, api_key.id, "old", *POST, "other", after).kind == "new"
    begin(db, api_key.id, "gone", *POST, "h", now)
    assert purge_expired(db, after) == 1  # "gone"; "old" was renewed, "fresh" is young
    assert purge_expired(db, after) == 0
    assert begin(db, api_key.id, "fresh", *POST, "h", after).kind == "in_flight"


def test_concurrent_begin_has_one_winner(db_url: str, db: Database, api_key: ApiKey) -> None:
    kinds: list[str] = []
    barrier = threading.Barrier(4)

    def call() -> None:
        own = Database(db_url)
        try:
            barrier.wait()
            kinds.append(begin(own, api_key.id, "race", *POST, "h", utcnow()).kind)
        finally:
            own.dispose()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(kinds) == ["in_flight", "in_flight", "in_flight", "new"]
