"""The SSRF guard, under its older name: it lives in ``gateway.net.guard`` now.

Webhook receivers and media fetches share one guard; this module keeps the
webhook-side imports (and ``UnsafeWebhookUrl``) working.
"""

from gateway.net.guard import (
    MAX_URL_LENGTH,
    IPAddress,
    PinnedRequest,
    ResolvedUrl,
    UnsafeUrl,
    blocked_reason,
    check_url,
    literal_address,
    literal_refusal,
    pin,
    resolve_url,
    validate_url_syntax,
)

UnsafeWebhookUrl = UnsafeUrl

__all__ = [
    "MAX_URL_LENGTH",
    "IPAddress",
    "PinnedRequest",
    "ResolvedUrl",
    "UnsafeUrl",
    "UnsafeWebhookUrl",
    "blocked_reason",
    "check_url",
    "literal_address",
    "literal_refusal",
    "pin",
    "resolve_url",
    "validate_url_syntax",
]
