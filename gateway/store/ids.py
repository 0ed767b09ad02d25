"""Public identifiers: ``<prefix>_<20 chars>`` that sort by creation time.

The first 10 characters encode a 48-bit millisecond timestamp, the last 10
carry 50 random bits, both in lowercase Crockford base32 (whose alphabet is in
ASCII order, so string order is time order). Within one millisecond the random
part is incremented rather than redrawn, so ids from one process stay strictly
increasing, as ULIDs do.
"""

from __future__ import annotations

import secrets
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_TIME_CHARS = 10
_RANDOM_CHARS = 10
_RANDOM_BITS = 5 * _RANDOM_CHARS

_lock = threading.Lock()
_last_ms = -1
_last_random = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def _next_parts(now_ms: int) -> tuple[int, int]:
    global _last_ms, _last_random
    with _lock:
        if now_ms > _last_ms:
            # Leave headroom so the counter below rarely overflows.
            _last_ms, _last_random = now_ms, secrets.randbits(_RANDOM_BITS - 1)
        else:
            # Same (or a backwards-stepping) clock: keep the order by counting up.
            _last_random += 1
            if _last_random >= 1 << _RANDOM_BITS:
                _last_ms, _last_random = _last_ms + 1, secrets.randbits(_RANDOM_BITS - 1)
        return _last_ms, _last_random


def new_id(prefix: str) -> str:
    """Return ``prefix_`` followed by 20 time-sortable characters."""
    ms, rand = _next_parts(time.time_ns() // 1_000_000)
    return f"{prefix}_{_encode(ms, _TIME_CHARS)}{_encode(rand, _RANDOM_CHARS)}"
