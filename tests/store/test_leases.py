from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway.store import (
    ApiKey,
    Claim,
    Database,
    Delivery,
    Event,
    EventSpec,
    LeaseLost,
    Video,
    claim_due,
    claim_videos,
    fenced_update,
    insert_video,
    release,
    renew,
    transition_with_event,
    utcnow,
)


def _videos(db: Database, key: ApiKey, n: int, **fields) -> list[str]:
    with db.write() as session:
        return [
            insert_video(session, api_key_id=key.id, prompt=f"v{i}", params={}, **fields).id
            for i in range(n)
        ]


def _video(db: Database, video_id: str) -> Video:
    with db.session() as session:
        return session.get_one(Video, video_id)


def test_claim_takes_only_due_unleased_active_rows(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    due = _videos(db, api_key, 2, due_at=now - timedelta(seconds=1))
    _videos(db, api_key, 1, due_at=now + timedelta(minutes=5))
    _videos(db, api_key, 1, due_at=None)
    _videos(db, api_key, 1, due_at=now, status="succeeded")
    claims = claim_videos(db, "w1", now, limit=10, lease_seconds=30)
    assert sorted(c.id for c in claims) == sorted(due)
    assert all(c.token == 1 and c.owner == "w1" for c in claims)
    row = _video(db, due[0])
    assert row.lease_owner == "w1"
    assert row.lease_expires_at == now + timedelta(seconds=30)
    # Leased rows are not handed out again while the lease runs.
    assert claim_videos(db, "w2", now + timedelta(seconds=29), limit=10, lease_seconds=30) == []


def test_claim_respects_limit_oldest_first(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    ids = [_videos(db, api_key, 1, due_at=now - timedelta(seconds=10 - i))[0] for i in range(5)]
    claims = claim_videos(db, "w", now, limit=2, lease_seconds=30)
    assert sorted(c.id for c in claims) == ids[:2]


def test_concurrent_claimers_never_share_a_row(db_url: str, api_key: ApiKey, db) -> None:
    ids = set(_videos(db, api_key, 60, due_at=utcnow() - timedelta(seconds=1)))
    barrier = threading.Barrier(2)
    results: dict[str, list[str]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        own = Database(db_url)  # its own engine, like another process
        try:
            barrier.wait()
            while batch := claim_videos(own, name, utcnow(), limit=3, lease_seconds=60):
                results[name] += [c.id for c in batch]
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=worker, args=(n,)) for n in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert not set(results["a"]) & set(results["b"])
    assert set(results["a"]) | set(results["b"]) == ids
    assert len(results["a"]) + len(results["b"]) == len(ids)


def test_expired_lease_is_reclaimed_with_higher_token(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    (vid,) = _videos(db, api_key, 1, due_at=now)
    (first,) = claim_videos(db, "w1", now, limit=1, lease_seconds=30)
    later = now + timedelta(seconds=31)
    (second,) = claim_videos(db, "w2", later, limit=1, lease_seconds=30)
    assert second.id == first.id == vid
    assert second.token == first.token + 1

    with pytest.raises(LeaseLost):
        fenced_update(db, Video, first, phase="stale-write", progress=99)
    row = _video(db, vid)
    assert (row.phase, row.progress, row.lease_owner) == ("queued", 0, "w2")

    fenced_update(db, Video, second, phase="stream", progress=10)
    assert _video(db, vid).phase == "stream"


def test_fence_checks_owner_and_token(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    _videos(db, api_key, 1, due_at=now)
    (claim,) = claim_videos(db, "w1", now, limit=1, lease_seconds=30)
    with pytest.raises(LeaseLost):
        fenced_update(db, Video, Claim(claim.id, claim.token, "someone-else"), progress=5)
    with pytest.raises(LeaseLost):
        fenced_update(db, Video, Claim(claim.id, claim.token + 1), progress=5)
    fenced_update(db, Video, Claim(claim.id, claim.token), progress=5)  # token alone fences
    assert _video(db, claim.id).progress == 5


def test_fenced_update_joins_the_callers_transaction(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    _videos(db, api_key, 1, due_at=now)
    (claim,) = claim_videos(db, "w", now, limit=1, lease_seconds=30)
    with pytest.raises(RuntimeError), db.write() as session:
        fenced_update(session, Video, claim, attempts=Video.attempts + 1)
        raise RuntimeError("rolled back")
    assert _video(db, claim.id).attempts == 0
    with db.write() as session:
        fenced_update(session, Video, claim, attempts=Video.attempts + 1)
    assert _video(db, claim.id).attempts == 1


def test_renew_returns_only_held_leases(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    _videos(db, api_key, 3, due_at=now)
    claims = claim_videos(db, "w1", now, limit=3, lease_seconds=30)
    stolen = claims[0]
    claim_videos(db, "w2", now + timedelta(seconds=31), limit=1, lease_seconds=30)
    # Only the first row (oldest due) was re-claimed by w2.
    reclaimed = _video(db, stolen.id)
    assert reclaimed.lease_owner == "w2"

    until = now + timedelta(minutes=5)
    held = renew(db, Video, "w1", claims, until)
    assert held == {c.id for c in claims[1:]}
    assert _video(db, claims[1].id).lease_expires_at == until
    assert renew(db, Video, "w1", [], until) == set()
    assert renew(db, Video, "w3", claims, until) == set()


def test_release_reschedules_and_frees_the_row(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    _videos(db, api_key, 1, due_at=now)
    (claim,) = claim_videos(db, "w1", now, limit=1, lease_seconds=30)
    updated_before = _video(db, claim.id).updated_at
    next_due = now + timedelta(seconds=5)
    release(db, Video, claim, due_at=next_due, phase="poll")
    row = _video(db, claim.id)
    assert (row.lease_owner, row.lease_expires_at, row.due_at, row.phase) == (
        None,
        None,
        next_due,
        "poll",
    )
    assert row.updated_at >= updated_before
    with pytest.raises(LeaseLost):  # released: the old claim cannot write any more
        fenced_update(db, Video, claim, phase="late")
    assert claim_videos(db, "w2", now + timedelta(seconds=1), limit=1, lease_seconds=30) == []
    (again,) = claim_videos(db, "w2", next_due, limit=1, lease_seconds=30)
    assert again.token == claim.token + 1


def test_claim_due_is_generic(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    ids = _videos(db, api_key, 2, due_at=now)
    claims = claim_due(
        db,
        Video,
        owner="w",
        now=now,
        limit=5,
        lease_seconds=10,
        due_column="due_at",
        where=[Video.id == ids[1]],
    )
    assert [c.id for c in claims] == [ids[1]]


def test_transition_with_event_is_atomic(db: Database, api_key: ApiKey) -> None:
    now = utcnow()
    _videos(db, api_key, 1, due_at=now)
    (stale,) = claim_videos(db, "w1", now, limit=1, lease_seconds=30)
    (current,) = claim_videos(db, "w2", now + timedelta(seconds=31), limit=1, lease_seconds=30)
    spec = EventSpec(
        "video.completed",
        {"id": stale.id},
        api_key.id,
        stale.id,
        ["https://a.example/h", "https://b.example/h", "https://a.example/h"],
    )
    with pytest.raises(LeaseLost):
        transition_with_event(db, stale, values={"status": "succeeded"}, event=spec)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0
    assert _video(db, stale.id).status == "queued"

    event = transition_with_event(db, current, values={"status": "succeeded"}, event=spec)
    assert event is not None and event.id.startswith("msg_")
    with db.session() as session:
        stored = session.get_one(Event, event.id)
        deliveries = session.scalars(select(Delivery).where(Delivery.event_id == event.id))
        assert sorted(d.url for d in deliveries) == [
            "https://a.example/h",
            "https://b.example/h",
        ]
        assert stored.payload == {"id": stale.id}
    assert _video(db, current.id).status == "succeeded"
    assert transition_with_event(db, current, values={"progress": 100}, event=None) is None
