"""Value objects of the upstream client: settings in, results out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gateway


@dataclass(frozen=True)
class Attribution:
    """Sent as X-Skill-* headers on every call; without them exports fail with HTTP 402."""

    source: str = "nemo-gateway"
    version: str = gateway.__version__
    platform: str = "api"

    def headers(self) -> dict[str, str]:
        return {
            "X-Skill-Source": self.source,
            "X-Skill-Version": self.version,
            "X-Skill-Platform": self.platform,
        }


@dataclass(frozen=True)
class Timeouts:
    """Seconds. ``read`` bounds REST answers; the chat stream has its own limits."""

    connect: float = 10.0
    read: float = 30.0
    write: float = 60.0
    pool: float = 30.0
    # Longest silence on /run_sse (keep-alives reset it) before the stream counts as dropped.
    stream_silence: float = 120.0
    # Protocol section 4: ten minutes of keep-alives only means the turn is lost.
    stream_idle: float = 600.0
    # Whole-turn cap: the upstream documents streams of up to 15 minutes.
    turn: float = 900.0
    download_read: float = 60.0


@dataclass(frozen=True)
class SessionRef:
    task_id: str
    session_id: str


@dataclass(frozen=True)
class Credits:
    available: int
    frozen: int
    total: int


@dataclass(frozen=True)
class RenderJob:
    """A render job. ``status`` is normalised to pending|processing|completed|failed
    (unknown words pass through lowercased); ``progress`` is 0..1 when the upstream
    reports one."""

    id: str
    status: str
    progress: float | None = None
    output_url: str | None = None
    error: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed")
