"""Request headers that shape how a create behaves: ``Prefer: wait`` and ``Cancel-After``.

``Prefer`` follows RFC 7240: unknown preferences are ignored, and the wait we
actually honour is echoed in ``Preference-Applied`` (it may be clamped to the
configured maximum, however many digits it has). A malformed ``wait`` value
is ignored too, as the RFC asks of preferences the server cannot honour.
``Cancel-After`` is ours, so a malformed one is a 400 rather than silently
dropped, and so is a deadline that is not in the future (it would cancel the
video the moment it is made). A deadline may be as far ahead as the client
likes: it only ever shortens a video's life.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from gateway.api.errors import ApiError

_WAIT = re.compile(r"^\s*wait\s*=\s*\"?([0-9]+)\"?\s*$", re.IGNORECASE)
# More digits than any maximum we would configure: clamp without int() (which
# refuses over 4,300 digits).
_WAIT_DIGITS = 9
_DELTA_DIGITS = 10  # delta seconds: ~300 years


def parse_prefer_wait(header: str | None, maximum: int) -> int | None:
    """Seconds to wait from ``Prefer: wait=N``, clamped to ``maximum``; None when absent."""
    if not header:
        return None
    for preference in header.split(","):
        # Parameters after ";" qualify a preference; wait has none we use.
        match = _WAIT.match(preference.split(";", 1)[0])
        if match:
            digits = match.group(1)
            return maximum if len(digits) > _WAIT_DIGITS else min(int(digits), maximum)
    return None


def parse_cancel_after(header: str | None, now: datetime | None = None) -> datetime | None:
    """``Cancel-After`` as an absolute UTC deadline: delta seconds, an HTTP-date or ISO 8601."""
    if header is None:
        return None
    value = header.strip()
    now = now or datetime.now(UTC)
    deadline = _as_seconds(value, now) or _as_http_date(value) or _as_iso(value)
    if deadline is None:
        raise ApiError(
            "invalid_header",
            "Cancel-After must be seconds, an HTTP-date or an ISO 8601 date-time.",
            header="Cancel-After",
        )
    if deadline <= now:
        raise ApiError(
            "invalid_header",
            "Cancel-After must be in the future (at least 1 second ahead).",
            header="Cancel-After",
        )
    return deadline


def _as_seconds(value: str, now: datetime) -> datetime | None:
    if not (value.isascii() and value.isdigit()) or len(value) > _DELTA_DIGITS:
        return None
    return now + timedelta(seconds=int(value))


def _as_http_date(value: str) -> datetime | None:
    try:
        return _aware(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _as_iso(value: str) -> datetime | None:
    try:
        return _aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # year 9999 with a negative offset overflows in UTC
        return None


def _aware(value: datetime) -> datetime:
    # A date-time without a zone is taken as UTC, as HTTP-dates always are.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
