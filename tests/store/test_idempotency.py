from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta

from sqlalchemy import select

from gateway.store import (
    ApiKey,
    Database,
    abandon,
    begin,
    complete,
    create_key,
    idempotency,
    purge_expired,
)
from gateway.store.models import ChatSession, IdempotencyKey, utcnow
from gateway.videos_service import create_video

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
    # Its owner (this process) vouches for it for two hours.
    begin(db, api_key.id, "fresh", *POST, "h", now + timedelta(hours=23), lease=timedelta(hours=2))
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


# -- a crashed request no longer holds its key ------------------------------------

HOST = socket.gethostname()
DEAD = f"{HOST}:{2**22 + 12345}:0a0b0c"  # above pid_max: no such process
ELSEWHERE = "another-host:1:0a0b0c"  # cannot be checked: its lease decides


def _record(db: Database, api_key: ApiKey, key: str) -> IdempotencyKey:
    with db.session() as s:
        return s.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.api_key_id == api_key.id, IdempotencyKey.key == key
            )
        )


def test_a_dead_owners_record_without_a_resource_runs_again(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    assert begin(db, api_key.id, "k", *POST, "h", now, owner=DEAD).kind == "new"
    # The owner died before creating anything: the retry runs the request, now owning it.
    assert begin(db, api_key.id, "k", *POST, "h", now).kind == "new"
    assert _record(db, api_key, "k").owner == idempotency.process_owner()
    assert begin(db, api_key.id, "k", *POST, "h", now).kind == "in_flight"


def test_a_previous_life_of_this_pid_is_dead(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    before_restart = f"{HOST}:{os.getpid()}:ffffffffffff"
    begin(db, api_key.id, "k", *POST, "h", now, owner=before_restart)
    assert begin(db, api_key.id, "k", *POST, "h", now).kind == "new"


def test_another_hosts_record_is_held_until_its_lease_lapses(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    begin(db, api_key.id, "k", *POST, "h", now, owner=ELSEWHERE)
    assert begin(db, api_key.id, "k", *POST, "h", now + timedelta(seconds=29)).kind == "in_flight"
    assert begin(db, api_key.id, "k", *POST, "h", now + timedelta(seconds=31)).kind == "new"


def test_a_renewed_lease_keeps_the_record_in_flight(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    begin(db, api_key.id, "k", *POST, "h", now, owner=ELSEWHERE)
    assert idempotency.renew(db, ELSEWHERE, now + timedelta(seconds=25)) == 1
    assert begin(db, api_key.id, "k", *POST, "h", now + timedelta(seconds=45)).kind == "in_flight"


def test_the_video_is_linked_in_its_creating_transaction(db: Database, api_key: ApiKey) -> None:
    """A crash after the commit: the retry is answered with that video, never a new one."""
    now = utcnow()
    owner = idempotency.process_owner()
    begin(db, api_key.id, "k", *POST, "h", now, owner=owner)
    pending = idempotency.Pending(api_key.id, "k", owner, "vid_")
    with idempotency.serving(pending):
        video = create_video(db, api_key.id, {"prompt": "a fox"}).video
    assert _record(db, api_key, "k").resource_id == video.id
    # The process dies here, before the response is stored. After the restart:
    with db.write() as s:
        s.get(IdempotencyKey, (api_key.id, "k")).owner = DEAD
    again = begin(db, api_key.id, "k", *POST, "h", now)
    assert (again.kind, again.resource_id) == ("recovered", video.id)
    # The retry owns the record now and completes it; later retries replay that.
    assert complete(db, api_key.id, "k", 202, {}, f'{{"id": "{video.id}"}}', video.id)
    assert begin(db, api_key.id, "k", *POST, "h", now).kind == "replay"


def test_a_failed_create_links_nothing(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    owner = idempotency.process_owner()
    begin(db, api_key.id, "k", *POST, "h", now, owner=owner)
    pending = idempotency.Pending(api_key.id, "k", owner, "vid_")
    with idempotency.serving(pending):
        try:
            with db.write() as s:
                s.add(ChatSession(api_key_id=api_key.id, created_at=now, updated_at=now))
                from gateway.store.videos import insert_video

                insert_video(s, api_key_id=api_key.id, prompt="x")
                raise RuntimeError("the request fails before its commit")
        except RuntimeError:
            pass
    assert _record(db, api_key, "k").resource_id is None


def test_abandon_lets_go_of_a_record_that_names_its_resource(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    owner = idempotency.process_owner()
    begin(db, api_key.id, "k", *POST, "h", now, owner=owner)
    with idempotency.serving(idempotency.Pending(api_key.id, "k", owner, "vid_")):
        video = create_video(db, api_key.id, {"prompt": "a fox"}).video
    assert abandon(db, api_key.id, "k")  # e.g. the wait failed after the commit
    again = begin(db, api_key.id, "k", *POST, "h", now)
    assert (again.kind, again.resource_id) == ("recovered", video.id)


def test_a_taken_over_record_is_not_completed_by_its_old_owner(
    db: Database, api_key: ApiKey
) -> None:
    now = utcnow()
    begin(db, api_key.id, "k", *POST, "h", now, owner=ELSEWHERE)
    begin(db, api_key.id, "k", *POST, "h", now + timedelta(minutes=1))  # lease lapsed: taken
    assert not complete(db, api_key.id, "k", 202, {}, "{}", None, owner=ELSEWHERE)
    assert complete(db, api_key.id, "k", 202, {}, "{}", None)
