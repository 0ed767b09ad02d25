"""What a step tells the runner to do next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Continue:
    """Run the next step now (the phase was already saved)."""


@dataclass(frozen=True)
class Sleep:
    """Release the lease and come back at `until` (polling, backoff, recovery)."""

    until: datetime


@dataclass(frozen=True)
class Fail:
    """End the video as failed with a stable public error code."""

    code: str
    message: str
    retryable: bool = False
    upstream_code: int | str | None = None  # an ADK errorCode is a word
    extra: dict[str, Any] | None = None

    def as_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
            "upstream_code": self.upstream_code,
        }
        error.update(self.extra or {})
        return error


@dataclass(frozen=True)
class Succeed:
    """End the video as succeeded; ``values`` and ``chat_values`` are written with
    the terminal status in one transaction (a message's reply and its charge)."""

    output: dict[str, Any]
    values: dict[str, Any] | None = None
    chat_values: dict[str, Any] | None = None


Outcome = Continue | Sleep | Fail | Succeed
