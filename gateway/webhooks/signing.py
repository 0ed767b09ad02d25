"""Standard Webhooks signatures (https://www.standardwebhooks.com).

A receiver verifies our requests with any off-the-shelf Standard Webhooks
library: the signature is ``v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>``
keyed with the base64-decoded part of the ``whsec_...`` secret. We sign through
the reference implementation so the two sides cannot drift apart.

During a secret rotation a request carries one signature per valid secret,
space-separated (``v1,<new> v1,<old>``): receivers holding either secret
verify it, which is how the spec lets them switch without downtime.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

import gateway

SECRET_PREFIX = "whsec_"
# The spec asks for 24 to 64 random bytes; 32 matches the HMAC-SHA256 block strength.
_SECRET_BYTES = 32

USER_AGENT = f"nemo-gateway-webhooks/{gateway.__version__}"


def new_secret() -> str:
    """A fresh ``whsec_`` secret for one API key."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one attempt."""
    # The reference signer floors an aware datetime back to the same integer second.
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    return Webhook(secret).sign(msg_id=msg_id, timestamp=when, data=body.decode("utf-8"))


def sign(secret: str | Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """All headers of one webhook request carrying ``body``.

    ``secret`` may be several secrets (current first): one signature each.
    ``msg_id`` stays the same on every retry so receivers can deduplicate;
    ``timestamp`` is the time of this attempt (receivers reject stale ones).
    """
    secrets_ = [secret] if isinstance(secret, str) else list(secret)
    signatures = " ".join(signature(s, msg_id, timestamp, body) for s in secrets_)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
