"""Settings of one sandbox process.

Times are in *simulated* seconds (what the cloud would take); the ``speed``
factor divides every one of them into real seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from gateway.sandbox.dialects import dialect_named

DAY = 24 * 3600


@dataclass(frozen=True)
class SandboxConfig:
    data_dir: Path = Path("data/sandbox")
    speed: float = 1.0
    silent_edit_share: float = 0.3
    max_upload_bytes: int = 500 * 1024 * 1024
    # Enough for a newcomer to try many generations; tests of the 2001 path pass 100.
    initial_credits: int = 10_000
    heartbeat_seconds: float = 15.0
    web_url: str = "https://nemovideo.com"
    token_ttl_seconds: int = 7 * DAY
    tokens_per_ip: int = 10
    # The doc says renders are "typically ready 30-90 s after submit".
    render_queue_seconds: tuple[float, float] = (30.0, 90.0)
    # A heartbeat-only turn lasts this long before the stream closes (doc: 15 min max).
    heartbeat_only_seconds: float = 900.0
    render_workers: int = 2
    dialect: str = "default"  # a key of gateway.sandbox.dialects.DIALECTS

    def __post_init__(self) -> None:
        # Absolute, so no caller can get it wrong: Flask's send_from_directory
        # resolves a relative folder against the app's root path, not the cwd.
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser().resolve())
        dialect_named(self.dialect)  # fail at start, not on the first request

    def real(self, simulated_seconds: float) -> float:
        """Simulated seconds -> real seconds under the speed factor."""
        return simulated_seconds / self.speed if self.speed > 0 else 0.0

    def public(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["data_dir"] = str(self.data_dir)
        out["render_queue_seconds"] = list(self.render_queue_seconds)
        return out

    def updated(self, changes: dict[str, Any]) -> SandboxConfig:
        """A copy with the runtime-tunable fields in ``changes`` (unknown keys -> ValueError)."""
        fixed = {"data_dir", "render_workers", "dialect"}  # the app is built around them
        allowed = {f.name for f in fields(self)} - fixed
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"not tunable at runtime: {', '.join(sorted(unknown))}")
        values = {k: _coerce(getattr(self, k), v) for k, v in changes.items()}
        return replace(self, **values)


def _coerce(current: Any, value: Any) -> Any:
    if isinstance(current, tuple):
        return tuple(float(v) for v in value)
    return type(current)(value)
