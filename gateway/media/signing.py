"""Signed, expiring links to a video's content, usable without the API key.

The signature covers the path and the expiry, so a link cannot be moved to
another video or extended. Links are minted fresh on every read.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

# Epoch seconds fit in 12 digits for the next 30,000 years; a longer value is
# refused before int() sees it (Python caps int parsing at 4,300 digits).
MAX_EXPIRES_DIGITS = 12


class UrlSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, path: str, expires: int) -> str:
        msg = f"{path}\n{expires}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def sign(self, path: str, ttl: int, now: float | None = None) -> tuple[str, int]:
        """Return (path with query, expiry epoch seconds)."""
        expires = int((now if now is not None else time.time()) + ttl)
        query = urlencode({"expires": expires, "signature": self._mac(path, expires)})
        return f"{path}?{query}", expires

    def verify(self, path: str, expires: str | None, signature: str | None) -> bool:
        """True for an unexpired link signed by us; any malformed value is simply False."""
        if not expires or not signature or not _ascii_digits(expires, MAX_EXPIRES_DIGITS):
            return False
        if int(expires) < time.time():
            return False
        # compare_digest refuses non-ASCII str, and no hex digest contains any.
        if not signature.isascii():
            return False
        return hmac.compare_digest(self._mac(path, int(expires)), signature)


def _ascii_digits(value: str, max_length: int) -> bool:
    # str.isdigit() alone accepts '²' and other Unicode digits int() cannot read.
    return value.isascii() and value.isdigit() and len(value) <= max_length
