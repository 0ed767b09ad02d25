"""Which media the upstream accepts (protocol section 5), decided by file name. No I/O.

Checked when media reaches the gateway, so a wrong type or size fails with a
problem at once instead of as a failed video minutes later.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from gateway.upstream.errors import ACCEPTED_FORMATS

MEDIA_KINDS: dict[str, str] = {
    **dict.fromkeys(("mp4", "mov", "avi", "webm", "mkv"), "video"),
    **dict.fromkeys(("jpg", "png", "gif", "webp"), "image"),
    **dict.fromkeys(("mp3", "wav", "m4a", "aac"), "audio"),
}
ALIASES = {"jpeg": "jpg"}
CONTENT_TYPES = {
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "avi": "video/x-msvideo",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
}
assert set(MEDIA_KINDS) == set(ACCEPTED_FORMATS) == set(CONTENT_TYPES)


class MediaRejected(ValueError):
    """Media the upstream would refuse; ``code`` is the public error code."""

    def __init__(self, code: str, message: str, **extra: object) -> None:
        super().__init__(message)
        self.code, self.message, self.extra = code, message, extra


def extension(name: str) -> str:
    ext = PurePosixPath(name).suffix.lower().lstrip(".")
    return ALIASES.get(ext, ext)


def media_format(name: str) -> str:
    """The accepted format of a file name, or ``MediaRejected("unsupported_media")``."""
    ext = extension(name)
    if ext not in MEDIA_KINDS:
        raise unsupported(name)
    return ext


def unsupported(name: str) -> MediaRejected:
    shown = extension(name) or "(none)"
    return MediaRejected(
        "unsupported_media",
        f"{shown!r} files are not accepted; accepted formats: {', '.join(ACCEPTED_FORMATS)}.",
        accepted_formats=list(ACCEPTED_FORMATS),
    )


def too_large(limit: int) -> MediaRejected:
    return MediaRejected(
        "media_too_large",
        f"The file is larger than {limit // (1024 * 1024)} MB; compress or trim it.",
        max_bytes=limit,
    )


def url_name(url: str) -> str:
    """The file name a URL's path ends with ("" when it has none)."""
    return PurePosixPath(unquote(urlsplit(url).path)).name


def check_url(url: str) -> None:
    """Refuse a media URL whose path names a format the upstream does not accept.

    A URL without an extension passes: its type is only known once fetched.
    """
    name = url_name(url)
    if extension(name):
        media_format(name)
