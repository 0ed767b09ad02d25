from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.store import (
    ApiKey,
    Database,
    InvalidCursor,
    create_key,
    get_video,
    insert_video,
    list_videos,
    request_cancel,
)

BASE = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _add(db: Database, key: ApiKey, created_at: datetime, **fields) -> str:
    with db.write() as session:
        return insert_video(
            session, api_key_id=key.id, prompt="p", params={}, created_at=created_at, **fields
        ).id


def _all_pages(db: Database, key: ApiKey, limit: int, between=None, **filters) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        with db.session() as session:
            page = list_videos(session, key.id, limit=limit, cursor=cursor, **filters)
        seen += [v.id for v in page.items]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor
        if between:
            between()


def test_insert_defaults_and_round_trip(db: Database, api_key: ApiKey) -> None:
    with db.write() as session:
        video = insert_video(
            session,
            api_key_id=api_key.id,
            prompt="a cat",
            params={"duration_seconds": 8, "media_urls": ["https://x/y.png"]},
            meta={"zap": "1"},
        )
    assert video.id.startswith("vid_")
    with db.session() as session:
        got = get_video(session, api_key.id, video.id)
    assert got is not None
    assert (got.status, got.kind, got.progress, got.cancel_requested) == (
        "queued",
        "generate",
        0,
        False,
    )
    assert got.params["media_urls"] == ["https://x/y.png"]
    assert got.meta == {"zap": "1"}
    assert got.created_at.tzinfo is not None and got.created_at.utcoffset() == timedelta(0)
    assert got.due_at is not None


def test_videos_are_scoped_by_key(db: Database, api_key: ApiKey) -> None:
    other, _ = create_key(db, "other")
    mine = _add(db, api_key, BASE)
    _add(db, other, BASE)
    with db.session() as session:
        assert get_video(session, other.id, mine) is None
        assert get_video(session, api_key.id, mine) is not None
        assert [v.id for v in list_videos(session, api_key.id).items] == [mine]


def test_paging_newest_first_stable_under_inserts(db: Database, api_key: ApiKey) -> None:
    # Ties on created_at are broken by id: three videos share each timestamp.
    originals = [_add(db, api_key, BASE + timedelta(seconds=i // 3)) for i in range(23)]
    later = iter(range(100))

    def insert_newer() -> None:
        _add(db, api_key, BASE + timedelta(hours=1, seconds=next(later)))

    seen = _all_pages(db, api_key, limit=5, between=insert_newer)
    assert seen == sorted(originals, key=lambda i: (originals.index(i) // 3, i), reverse=True)
    assert len(seen) == len(set(seen)) == 23


def test_paging_filters_by_status(db: Database, api_key: ApiKey) -> None:
    done = [_add(db, api_key, BASE + timedelta(seconds=i), status="succeeded") for i in range(4)]
    for i in range(4):
        _add(db, api_key, BASE + timedelta(seconds=10 + i))
    assert _all_pages(db, api_key, limit=3, status="succeeded") == done[::-1]
    assert len(_all_pages(db, api_key, limit=3, status=["queued", "succeeded"])) == 8


def test_last_page_has_no_cursor(db: Database, api_key: ApiKey) -> None:
    for i in range(4):
        _add(db, api_key, BASE + timedelta(seconds=i))
    with db.session() as session:
        page = list_videos(session, api_key.id, limit=4)
    assert len(page.items) == 4 and page.next_cursor is None


@pytest.mark.parametrize("cursor", ["!!!", "bm90LWEtY3Vyc29y", "MjAyNS0wMS0wMXx2aWQ"])
def test_bad_cursor(db: Database, api_key: ApiKey, cursor: str) -> None:
    with db.session() as session, pytest.raises(InvalidCursor):
        list_videos(session, api_key.id, cursor=cursor)


def test_request_cancel(db: Database, api_key: ApiKey) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    queued = _add(db, api_key, BASE, due_at=later)
    finished = _add(db, api_key, BASE, status="succeeded")
    with db.session() as session:
        video = request_cancel(session, api_key.id, queued)
        assert video is not None and video.cancel_requested
        assert video.due_at is not None and video.due_at < later  # due now
        done = request_cancel(session, api_key.id, finished)
        assert done is not None and not done.cancel_requested
        assert request_cancel(session, "key_other", queued) is None
