"""Gateway settings: read from the environment once (CLI or factory), then passed down.

Every timing the engine uses lives here so tests can shrink them instead of
patching internals.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gateway.net.guard import UrlGuard

DEFAULT_API_URL = "https://mega-api-prod.nemovideo.ai"
DEFAULT_WEB_URL = "https://nemovideo.com"


@dataclass(frozen=True)
class Timings:
    """Engine clocks, in seconds. Defaults follow the protocol doc."""

    lease: float = 30.0
    tick: float = 1.0
    # Disconnect recovery: first state read after `recover_first`, then every
    # `recover_every`, failing after `recover_tries` unchanged reads.
    recover_first: float = 30.0
    recover_every: float = 60.0
    recover_tries: int = 5
    # A turn whose stream closed cleanly is over: its state is read at once, and
    # a generation's draft (post-production may still be adding music and
    # titles) is re-read every `settle_every` until two reads agree, at most
    # `settle_tries` reads.
    settle_every: float = 3.0
    settle_tries: int = 20
    # A turn that sends only heartbeats this long is lost (doc: 10 minutes).
    heartbeat_only_limit: float = 600.0
    # Adaptive render polling: fast at first, then backing off to `poll_max`.
    poll_first: float = 2.0
    poll_factor: float = 1.5
    poll_max: float = 30.0
    # Near the end a render's progress predicts: poll then, and every `poll_near` s
    # after (0 = the schedule alone, e.g. a flat poll_first=30, poll_factor=1).
    poll_near: float = 0.5
    # Without a usable progress estimate, poll at most every `poll_late` s while
    # the render has run `poll_late_after`..`poll_late_until` s (renders take
    # 30-90 s: a 30 s step there found one video in 40 about 16-30 s late).
    # 0 turns it off (the documented flat schedule).
    poll_late: float = 2.0
    poll_late_after: float = 24.0
    poll_late_until: float = 180.0
    # Past `render_deadline` a render the upstream still runs is kept (it was
    # paid for) and polled on; only `render_hard_cap` fails it (render_timeout).
    render_deadline: float = 1800.0
    render_hard_cap: float = 6 * 3600.0
    # Upstream 429 answers are honoured up to this wait before giving up a try.
    max_retry_wait: float = 60.0
    webhook_progress_every: float = 10.0
    # Multiplies the webhook retry schedule (5 s, 5 min, 30 min, ... about 27 hours).
    webhook_backoff: float = 1.0

    def scaled(self, factor: float) -> Timings:
        """The upstream's waits divided by `factor`, for a sandbox faster than real time.

        Leases and ticks are the gateway's own clocks and stay as they are.
        """
        values = {name: getattr(self, name) / factor for name in _UPSTREAM_WAITS}
        return replace(self, **values)


_UPSTREAM_WAITS = (
    "settle_every",
    "recover_first",
    "recover_every",
    "heartbeat_only_limit",
    "poll_first",
    "poll_max",
    "poll_near",
    "poll_late",
    "poll_late_after",
    "poll_late_until",
    "render_deadline",
    "render_hard_cap",
    "max_retry_wait",
    "webhook_backoff",
)


@dataclass(frozen=True)
class GatewayConfig:
    data_dir: Path = Path("data")
    database_url: str = ""
    nemo_api_url: str = DEFAULT_API_URL
    nemo_web_url: str = DEFAULT_WEB_URL
    nemo_token: str | None = field(default=None, repr=False)
    # Signs content links; every process of one deployment must share it.
    # Unset: generated once and kept in the data dir.
    secret_key: str | None = field(default=None, repr=False)
    public_url: str | None = None
    # Outbound URLs (webhooks, media): loopback and private ranges ...
    allow_private_urls: bool = False
    # ... and, separately, link-local and cloud metadata (gateway.net.guard).
    allow_link_local_urls: bool = False
    max_wait_seconds: int = 60
    max_in_flight: int = 5000
    output_url_ttl: int = 24 * 3600
    webhook_timeout: float = 15.0
    webhook_max_attempts: int = 8
    max_body_bytes: int = 64 * 1024
    max_upload_bytes: int = 500 * 1024 * 1024
    platform: str = "api"
    timings: Timings = field(default_factory=Timings)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'gateway.db').resolve()}"

    @property
    def url_guard(self) -> UrlGuard:
        """The rule every URL called on a caller's behalf must pass."""
        return UrlGuard(self.allow_private_urls, self.allow_link_local_urls)

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    def with_overrides(self, **values: Any) -> GatewayConfig:
        return replace(self, **values)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def from_env(env: Mapping[str, str] | None = None, **overrides: Any) -> GatewayConfig:
    """Build the config from environment variables; explicit overrides win."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {
        "data_dir": Path(env.get("GATEWAY_DATA_DIR", "data")),
        "database_url": env.get("DATABASE_URL", ""),
        "nemo_api_url": env.get("NEMO_API_URL", DEFAULT_API_URL),
        "nemo_web_url": env.get("NEMO_WEB_URL", DEFAULT_WEB_URL),
        "nemo_token": env.get("NEMO_TOKEN") or None,
        "secret_key": env.get("GATEWAY_SECRET_KEY") or None,
        "public_url": env.get("GATEWAY_PUBLIC_URL") or None,
        "allow_private_urls": _flag(env.get("GATEWAY_ALLOW_PRIVATE_URLS")),
        "allow_link_local_urls": _flag(env.get("GATEWAY_ALLOW_LINK_LOCAL_URLS")),
    }
    if env.get("GATEWAY_WEBHOOK_TIMEOUT"):
        values["webhook_timeout"] = float(env["GATEWAY_WEBHOOK_TIMEOUT"])
    if env.get("GATEWAY_MAX_IN_FLIGHT"):
        values["max_in_flight"] = int(env["GATEWAY_MAX_IN_FLIGHT"])
    if env.get("GATEWAY_MAX_UPLOAD_MB"):
        values["max_upload_bytes"] = int(env["GATEWAY_MAX_UPLOAD_MB"]) * 1024 * 1024
    values["timings"] = _timings_from_env(env)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return GatewayConfig(**values)


def _timings_from_env(env: Mapping[str, str]) -> Timings:
    """GATEWAY_TIME_SCALE speeds up the upstream waits (for a fast sandbox);
    GATEWAY_LEASE_SECONDS and GATEWAY_TICK_SECONDS set the worker's own clocks;
    GATEWAY_WEBHOOK_BACKOFF multiplies the webhook retry schedule."""
    timings = Timings()
    if env.get("GATEWAY_TIME_SCALE"):
        timings = timings.scaled(float(env["GATEWAY_TIME_SCALE"]))
    if env.get("GATEWAY_LEASE_SECONDS"):
        timings = replace(timings, lease=float(env["GATEWAY_LEASE_SECONDS"]))
    if env.get("GATEWAY_TICK_SECONDS"):
        timings = replace(timings, tick=float(env["GATEWAY_TICK_SECONDS"]))
    if env.get("GATEWAY_WEBHOOK_BACKOFF"):
        # The webhook retry schedule's multiplier on its own (tests: hours in seconds).
        timings = replace(timings, webhook_backoff=float(env["GATEWAY_WEBHOOK_BACKOFF"]))
    return timings
