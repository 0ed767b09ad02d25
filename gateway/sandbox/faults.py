"""Armed faults: what the next N calls to an endpoint do instead of the normal thing.

A fault is armed with ``POST /_sandbox/faults`` and fires on the next matching
call (``times`` calls, or every call when ``times`` is -1). Kinds that only make
sense at one place (a stream, a render job) are taken there; the rest are
taken by a hook in front of every protocol endpoint.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

ENDPOINTS = (
    "anonymous_token",
    "session",
    "claim_token",
    "run_sse",
    "upload",
    "state",
    "credits",
    "render_submit",
    "render_status",
    "render_cancel",
    "download",
)


class Kind(StrEnum):
    HTTP_429 = "http_429"
    HTTP_500 = "http_500"
    RESET = "reset"
    SLOW = "slow"
    TOKEN_EXPIRED = "token_expired"
    SESSION_LOST = "session_lost"
    OUT_OF_CREDITS = "out_of_credits"
    EXPORT_BLOCKED = "export_blocked"
    SSE_CUT = "sse_cut"
    HEARTBEAT_ONLY = "heartbeat_only"
    RENDER_FAILED = "render_failed"
    STREAM_ERROR = "stream_error"
    SILENT = "silent"


# Where a kind can fire; a kind absent here fires on any endpoint.
_ONLY_AT = {
    Kind.SSE_CUT: {"run_sse"},
    Kind.HEARTBEAT_ONLY: {"run_sse"},
    Kind.STREAM_ERROR: {"run_sse"},
    Kind.SILENT: {"run_sse"},
    Kind.RENDER_FAILED: {"render_submit"},
    Kind.EXPORT_BLOCKED: {"render_submit"},
    Kind.OUT_OF_CREDITS: {"run_sse", "render_submit"},
    Kind.TOKEN_EXPIRED: set(ENDPOINTS) - {"anonymous_token"},
    Kind.SESSION_LOST: {"claim_token", "run_sse", "upload", "state", "render_submit"},
}
# Taken by the view itself rather than the hook in front of every endpoint.
IN_VIEW = {Kind.SSE_CUT, Kind.HEARTBEAT_ONLY, Kind.RENDER_FAILED, Kind.STREAM_ERROR, Kind.SILENT}


@dataclass
class Fault:
    endpoint: str
    kind: Kind
    times: int = 1
    seconds: float | None = None

    def public(self) -> dict[str, Any]:
        return asdict(self) | {"kind": str(self.kind), "fault": str(self.kind)}


class FaultBoard:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[Fault] = []

    def arm(self, body: dict[str, Any]) -> Fault:
        fault = parse(body)
        with self._lock:
            self._armed.append(fault)
        return fault

    def take(self, endpoint: str, kinds: set[Kind]) -> Fault | None:
        """Consume one firing of the first armed fault for ``endpoint`` among ``kinds``."""
        with self._lock:
            for fault in self._armed:
                if fault.kind in kinds and _matches(fault, endpoint):
                    if fault.times > 0:
                        fault.times -= 1
                    if fault.times == 0:
                        self._armed.remove(fault)
                    return fault
        return None

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.public() for f in self._armed]

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()


def parse(body: dict[str, Any]) -> Fault:
    endpoint = body.get("endpoint", "*")
    if endpoint != "*" and endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; one of *, {', '.join(ENDPOINTS)}")
    try:
        kind = Kind(body.get("fault") or body.get("kind"))
    except ValueError:
        raise ValueError(f"unknown fault; one of {', '.join(k.value for k in Kind)}") from None
    if endpoint != "*" and endpoint not in _ONLY_AT.get(kind, {endpoint}):
        raise ValueError(f"fault {kind} cannot fire on {endpoint}")
    times = int(body.get("times", 1))
    if times == 0 or times < -1:
        raise ValueError("times must be >= 1, or -1 for every call")
    seconds = body.get("seconds")
    return Fault(endpoint, kind, times, None if seconds is None else float(seconds))


def _matches(fault: Fault, endpoint: str) -> bool:
    if fault.endpoint not in ("*", endpoint):
        return False
    return endpoint in _ONLY_AT.get(fault.kind, {endpoint})
