"""Public identifiers: ``<prefix>_<20 chars>`` that sort by creation time.

The first 10 characters encode a 48-bit millisecond timestamp, the last 10
carry 50 random bits, both in lowercase Crockford base32 (whose alphabet is in
ASCII order, so string order is time order). Within one millisecond the random
part is incremented rather than redrawn, so ids from one process stay strictly
increasing, as ULIDs do.
"""

from __future__ import annotations

import base64
import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_TIME_CHARS = 10
_RANDOM_CHARS = 10
_RANDOM_BITS = 5 * _RANDOM_CHARS

_lock = threading.Lock()
_last_ms = -1
_last_random = 0
# Random bytes from the OS, drawn 4 KiB at a time: one getrandom() per ~580
# new milliseconds instead of one per id (a syscall under the lock, which
# released the GIL and made concurrent request threads queue on the lock).
_POOL_BYTES = 4096
_pool = b""
_pool_pos = 0


def _after_fork_in_child() -> None:
    """A forked child must not reuse its parent's random bytes or counter."""
    global _lock, _pool, _pool_pos, _last_ms
    _lock = threading.Lock()
    _pool, _pool_pos, _last_ms = b"", 0, -1


os.register_at_fork(after_in_child=_after_fork_in_child)


def _random_bits(bits: int) -> int:
    """``bits`` (<= 56) random bits from the OS; call with ``_lock`` held."""
    global _pool, _pool_pos
    if _pool_pos + 7 > len(_pool):
        _pool, _pool_pos = os.urandom(_POOL_BYTES), 0
    value = int.from_bytes(_pool[_pool_pos : _pool_pos + 7], "big")
    _pool_pos += 7
    return value >> (56 - bits)


# base32hex digits have the same values as Crockford's: translate one into the other.
_FROM_BASE32HEX = bytes.maketrans(b"0123456789ABCDEFGHIJKLMNOPQRSTUV", _ALPHABET.encode())


def _encode(value: int, length: int) -> str:
    """``value`` as ``length`` base32 digits, most significant first (C speed)."""
    # Whole 5-byte groups (8 digits each), then drop the leading zero digits.
    groups = -(-length // 8)
    text = base64.b32hexencode(value.to_bytes(5 * groups, "big"))
    return text[8 * groups - length :].translate(_FROM_BASE32HEX).decode()


def _next_parts(now_ms: int) -> tuple[int, int]:
    global _last_ms, _last_random
    with _lock:
        if now_ms > _last_ms:
            # Leave headroom so the counter below rarely overflows.
            _last_ms, _last_random = now_ms, _random_bits(_RANDOM_BITS - 1)
        else:
            # Same (or a backwards-stepping) clock: keep the order by counting up.
            _last_random += 1
            if _last_random >= 1 << _RANDOM_BITS:
                _last_ms, _last_random = _last_ms + 1, _random_bits(_RANDOM_BITS - 1)
        return _last_ms, _last_random


def new_id(prefix: str) -> str:
    """Return ``prefix_`` followed by 20 time-sortable characters."""
    ms, rand = _next_parts(time.time_ns() // 1_000_000)
    return f"{prefix}_{_encode(ms << _RANDOM_BITS | rand, _TIME_CHARS + _RANDOM_CHARS)}"
