"""The public Video object, built from a stored row.

Used by the API (every read) and by the engine (webhook payloads), so a webhook
carries exactly what `GET /v1/videos/{id}` would return at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.media.signing import UrlSigner

_OUTPUT_FIELDS = (
    "content_type",
    "size_bytes",
    "duration_seconds",
    "width",
    "height",
    "sha256",
)
_PARAM_FIELDS = ("duration_seconds", "aspect_ratio", "resolution", "language")


@dataclass(frozen=True)
class Links:
    """How to turn paths into absolute URLs and sign content links."""

    base_url: str
    signer: UrlSigner
    output_ttl: int

    def absolute(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def video_resource(video: Any, links: Links, claim_url: str | None = None) -> dict[str, Any]:
    vid = video.id
    base = f"/v1/videos/{vid}"
    params = video.params or {}
    body: dict[str, Any] = {
        "id": vid,
        "object": "video",
        "kind": video.kind,
        "status": video.status,
        "progress": video.progress,
        "stage": video.stage,
        "prompt": video.prompt,
        "parent_id": video.parent_id,
        "session_id": video.session_id,
        "timeline": video.timeline,
        "changes": video.changes,
        "reply": video.reply,
        "error": video.error,
        "output": _output(video, links, f"{base}/content"),
        "urls": {
            "self": links.absolute(base),
            "cancel": links.absolute(f"{base}/cancel"),
            "content": links.absolute(f"{base}/content"),
        },
        "claim_url": claim_url,
        "webhook_url": video.webhook_url,
        "webhook_events_filter": video.webhook_events_filter,
        "metadata": video.meta,
        "created_at": iso(video.created_at),
        "updated_at": iso(video.updated_at),
        "completed_at": iso(video.completed_at),
    }
    body.update({k: params.get(k) for k in _PARAM_FIELDS})
    return body


def _output(video: Any, links: Links, content_path: str) -> dict[str, Any] | None:
    stored = video.output or {}
    if video.status != "succeeded" or not stored.get("sha256"):
        return None
    signed, expires = links.signer.sign(content_path, links.output_ttl)
    out = {k: stored.get(k) for k in _OUTPUT_FIELDS}
    out["url"] = links.absolute(signed)
    out["expires_at"] = iso(datetime.fromtimestamp(expires, UTC))
    return out
