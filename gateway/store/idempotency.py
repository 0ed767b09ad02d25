"""Idempotency-Key records: replay the first response, refuse a changed request.

A request with a key first calls ``begin``: exactly one concurrent caller gets
``"new"`` (the primary key decides insert races) and must later ``complete``
or ``abandon`` the record. Records live ``TTL`` (24 h) and are scoped per API key.

A crash must not hold a key. An in-flight record names its ``owner`` process
(``host:pid:token``) and carries a short lease (``LEASE``) that the owner
renews while the request runs (``LeaseKeeper``). A record whose lease lapsed,
or whose owner is known to be dead (same host, the pid gone, or this very
pid with another token: a restart), is no longer in flight:

- if it already names its resource (``resource_id`` is written in the same
  transaction that creates the resource, see ``link``), the retry is answered
  with that resource (``"recovered"``), never a second one;
- if not, the crashed request created nothing, and the retry runs it (``"new"``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.store.db import Database, RowUpdate
from gateway.store.models import IdempotencyKey, utcnow

TTL = timedelta(hours=24)
# How long an owner vouches for its in-flight request; renewed every third of it.
LEASE = timedelta(seconds=30)

BeginKind = Literal["new", "replay", "mismatch", "in_flight", "recovered"]


@dataclass(frozen=True)
class Begin:
    """What to do with the request. ``status``/``headers``/``body`` are set on replay."""

    kind: BeginKind
    status: int | None = None
    headers: dict[str, Any] | None = None
    body: str | None = None
    resource_id: str | None = None


# -- the owning process -------------------------------------------------------

_HOST = socket.gethostname()
_identity: dict[str, str] = {}


def process_owner() -> str:
    """This process's owner name; a forked child gets a name of its own."""
    pid = os.getpid()
    if _identity.get("pid") != str(pid):
        _identity.update(pid=str(pid), name=f"{_HOST}:{pid}:{secrets.token_hex(6)}")
    return _identity["name"]


def owner_alive(owner: str | None) -> bool:
    """False when ``owner`` is known to be dead; True when alive or unknowable.

    Another host's process cannot be checked: its lease decides. A reused pid
    may look alive: the lease still bounds it.
    """
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_text, _, _token = rest.partition(":")
    if host != _HOST or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return owner == process_owner()  # this pid, another token: a previous life
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def held(row: IdempotencyKey, now: datetime) -> bool:
    """An in-flight record is held while its lease runs and its owner lives."""
    lease = row.lease_expires_at
    return lease is not None and lease > now and owner_alive(row.owner)


# -- the request being served ---------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """The keyed request this thread is serving, and the resource it may create."""

    api_key_id: str
    key: str
    owner: str
    prefix: str  # ids of the route's resource start with this ("vid_", "turn_")


_current: ContextVar[Pending | None] = ContextVar("gateway_idempotency", default=None)


@contextlib.contextmanager
def serving(pending: Pending | None) -> Iterator[None]:
    """Mark ``pending`` as the request being served while the block runs."""
    token = _current.set(pending)
    try:
        yield
    finally:
        _current.reset(token)


def _linkable(resource_id: str) -> Pending | None:
    pending = _current.get()
    if pending is None or not resource_id.startswith(pending.prefix):
        return None
    return pending


def link(session: Session, resource_id: str) -> None:
    """In the transaction creating ``resource_id``: the served record names it.

    Only the route's own resource is linked (an export queued by a message is
    not the message), and only the first one.
    """
    pending = _linkable(resource_id)
    if pending is None:
        return
    session.execute(
        update(IdempotencyKey)
        .where(*_owned(pending.api_key_id, pending.key, pending.owner))
        .where(IdempotencyKey.resource_id.is_(None))
        .values(resource_id=resource_id),
        execution_options={"synchronize_session": False},
    )


def link_updates(resource_id: str) -> list[RowUpdate]:
    """``link`` for ``Database.insert_rows`` (the accept path's group commit)."""
    pending = _linkable(resource_id)
    if pending is None:
        return []
    where = {
        "api_key_id": pending.api_key_id,
        "key": pending.key,
        "owner": pending.owner,
        "state": "in_flight",
    }
    return [RowUpdate(IdempotencyKey.__table__, where, {"resource_id": resource_id})]


# -- the record's life ----------------------------------------------------------


def begin(
    db: Database,
    api_key_id: str,
    key: str,
    method: str,
    path: str,
    request_hash: str,
    now: datetime,
    *,
    ttl: timedelta = TTL,
    owner: str | None = None,
    lease: timedelta = LEASE,
) -> Begin:
    request = IdempotencyKey(
        api_key_id=api_key_id,
        key=key,
        method=method,
        path=path,
        request_hash=request_hash,
        state="in_flight",
        created_at=now,
        expires_at=now + ttl,
        owner=owner or process_owner(),
        lease_expires_at=now + lease,
    )
    try:
        with db.write() as session:
            return _begin(session, request, now)
    except IntegrityError:
        # A concurrent request inserted the same key first (PostgreSQL; SQLite
        # serialises writers): its row decides what this one is.
        with db.write() as session:
            return _begin(session, _copy(request), now)


def _begin(session: Session, request: IdempotencyKey, now: datetime) -> Begin:
    row = session.get(IdempotencyKey, (request.api_key_id, request.key), populate_existing=True)
    if row is not None and row.expires_at <= now:
        session.delete(row)
        session.flush()
        row = None
    if row is None:
        session.add(request)
        session.flush()
        return Begin("new")
    if (row.method, row.path, row.request_hash) != (
        request.method,
        request.path,
        request.request_hash,
    ):
        return Begin("mismatch", resource_id=row.resource_id)
    if row.state == "in_flight":
        if held(row, now):
            return Begin("in_flight", resource_id=row.resource_id)
        # Its owner crashed or stalled: this request takes the record over.
        row.owner, row.lease_expires_at = request.owner, request.lease_expires_at
        if row.resource_id is not None:
            return Begin("recovered", resource_id=row.resource_id)
        return Begin("new")
    return Begin(
        "replay",
        status=row.response_status,
        headers=row.response_headers,
        body=row.response_body,
        resource_id=row.resource_id,
    )


def _copy(request: IdempotencyKey) -> IdempotencyKey:
    # The failed insert left the first instance attached to a dead session.
    columns = IdempotencyKey.__table__.columns.keys()
    return IdempotencyKey(**{name: getattr(request, name) for name in columns})


def complete(
    db: Database,
    api_key_id: str,
    key: str,
    status: int,
    headers: dict[str, Any] | None,
    body: str | None,
    resource_id: str | None,
    *,
    owner: str | None = None,
) -> bool:
    """Store the response to replay; False if the record is gone, done, or taken over."""
    values: dict[str, Any] = {
        "state": "done",
        "response_status": status,
        "response_headers": headers,
        "response_body": body,
        "owner": None,
        "lease_expires_at": None,
    }
    if resource_id is not None:
        values["resource_id"] = resource_id
    stmt = (
        update(IdempotencyKey)
        .where(*_owned(api_key_id, key, owner or process_owner()))
        .values(**values)
    )
    with db.write() as session:
        return session.execute(stmt).rowcount > 0


def abandon(db: Database, api_key_id: str, key: str, *, owner: str | None = None) -> bool:
    """Forget an in-flight record: the request failed before creating anything.

    A record that already names its resource is kept but let go (no owner, no
    lease): a retry is then answered with that resource, never a second one.
    """
    owned = _owned(api_key_id, key, owner or process_owner())
    with db.write() as session:
        gone = session.execute(
            delete(IdempotencyKey).where(*owned).where(IdempotencyKey.resource_id.is_(None))
        ).rowcount
        let_go = session.execute(
            update(IdempotencyKey).where(*owned).values(owner=None, lease_expires_at=None)
        ).rowcount
        return gone + let_go > 0


def renew(db: Database, owner: str, now: datetime, lease: timedelta = LEASE) -> int:
    """Extend the lease of every in-flight record ``owner`` holds; returns how many."""
    stmt = (
        update(IdempotencyKey)
        .where(IdempotencyKey.owner == owner, IdempotencyKey.state == "in_flight")
        .values(lease_expires_at=now + lease)
    )
    with db.write() as session:
        return session.execute(stmt).rowcount


def purge_expired(db: Database, now: datetime) -> int:
    """Delete records past their expiry; returns how many."""
    with db.write() as session:
        return session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now)
        ).rowcount


def _owned(api_key_id: str, key: str, owner: str) -> tuple[Any, ...]:
    return (
        IdempotencyKey.api_key_id == api_key_id,
        IdempotencyKey.key == key,
        IdempotencyKey.state == "in_flight",
        IdempotencyKey.owner == owner,
    )


class LeaseKeeper:
    """Renews this process's in-flight leases while it serves keyed requests.

    One statement every ``LEASE / 3`` while any keyed request runs, none when
    idle. A daemon thread: it dies with the process, and so do the leases.
    """

    def __init__(self, db: Database, lease: timedelta = LEASE) -> None:
        self.db, self.lease = db, lease
        self._lock = threading.Lock()
        self._active = 0
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._pid = 0

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """While the block runs, this process's leases are renewed."""
        with self._lock:
            self._active += 1
            self._ensure_thread()
            self._wake.notify()
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1

    def _ensure_thread(self) -> None:
        # After a fork the parent's thread does not exist in the child.
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="idem-leases", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        every = self.lease.total_seconds() / 3
        while True:
            with self._lock:
                while self._active == 0:
                    self._wake.wait()
            started = time.monotonic()
            # A failed renewal is retried next round; the lease has slack for it.
            with contextlib.suppress(Exception):
                renew(self.db, process_owner(), utcnow(), self.lease)
            time.sleep(max(every - (time.monotonic() - started), 0.05))


_keepers: weakref.WeakKeyDictionary[Database, LeaseKeeper] = weakref.WeakKeyDictionary()
_keepers_lock = threading.Lock()


def lease_keeper(db: Database) -> LeaseKeeper:
    """The process's ``LeaseKeeper`` for ``db``."""
    with _keepers_lock:
        keeper = _keepers.get(db)
        if keeper is None:
            keeper = _keepers[db] = LeaseKeeper(db)
        return keeper
