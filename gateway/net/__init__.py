"""Outbound requests to URLs that callers supply: the SSRF guard and a safe fetch.

Modules: ``guard`` (which URLs may be called; pinning a connection to the
checked address), ``fetch`` (download to a file, redirects followed by hand
and re-checked, size capped).

Errors: ``UnsafeUrl`` (a ``ValueError``: the guard refused the URL;
``permanent`` when retrying cannot help), ``FetchError`` (the download failed)
and its subclass ``TooLarge``.
"""

from gateway.net.fetch import Fetched, FetchError, TooLarge, fetch_url_to_file
from gateway.net.guard import (
    UnsafeUrl,
    blocked_reason,
    check_url,
    literal_refusal,
    pin,
    resolve_url,
    validate_url_syntax,
)

__all__ = [
    "FetchError",
    "Fetched",
    "TooLarge",
    "UnsafeUrl",
    "blocked_reason",
    "check_url",
    "fetch_url_to_file",
    "literal_refusal",
    "pin",
    "resolve_url",
    "validate_url_syntax",
]
