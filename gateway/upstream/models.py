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
    # After a large upload the upstream may take a while to answer.
    upload_read: float = 300.0


@dataclass(frozen=True)
class SessionRef:
    task_id: str
    session_id: str


@dataclass(frozen=True)
class Credits:
    available: int
    frozen: int
    total: int

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Credits:
        available, frozen = _int(data.get("available")), _int(data.get("frozen"))
        total = data.get("total")
        return cls(available, frozen, _int(total) if total is not None else available + frozen)


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

    @classmethod
    def from_payload(cls, payload: dict[str, Any], render_id: str) -> RenderJob:
        """Read a job liberally: fields at the top level or inside ``data``."""
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        sources = (data, payload)
        status = _status(_pick(sources, "status", "state"))
        output = _pick(sources, "output")
        url = output.get("url") if isinstance(output, dict) else None
        url = url or _pick(sources, "output_url", "url", "download_url")
        error = _pick(sources, "error", "error_message", "failure_reason")
        if isinstance(error, dict):
            error = error.get("message") or str(error)
        return cls(
            id=str(_pick(sources, "id", "render_id") or render_id),
            status=status,
            progress=_progress(_pick(sources, "progress", "percent", "progress_percent")),
            output_url=url if isinstance(url, str) and url else None,
            error=str(error) if error else None,
            raw=payload,
        )


_STATUS_WORDS = {
    "completed": ("completed", "complete", "succeeded", "success", "done", "finished"),
    "failed": ("failed", "failure", "error", "errored", "cancelled", "canceled"),
    "processing": ("processing", "running", "rendering", "in_progress", "started"),
    "pending": ("pending", "queued", "submitted", "waiting", "created"),
}
_STATUS = {word: status for status, words in _STATUS_WORDS.items() for word in words}


def _status(value: Any) -> str:
    word = str(value).strip().lower() if value is not None else "pending"
    return _STATUS.get(word, word)


def _progress(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    # The field is unspecified: whole numbers and values above 1 are read as
    # percentages. A render at 1% reads "progress": 1, which taken as a fraction
    # said "done" and spoiled every later estimate (the notify p99 outlier).
    percent = isinstance(value, int) or value > 1
    return max(0.0, min(1.0, value / 100 if percent else float(value)))


def _pick(sources: tuple[dict[str, Any], ...], *keys: str) -> Any:
    for source in sources:
        for key in keys:
            if source.get(key) is not None:
                return source[key]
    return None


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0
