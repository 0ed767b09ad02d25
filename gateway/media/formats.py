"""Which media the upstream accepts (protocol section 5): by file name, then by content. No I/O.

Checked when media reaches the gateway, so a wrong type or size fails with a
problem at once instead of as a failed video minutes later. The name is only
a claim: an upload's first bytes (``sniff``) decide what it really is, so an
executable named ``.png`` is refused and a JPEG named ``.png`` is stored as
the JPEG it is.
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


# How many leading bytes ``sniff`` needs.
SNIFF_BYTES = 64
# QuickTime files may open with one of these atoms instead of ``ftyp``.
_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def sniff(head: bytes) -> tuple[str, ...]:
    """The accepted formats ``head`` (a file's first bytes) may be, most likely first.

    Some formats share a container (MP4, MOV and M4A are all ISO media files;
    WebM is Matroska), so a family is returned and the file's name picks within it.
    An empty tuple: the bytes are no format the upstream accepts.
    """
    return _video(head) or _image(head) or _audio(head)


def _video(head: bytes) -> tuple[str, ...]:
    box = head[4:8]
    if box == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return ("mov", "mp4", "m4a")
        if brand in (b"M4A ", b"M4B "):
            return ("m4a", "mp4", "mov")
        return ("mp4", "mov", "m4a")
    if box in _QUICKTIME_ATOMS:
        return ("mov", "mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska, WebM
        return ("webm", "mkv") if b"webm" in head else ("mkv", "webm")
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return ("avi",)
    return ()


def _image(head: bytes) -> tuple[str, ...]:
    if head.startswith(b"\xff\xd8\xff"):
        return ("jpg",)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ("png",)
    if head.startswith((b"GIF87a", b"GIF89a")):
        return ("gif",)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return ("webp",)
    return ()


def _audio(head: bytes) -> tuple[str, ...]:
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return ("wav",)
    if head.startswith(b"ID3"):  # a tag, in front of MP3 or ADTS frames
        return ("mp3", "aac")
    if head.startswith(b"ADIF"):
        return ("aac",)
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # A frame sync: ADTS (AAC) has layer bits 00, MPEG audio (MP3) does not.
        return ("aac",) if head[1] & 0x06 == 0 else ("mp3",)
    return ()


def content_format(claimed: str, head: bytes) -> str:
    """The format a file really is: ``claimed`` if its bytes agree, else what they show.

    ``MediaRejected("unsupported_media")`` when the bytes are no accepted format.
    """
    candidates = sniff(head)
    if not candidates:
        raise unrecognised(claimed)
    return claimed if claimed in candidates else candidates[0]


def unrecognised(claimed: str) -> MediaRejected:
    return MediaRejected(
        "unsupported_media",
        f"The file is named as {claimed!r} but its content is not a media format we accept "
        f"(judged by its first bytes); accepted formats: {', '.join(ACCEPTED_FORMATS)}.",
        accepted_formats=list(ACCEPTED_FORMATS),
    )


def empty() -> MediaRejected:
    return MediaRejected("media_empty", "The file is empty (0 bytes).")
