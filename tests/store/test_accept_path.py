"""The accept path's store pieces: group commit and the per-process API key cache."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest
from sqlalchemy import func, select

from gateway import videos_service
from gateway.representation import Links
from gateway.store import ApiKey, Database, create_key, disable_key
from gateway.store import keys as keys_module
from gateway.store.keys import authenticate_cached
from gateway.store.models import ChatSession, Video, utcnow


def test_concurrent_creates_are_all_committed(db: Database, api_key: ApiKey) -> None:
    views: list[videos_service.VideoView] = []

    def create() -> None:
        for _ in range(10):
            views.append(videos_service.create_video(db, api_key.id, {"prompt": "waves"}))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(views) == 80
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Video)) == 80
        busy = dict(s.execute(select(ChatSession.id, ChatSession.busy_video_id)).all())
    # Each video's new session has its turn taken by that video.
    assert all(busy[v.video.session_id] == v.video.id for v in views)


def test_answer_equals_a_read_back(db: Database, api_key: ApiKey) -> None:
    request = {"prompt": "p", "metadata": {"a": 1}, "language": "en", "duration_seconds": 8}
    view = videos_service.create_video(db, api_key.id, request)
    read = videos_service.get_video(db, api_key.id, view.video.id)
    links = Links("http://h", None, 60)  # type: ignore[arg-type]
    assert read.resource(links) == view.resource(links)


def test_a_failing_request_fails_alone(db: Database, api_key: ApiKey) -> None:
    table = ChatSession.__table__
    now = utcnow()

    def row(session_id: str) -> dict[str, object]:
        return {
            "id": session_id,
            "api_key_id": api_key.id,
            "credits_spent": 0,
            "created_at": now,
            "updated_at": now,
        }

    db.insert_rows([(table, row("ses_dup"))])
    errors: dict[str, BaseException] = {}
    go = threading.Barrier(6)

    def insert(session_id: str) -> None:
        go.wait()
        try:
            db.insert_rows([(table, row(session_id))])
        except Exception as exc:
            errors[session_id] = exc

    ids = ["ses_dup", *(f"ses_ok{i}" for i in range(5))]
    threads = [threading.Thread(target=insert, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(errors) == {"ses_dup"}
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ChatSession)) == 6


def test_insert_after_dispose_still_works(db: Database, api_key: ApiKey) -> None:
    videos_service.create_video(db, api_key.id, {"prompt": "one"})
    db.dispose()
    videos_service.create_video(db, api_key.id, {"prompt": "two"})
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Video)) == 2


def test_key_cache_staleness_is_bounded(
    db_url: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, plaintext = create_key(db, "cached")
    assert authenticate_cached(db, plaintext) is not None
    # Another process (its own Database) disables the key.
    other = Database(db_url)
    try:
        assert disable_key(other, key.id)
    finally:
        other.dispose()
    assert authenticate_cached(db, plaintext) is not None  # still trusted: at most 5 s
    cache = keys_module.key_cache(db)
    monkeypatch.setattr(time, "monotonic", lambda: 1e12)  # the TTL has passed
    assert cache.get(keys_module.hash_key(plaintext)) is None
    assert authenticate_cached(db, plaintext) is None


def test_disable_clears_its_own_process_cache(db: Database) -> None:
    key, plaintext = create_key(db, "mine")
    assert authenticate_cached(db, plaintext) is not None
    assert disable_key(db, key.id)
    assert authenticate_cached(db, plaintext) is None
    assert authenticate_cached(db, "ngw_unknown") is None


def test_a_forked_child_commits_on_its_own_connection(db: Database, api_key: ApiKey) -> None:
    # gunicorn --preload forks workers from a master that may have inserted:
    # a child must not reuse the parent's connection or its lock state.
    videos_service.create_video(db, api_key.id, {"prompt": "parent"})
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_create_in_child, args=(db, api_key.id))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    videos_service.create_video(db, api_key.id, {"prompt": "parent again"})
    with db.session() as s:
        prompts = set(s.scalars(select(Video.prompt)))
    assert prompts == {"parent", "child", "parent again"}


def _create_in_child(db: Database, api_key_id: str) -> None:
    videos_service.create_video(db, api_key_id, {"prompt": "child"})
