"""Outbound requests to URLs that callers supply: the SSRF guard and a safe fetch.

Modules: ``guard`` (the one rule for which URLs may be called, ``UrlGuard``;
pinning a connection to the checked address), ``fetch`` (download to a file,
redirects followed by hand and re-checked, size capped).

Errors: ``UnsafeUrl`` (a ``ValueError``: the guard refused the URL;
``permanent`` unless the host merely did not resolve), ``FetchError`` (the
download failed) and its subclass ``TooLarge``.
"""

from gateway.net.fetch import Fetched, FetchError, TooLarge, fetch_url_to_file
from gateway.net.guard import STRICT, UnsafeUrl, UrlGuard, blocked_reason, classify, pin

__all__ = [
    "STRICT",
    "FetchError",
    "Fetched",
    "TooLarge",
    "UnsafeUrl",
    "UrlGuard",
    "blocked_reason",
    "classify",
    "fetch_url_to_file",
    "pin",
]
