"""Uploads: media received by the gateway before any of it reaches the upstream.

A multipart body is streamed to disk (``gateway.media.multipart``); a URL is
fetched through the SSRF guard (``gateway.net.fetch_url_to_file``). Either
way the format (by name, then by the first bytes) and size are checked here,
so ``upload_ids`` given to a video or a message name files the upstream will
accept. The engine's media phase
then streams each file into the chat session.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from sqlalchemy import select

from gateway.config import GatewayConfig
from gateway.media import formats
from gateway.media.multipart import Received, receive_file
from gateway.net import FetchError, TooLarge, UnsafeUrl, fetch_url_to_file
from gateway.store.db import Database
from gateway.store.ids import new_id
from gateway.store.models import Upload, utcnow

FETCH_TIMEOUT = 30.0
_TYPE_FORMATS = {ctype: fmt for fmt, ctype in formats.CONTENT_TYPES.items()}


class FetchFailed(Exception):
    """The media URL could not be downloaded (its status, a network error)."""


class UnsafeMediaUrl(ValueError):
    """The guard refused the media URL (a private address, a bad scheme)."""


def uploads_dir(config: GatewayConfig) -> Path:
    return (config.data_dir / "uploads").resolve()


def from_multipart(
    db: Database,
    config: GatewayConfig,
    api_key_id: str,
    read: Callable[[int], bytes],
    boundary: bytes,
) -> Upload:
    """Stream the form's one file to disk and record it."""
    folder = uploads_dir(config)
    received = receive_file(read, boundary, folder, config.max_upload_bytes)
    return _record(db, api_key_id, received, folder)


def from_url(db: Database, config: GatewayConfig, api_key_id: str, url: str) -> Upload:
    """Fetch ``url`` (format checked on its name first) and record it."""
    formats.check_url(url)
    folder = uploads_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".fetch-{new_id('tmp')}.part"
    try:
        size, sha256, ctype, name = fetch_url_to_file(
            url,
            temp,
            guard=config.url_guard,
            max_bytes=config.max_upload_bytes,
            timeout=FETCH_TIMEOUT,
        )
        fmt = _format_of(name or formats.url_name(url), ctype)
    except TooLarge as exc:
        raise formats.too_large(config.max_upload_bytes) from exc
    except UnsafeUrl as exc:
        raise UnsafeMediaUrl(str(exc)) from exc
    except FetchError as exc:
        raise FetchFailed(str(exc)) from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    filename = name or f"media.{fmt}"
    return _record(db, api_key_id, Received(filename, ctype, fmt, size, sha256, temp), folder)


def _format_of(name: str, content_type: str) -> str:
    """By the file name's extension, else by the Content-Type the server gave."""
    if formats.extension(name):
        return formats.media_format(name)
    fmt = _TYPE_FORMATS.get(content_type.split(";")[0].strip().lower())
    if fmt is None:
        raise formats.unsupported(name or "download")
    return fmt


def _record(db: Database, api_key_id: str, got: Received, folder: Path) -> Upload:
    try:
        fmt = _real_format(got)
    except formats.MediaRejected:
        got.path.unlink(missing_ok=True)
        raise
    upload_id = new_id("upl")
    final = folder / f"{upload_id}.{fmt}"
    os.replace(got.path, final)
    with db.write() as session:
        upload = Upload(
            id=upload_id,
            api_key_id=api_key_id,
            filename=_named_as(got.filename, fmt) if got.filename else final.name,
            # Ours, from the bytes: the client's or server's Content-Type is only a claim.
            content_type=formats.CONTENT_TYPES[fmt],
            size_bytes=got.size,
            sha256=got.sha256,
            path=str(final),
            created_at=utcnow(),
        )
        session.add(upload)
    return upload


def _named_as(filename: str, fmt: str) -> str:
    """``filename`` with the extension of its real format: the upstream goes by the name."""
    if formats.extension(filename) == fmt:
        return filename
    return f"{PurePosixPath(filename).stem}.{fmt}"


def _real_format(got: Received) -> str:
    """The received file's format by its first bytes; refused when empty or unrecognised."""
    if got.size == 0:
        raise formats.empty()
    with got.path.open("rb") as handle:
        head = handle.read(formats.SNIFF_BYTES)
    return formats.content_format(got.format, head)


def find(db: Database, api_key_id: str, ids: Sequence[str]) -> list[Upload]:
    """This key's uploads among ``ids``, in the order given."""
    if not ids:
        return []
    with db.session() as session:
        rows = session.scalars(
            select(Upload).where(Upload.api_key_id == api_key_id, Upload.id.in_(list(ids)))
        ).all()
    by_id = {row.id: row for row in rows}
    return [by_id[i] for i in ids if i in by_id]


def missing(db: Database, api_key_id: str, ids: Sequence[str]) -> list[str]:
    """The ids in ``ids`` that are not uploads of this key."""
    found = {u.id for u in find(db, api_key_id, ids)}
    return [i for i in ids if i not in found]
