"""Request headers that shape how a create behaves: ``Prefer: wait`` and ``Cancel-After``.

``Prefer`` follows RFC 7240: unknown preferences are ignored, and the wait we
actually honour is echoed in ``Preference-Applied`` (it may be clamped to the
configured maximum). A malformed ``wait`` value is ignored too, as the RFC
asks of preferences the server cannot honour. ``Cancel-After`` is ours, so a
malformed one is a 400 rather than silently dropped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from gateway.api.errors import ApiError

_WAIT = re.compile(r"^\s*wait\s*=\s*\"?(\d{1,6})\"?\s*$", re.IGNORECASE)
MAX_CANCEL_AFTER = timedelta(days=7)


def parse_prefer_wait(header: str | None, maximum: int) -> int | None:
    """Seconds to wait from ``Prefer: wait=N``, clamped to ``maximum``; None when absent."""
    if not header:
        return None
    for preference in header.split(","):
        # Parameters after ";" qualify a preference; wait has none we use.
        match = _WAIT.match(preference.split(";", 1)[0])
        if match:
            return min(int(match.group(1)), maximum)
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
    if deadline > now + MAX_CANCEL_AFTER:
        raise ApiError(
            "invalid_header",
            "Cancel-After is too far away (7 days at most).",
            header="Cancel-After",
        )
    return deadline


def _as_seconds(value: str, now: datetime) -> datetime | None:
    if not value.isdigit() or len(value) > 9:
        return None
    return now + timedelta(seconds=int(value))


def _as_http_date(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return _aware(parsed)


def _as_iso(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return _aware(parsed)


def _aware(value: datetime) -> datetime:
    # A date-time without a zone is taken as UTC, as HTTP-dates always are.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
