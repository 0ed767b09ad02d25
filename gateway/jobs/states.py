"""Public statuses, internal phases, and the transitions allowed between statuses.

A video's `status` is what clients see; its `phase` is the engine's resume point.
Every phase belongs to one status, so a phase change implies the status.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    QUEUED = "queued"
    GENERATING = "generating"
    RENDERING = "rendering"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class Phase(StrEnum):
    SESSION = "session"  # create the upstream session and claim link
    MEDIA = "media"  # hand media URLs / uploads to the session
    SEND = "send"  # read the baseline draft, mark "sent", post the message
    STREAM = "stream"  # (resume point only) a message was sent and may be running
    RECOVER = "recover"  # stream lost: read state until the draft settles
    SETTLE = "settle"  # stream closed cleanly: read state until the draft is ready
    DRAFT = "draft"  # read the finished draft
    RENDER_SUBMIT = "render_submit"
    RENDER_POLL = "render_poll"
    MIRROR = "mirror"  # copy the MP4 into the gateway's media store
    DONE = "done"


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELED})

PHASE_STATUS: dict[Phase, Status] = {
    Phase.SESSION: Status.GENERATING,
    Phase.MEDIA: Status.GENERATING,
    Phase.SEND: Status.GENERATING,
    Phase.STREAM: Status.GENERATING,
    Phase.RECOVER: Status.GENERATING,
    Phase.SETTLE: Status.GENERATING,
    Phase.DRAFT: Status.GENERATING,
    Phase.RENDER_SUBMIT: Status.RENDERING,
    Phase.RENDER_POLL: Status.RENDERING,
    Phase.MIRROR: Status.RENDERING,
}

_ALLOWED: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.GENERATING, Status.RENDERING, *TERMINAL}),
    Status.GENERATING: frozenset({Status.GENERATING, Status.RENDERING, *TERMINAL}),
    Status.RENDERING: frozenset({Status.RENDERING, *TERMINAL}),
    Status.SUCCEEDED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELED: frozenset(),
}


class IllegalTransition(Exception):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"illegal status transition {current} -> {target}")
        self.current, self.target = current, target


def check_transition(current: str, target: str) -> Status:
    """Return the target status, or raise when the table forbids the move."""
    now, nxt = Status(current), Status(target)
    if nxt not in _ALLOWED[now]:
        raise IllegalTransition(now, nxt)
    return nxt


def is_terminal(status: str) -> bool:
    return Status(status) in TERMINAL
