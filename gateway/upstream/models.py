"""Value objects of the upstream client: settings in, results out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    """A render job, read from any of the documented status shapes (protocol
    sections 8 and 10): top-level ``taskId``/``status``/``output.url``, the
    ``success`` envelope with ``data.outputUrl`` and epoch-millisecond times, or
    both levels at once.

    ``status`` is normalised to pending|processing|completed|failed; unknown words
    ("encoding", "uploading") pass through lowercased and are not terminal.
    ``progress`` is 0..1 when the upstream reports one. ``created_at`` and
    ``completed_at`` are epoch seconds."""

    id: str
    status: str
    progress: float | None = None
    output_url: str | None = None
    error: str | None = None
    created_at: float | None = None
    completed_at: float | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        return self.status in _TERMINAL

    @property
    def needs_fallback(self) -> bool:
        """Completed without a file URL: download ``/api/render/proxy/<id>/download``."""
        return self.status == "completed" and not self.output_url

    @classmethod
    def from_payload(cls, payload: dict[str, Any], render_id: str) -> RenderJob:
        """Read a job liberally: fields at the top level or inside ``data``."""
        data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        sources = (data, payload)
        return cls(
            id=_opaque(_pick(sources, *_ID_KEYS)) or render_id,
            status=_status(_pick(sources, "status", "state")),
            progress=_progress(_pick(sources, *_PROGRESS_KEYS)),
            output_url=_output_url(sources),
            error=_error(_pick(sources, *_ERROR_KEYS)),
            created_at=epoch_seconds(_pick(sources, *_CREATED_KEYS)),
            completed_at=epoch_seconds(_pick(sources, *_COMPLETED_KEYS)),
            raw=payload,
        )


_ID_KEYS = ("id", "taskId", "task_id", "renderId", "render_id")
_PROGRESS_KEYS = ("progress", "percent", "progress_percent", "percentage")
_URL_KEYS = ("url", "outputUrl", "output_url", "downloadUrl", "download_url")
_ERROR_KEYS = ("error", "errorMessage", "error_message", "failureReason", "failure_reason")
_CREATED_KEYS = ("createdAt", "created_at", "submittedAt", "submitted_at")
_COMPLETED_KEYS = ("completedAt", "completed_at", "finishedAt", "finished_at")
_TERMINAL = ("completed", "failed")
_STATUS_WORDS = {
    "completed": ("completed", "complete", "succeeded", "success", "done", "finished"),
    "failed": ("failed", "failure", "error", "errored", "cancelled", "canceled"),
    "processing": ("processing", "running", "rendering", "in_progress", "started"),
    "pending": ("pending", "queued", "submitted", "waiting", "created"),
}
_STATUS = {word: status for status, words in _STATUS_WORDS.items() for word in words}
# Epoch numbers above this are milliseconds: 1e11 s is the year 5138, 1e11 ms is 1973.
_MS_THRESHOLD = 1e11


def _status(value: Any) -> str:
    word = str(value).strip().lower() if value is not None else "pending"
    return _STATUS.get(word, word)


def _output_url(sources: tuple[dict[str, Any], ...]) -> str | None:
    """The file's URL: in ``output`` (a dict, or the URL itself), or beside it."""
    places: list[dict[str, Any]] = []
    for source in sources:
        output = source.get("output")
        if isinstance(output, str) and _looks_like_url(output):
            return output
        places += [output, source] if isinstance(output, dict) else [source]
    url = _pick(tuple(places), *_URL_KEYS)
    return url if isinstance(url, str) and url.strip() else None


def _looks_like_url(text: str) -> bool:
    return "://" in text or text.startswith("/")


def _error(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("message") or value.get("msg") or str(value)
    return str(value) if value else None


def _opaque(value: Any) -> str | None:
    """An id as a string whatever its JSON type (long digit ids arrive as numbers)."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value)
    return text if text else None


def epoch_seconds(value: Any) -> float | None:
    """Epoch seconds from seconds, milliseconds (above 1e11), a digit string or ISO-8601."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return _from_text(value.strip())
    if not isinstance(value, int | float) or value <= 0:
        return None
    return value / 1000 if value > _MS_THRESHOLD else float(value)


def _from_text(text: str) -> float | None:
    try:
        return epoch_seconds(float(text)) if text else None
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # no zone given: the upstream speaks UTC
    return moment.timestamp()


def _progress(value: Any) -> float | None:
    if isinstance(value, str):
        value = _number(value.strip().removesuffix("%"))
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    # The field is unspecified: whole numbers and values above 1 are read as
    # percentages. A render at 1% reads "progress": 1, which taken as a fraction
    # said "done" and spoiled every later estimate (the notify p99 outlier).
    percent = isinstance(value, int) or value > 1
    return max(0.0, min(1.0, value / 100 if percent else float(value)))


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


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
