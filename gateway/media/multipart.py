"""Receive one file from a ``multipart/form-data`` body, streamed to disk. No Flask.

The body is read in 64 KiB chunks and each chunk of the file part is written
and hashed as it arrives, so a 500 MB upload costs a few chunks of memory. The
file's format is checked on its part headers, before any of its bytes are
read, and its size is counted while it streams (a body without a
Content-Length, or lying about it, still stops at the limit).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import (
    Data,
    Epilogue,
    Event,
    Field,
    File,
    MultipartDecoder,
    NeedData,
)

from gateway.media.formats import media_format, too_large

CHUNK = 64 * 1024
# Non-file fields are small; the decoder's buffer never holds more than this.
MAX_BUFFER = 1024 * 1024
MAX_PARTS = 16


class MultipartError(ValueError):
    """The body is not a multipart form with exactly one file."""


@dataclass(frozen=True)
class Received:
    filename: str
    content_type: str
    format: str
    size: int
    sha256: str
    path: Path


class _FileSink:
    """The one file part: written to a temporary name, counted and hashed."""

    def __init__(self, part: File, folder: Path, max_bytes: int) -> None:
        self.filename = os.path.basename(part.filename or "")
        self.format = media_format(self.filename)  # before any byte of it is read
        self.content_type = part.headers.get("Content-Type", "application/octet-stream")
        self.max_bytes = max_bytes
        self.path = folder / f".upload-{uuid.uuid4().hex}.part"
        self.handle: IO[bytes] = self.path.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0
        self.done = False

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise too_large(self.max_bytes)
        self.handle.write(data)
        self.digest.update(data)

    def received(self) -> Received:
        return Received(
            self.filename,
            self.content_type,
            self.format,
            self.size,
            self.digest.hexdigest(),
            self.path,
        )


def receive_file(
    read: Callable[[int], bytes], boundary: bytes, folder: Path, max_bytes: int
) -> Received:
    """Stream the body's single file part into ``folder``; the caller renames it.

    Raises ``MediaRejected`` (format, size) or ``MultipartError``; the partial
    file is removed on any failure.
    """
    folder.mkdir(parents=True, exist_ok=True)
    receiver = _Receiver(boundary, folder, max_bytes)
    try:
        return receiver.run(read)
    except BaseException:
        receiver.discard()
        raise


class _Receiver:
    def __init__(self, boundary: bytes, folder: Path, max_bytes: int) -> None:
        self.decoder = MultipartDecoder(boundary, MAX_BUFFER, max_parts=MAX_PARTS)
        self.folder, self.max_bytes = folder, max_bytes
        self.sink: _FileSink | None = None
        self.in_file = False
        self.complete = False  # the closing boundary was seen

    def run(self, read: Callable[[int], bytes]) -> Received:
        while True:
            chunk = read(CHUNK)
            self._feed(chunk or None)
            self._drain()
            if not chunk:
                break
        if not self.complete:
            raise MultipartError("the body ended before the form's closing boundary")
        if self.sink is None:
            raise MultipartError("the form holds no file part")
        self.sink.handle.close()
        return self.sink.received()

    def _feed(self, chunk: bytes | None) -> None:
        try:
            self.decoder.receive_data(chunk)
        except RequestEntityTooLarge as exc:  # the decoder's buffer, not the file's size
            raise MultipartError(
                f"the form does not parse within {MAX_BUFFER // 1024} KiB: a wrong boundary, "
                "or a part's headers or a field that long"
            ) from exc

    def _next(self) -> Event:
        # Werkzeug raises a bare ValueError for a body that does not parse (a
        # wrong boundary, a truncated part): that is the client's error.
        try:
            return self.decoder.next_event()
        except RequestEntityTooLarge as exc:
            raise MultipartError(f"a form has at most {MAX_PARTS} parts") from exc
        except ValueError as exc:
            raise MultipartError("the body is not a multipart form with this boundary") from exc

    def _drain(self) -> None:
        event = self._next()
        while not isinstance(event, Epilogue | NeedData):
            if isinstance(event, File):
                if self.sink is not None:
                    raise MultipartError("send one file per upload")
                self.sink = _FileSink(event, self.folder, self.max_bytes)
            elif isinstance(event, Data) and self.in_file and self.sink is not None:
                self.sink.write(event.data)
            if isinstance(event, Field | File):
                self.in_file = isinstance(event, File)
            event = self._next()
        self.complete = self.complete or isinstance(event, Epilogue)

    def discard(self) -> None:
        if self.sink is not None:
            self.sink.handle.close()
            self.sink.path.unlink(missing_ok=True)
