"""Client for the NemoVideo agent API (see docs of ``client``, ``errors`` and ``adk``)."""

from gateway.upstream.adk import (
    AgentEvent,
    EventKind,
    is_ignorable_trailer,
    parse_data,
    translate_gui,
)
from gateway.upstream.auth import TokenProvider
from gateway.upstream.client import NemoClient
from gateway.upstream.envelope import unwrap
from gateway.upstream.errors import (
    ACCEPTED_FORMATS,
    DraftNotReady,
    DuplicateId,
    ExportBlocked,
    InsufficientCredits,
    MediaTooLarge,
    MessageMaybeDelivered,
    ProtocolError,
    RateLimited,
    SessionNotFound,
    StreamDropped,
    TokenInvalid,
    UnsupportedMedia,
    UpstreamError,
    UpstreamUnavailable,
)
from gateway.upstream.models import Attribution, Credits, RenderJob, SessionRef, Timeouts

__all__ = [
    "ACCEPTED_FORMATS",
    "AgentEvent",
    "Attribution",
    "Credits",
    "DraftNotReady",
    "DuplicateId",
    "EventKind",
    "ExportBlocked",
    "InsufficientCredits",
    "MediaTooLarge",
    "MessageMaybeDelivered",
    "NemoClient",
    "ProtocolError",
    "RateLimited",
    "RenderJob",
    "SessionNotFound",
    "SessionRef",
    "StreamDropped",
    "Timeouts",
    "TokenInvalid",
    "TokenProvider",
    "UnsupportedMedia",
    "UpstreamError",
    "UpstreamUnavailable",
    "is_ignorable_trailer",
    "parse_data",
    "translate_gui",
    "unwrap",
]
