"""Errors raised by the NemoVideo upstream client.

Every failure of an upstream call surfaces as one of these, never as an httpx
exception: foreign exceptions are converted at the boundary (``raise ... from
exc``), so ``__cause__`` keeps the original for logs.

Exception tree (``code`` is the gateway's stable public error code)::

    UpstreamError                     base; code "upstream_error" for unknown codes
    ├── TokenInvalid                  envelope 1001 / HTTP 401      "upstream_auth"
    ├── SessionNotFound               envelope 1002, or a message   "session_lost"
    │                                 saying so (ADK's 404 detail)
    ├── InsufficientCredits           envelope 2001                 "insufficient_credits"
    ├── UnsupportedMedia              envelope 4001 / HTTP 415      "unsupported_media"
    ├── MediaTooLarge                 envelope 4002 / HTTP 413      "media_too_large"
    ├── ExportBlocked                 HTTP 402 (free plan tier)     "export_blocked"
    ├── RateLimited                   HTTP 429                      "rate_limited"
    ├── DuplicateId                   HTTP 409 / "duplicate id"     "duplicate_id"
    ├── UpstreamUnavailable           5xx, connect errors, timeouts "upstream_unavailable"
    ├── ProtocolError                 an answer of unexpected shape "upstream_protocol"
    ├── DraftNotReady                 render asked with no ready draft "draft_not_ready"
    └── MessageMaybeDelivered         a chat message may have reached the upstream
        └── StreamDropped             the event stream ended before the turn completed

``upstream_code`` is the upstream's own code as it gave it: an int (envelope
codes, HTTP statuses; digit strings are read as ints), a string for named codes
such as ``"INSUFFICIENT_CREDITS"``, or None.

``retryable`` says whether repeating the *same* call later can succeed and is
safe. ``MessageMaybeDelivered`` is never retryable: re-sending a chat message
duplicates work and charges credits twice; recover by reading the state.
"""

from __future__ import annotations

from typing import TypeAlias

# The upstream's own error code: see the module docstring.
UpstreamCode: TypeAlias = int | str | None

# Formats the upstream accepts (protocol section 5); used when a 4001 names none.
ACCEPTED_FORMATS: tuple[str, ...] = (
    "mp4", "mov", "avi", "webm", "mkv",
    "jpg", "png", "gif", "webp",
    "mp3", "wav", "m4a", "aac",
)  # fmt: skip


class UpstreamError(Exception):
    """Base of every upstream failure."""

    code: str = "upstream_error"
    retryable: bool = False

    def __init__(self, message: str, *, upstream_code: UpstreamCode = None) -> None:
        super().__init__(message)
        self.message = message
        self.upstream_code = upstream_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, upstream_code={self.upstream_code!r})"


class TokenInvalid(UpstreamError):
    code = "upstream_auth"
    retryable = True  # after a token refresh


class SessionNotFound(UpstreamError):
    code = "session_lost"


class InsufficientCredits(UpstreamError):
    """Out of credits. Anonymous users get a registration link to bind their work."""

    code = "insufficient_credits"

    def __init__(
        self,
        message: str,
        *,
        upstream_code: UpstreamCode = 2001,
        registration_url: str | None = None,
        bind_id: str | None = None,
    ) -> None:
        super().__init__(message, upstream_code=upstream_code)
        self.registration_url = registration_url
        self.bind_id = bind_id


class UnsupportedMedia(UpstreamError):
    code = "unsupported_media"

    def __init__(
        self,
        message: str,
        *,
        upstream_code: UpstreamCode = 4001,
        accepted_formats: tuple[str, ...] = ACCEPTED_FORMATS,
    ) -> None:
        super().__init__(message, upstream_code=upstream_code)
        self.accepted_formats = accepted_formats


class MediaTooLarge(UpstreamError):
    code = "media_too_large"


class ExportBlocked(UpstreamError):
    code = "export_blocked"


class RateLimited(UpstreamError):
    code = "rate_limited"
    retryable = True

    def __init__(
        self, message: str, *, upstream_code: UpstreamCode = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, upstream_code=upstream_code)
        self.retry_after = retry_after


class DuplicateId(UpstreamError):
    """The render id was used before. Repeating the same call cannot succeed:
    submit again with a new id (protocol section 10)."""

    code = "duplicate_id"


class UpstreamUnavailable(UpstreamError):
    code = "upstream_unavailable"
    retryable = True


class ProtocolError(UpstreamError):
    code = "upstream_protocol"


class DraftNotReady(UpstreamError):
    code = "draft_not_ready"


class MessageMaybeDelivered(UpstreamError):
    """The /run_sse POST may have been accepted but no complete answer came back."""

    code = "message_maybe_delivered"


class StreamDropped(MessageMaybeDelivered):
    """The event stream ended without a turn-complete event.

    ``clean_close`` is True when the body ended normally (no transport error),
    which usually means a silent turn (tool calls only) rather than a network cut.
    """

    code = "stream_dropped"

    def __init__(self, message: str, *, clean_close: bool = False, events_seen: int = 0) -> None:
        super().__init__(message)
        self.clean_close = clean_close
        self.events_seen = events_seen
