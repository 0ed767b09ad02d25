"""Upload parsing: formats, size limits, and streaming multipart files to disk.

Files are counted while they stream, so a body without a Content-Length (or
lying about it) still stops at the limit instead of filling the disk.
"""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import unquote, urlparse

from gateway.sandbox.envelope import FILE_TOO_LARGE, UNSUPPORTED_FILE, ApiError

MEDIA_TYPES = {
    **dict.fromkeys(("mp4", "mov", "avi", "webm", "mkv"), "video"),
    **dict.fromkeys(("jpg", "png", "gif", "webp"), "image"),
    **dict.fromkeys(("mp3", "wav", "m4a", "aac"), "audio"),
}
ALIASES = {"jpeg": "jpg"}


def media_format(name: str) -> str:
    """The accepted format of a file name, or a 4001 error listing the accepted ones."""
    ext = PurePosixPath(name).suffix.lower().lstrip(".")
    ext = ALIASES.get(ext, ext)
    if ext not in MEDIA_TYPES:
        raise ApiError(
            UNSUPPORTED_FILE,
            f"unsupported file type {ext or '(none)'!r} for {name!r}; "
            f"accepted: {', '.join(MEDIA_TYPES)}",
            status=400,
            data={"accepted_formats": list(MEDIA_TYPES)},
        )
    return ext


def too_large(limit: int) -> ApiError:
    return ApiError(
        FILE_TOO_LARGE,
        f"file too large: the limit is {limit // (1024 * 1024)} MB per upload; compress or trim it",
        status=413,
        data={"max_bytes": limit},
    )


@dataclass
class Budget:
    """Bytes left for one request, shared by all its files."""

    limit: int
    used: int = 0

    def spend(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise too_large(self.limit)


@dataclass
class SpoolFactory:
    """A werkzeug ``stream_factory`` writing each file part straight into ``folder``."""

    folder: Path
    budget: Budget
    spooled: list[Path] = field(default_factory=list)

    def __call__(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        media_format(filename or "")  # reject a wrong type before reading its bytes
        self.folder.mkdir(parents=True, exist_ok=True)
        # Kept open past this call on purpose: werkzeug writes the part into it.
        raw = tempfile.NamedTemporaryFile(dir=self.folder, prefix=".part-", delete=False)  # noqa: SIM115
        self.spooled.append(Path(raw.name))
        return _Counting(raw, self.budget)  # type: ignore[return-value]

    def discard(self) -> None:
        for path in self.spooled:
            path.unlink(missing_ok=True)


class _Counting:
    def __init__(self, raw: IO[bytes], budget: Budget) -> None:
        self._raw = raw
        self._budget = budget
        self.name = raw.name

    def write(self, data: bytes) -> int:
        self._budget.spend(len(data))
        return self._raw.write(data)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._raw, attr)


def remote_item(url: str) -> dict[str, Any]:
    """A media item for a URL: never fetched, its name and format come from the path."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ApiError(400, f"not an http(s) URL: {url!r}", status=400)
    name = PurePosixPath(unquote(parsed.path)).name or parsed.netloc
    fmt = media_format(name)
    return new_item(name, fmt, url=url, source="url")


def new_item(name: str, fmt: str, *, url: str, source: str, size: int | None = None) -> dict:
    item = {
        "id": "media_" + secrets.token_hex(8),
        "name": name,
        "type": MEDIA_TYPES[fmt],
        "format": fmt,
        "url": url,
        "source": source,
    }
    if size is not None:
        item["size"] = size
    return item
