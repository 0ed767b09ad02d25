"""Signed webhook delivery from the outbox, after the Standard Webhooks spec.

Modules: ``signing`` (headers and secrets), ``ssrf`` (the SSRF guard of
``gateway.net.guard``, under its older name), ``policy`` (the retry schedule
and outcome rules, no I/O), ``delivery`` (the ``Dispatcher``: claim, sign,
POST, record the attempt, retry), ``progress`` (which events a video's filter
selects; ``video.progress`` throttling). Subscriptions themselves are in
``gateway.store.subscriptions`` and ``gateway.subscriptions_service``.

Errors: ``UnsafeWebhookUrl`` (a ``ValueError``; ``permanent`` when retrying
cannot help). Delivery failures are outcomes recorded on the delivery row,
never raised.
"""

from gateway.webhooks.delivery import Dispatcher, canonical_body, default_backoff
from gateway.webhooks.progress import ProgressThrottle, should_emit, unknown_filter_values
from gateway.webhooks.signing import new_secret, sign
from gateway.webhooks.ssrf import UnsafeWebhookUrl, check_url, validate_url_syntax

__all__ = [
    "Dispatcher",
    "ProgressThrottle",
    "UnsafeWebhookUrl",
    "canonical_body",
    "check_url",
    "default_backoff",
    "new_secret",
    "should_emit",
    "sign",
    "unknown_filter_values",
    "validate_url_syntax",
]
