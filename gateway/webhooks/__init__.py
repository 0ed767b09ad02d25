"""Signed webhook delivery from the outbox, after the Standard Webhooks spec.

Modules: ``signing`` (headers and secrets), ``policy`` (the retry schedule
and outcome rules, no I/O), ``delivery`` (the ``Dispatcher``: claim, sign,
POST, record the attempt, retry), ``progress`` (which events a video's filter
selects; ``video.progress`` throttling). Subscriptions themselves are in
``gateway.store.subscriptions`` and ``gateway.subscriptions_service``; which
receiver URLs may be called is ``gateway.net.guard``'s rule, the same for
every outbound URL.

Delivery failures are outcomes recorded on the delivery row, never raised.
"""

from gateway.webhooks.delivery import Dispatcher, canonical_body, default_backoff
from gateway.webhooks.progress import ProgressThrottle, should_emit, unknown_filter_values
from gateway.webhooks.signing import new_secret, sign

__all__ = [
    "Dispatcher",
    "ProgressThrottle",
    "canonical_body",
    "default_backoff",
    "new_secret",
    "should_emit",
    "sign",
    "unknown_filter_values",
]
