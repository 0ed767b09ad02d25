"""The public Session, Message, Upload and Credits objects, built from stored rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway import draft as drafts
from gateway.media.formats import MEDIA_KINDS
from gateway.messages_service import MessageView
from gateway.representation import Links, iso
from gateway.sessions_service import SessionView

# A message is a chat turn: "running" reads better than the video statuses.
_MESSAGE_STATUS = {"queued": "queued", "generating": "running", "rendering": "running"}


def timeline_resource(draft: dict[str, Any] | None) -> dict[str, Any]:
    """The decoded draft: each segment with its type, label, start/end and volume."""
    return {
        "ready": drafts.is_ready(draft),
        "summary": drafts.summarize(draft),
        "duration_seconds": round(drafts.duration_ms(draft) / 1000, 3),
        "tracks": [track.to_dict() for track in drafts.decode(draft)],
    }


def session_resource(view: SessionView, links: Links) -> dict[str, Any]:
    chat = view.chat
    base = f"/v1/sessions/{chat.id}"
    return {
        "id": chat.id,
        "object": "session",
        "status": "busy" if view.busy_with else "idle",
        "busy_with": view.busy_with,
        "language": chat.language,
        "timeline": timeline_resource(chat.draft),
        "claim_url": chat.claim_url,
        "credits_spent": chat.credits_spent,
        "urls": {
            "self": links.absolute(base),
            "messages": links.absolute(f"{base}/messages"),
            "exports": links.absolute(f"{base}/exports"),
        },
        "created_at": iso(chat.created_at),
        "updated_at": iso(chat.updated_at),
    }


def message_resource(view: MessageView, links: Links) -> dict[str, Any]:
    msg = view.message
    params, output = msg.params or {}, msg.output or {}
    base = f"/v1/sessions/{msg.session_id}"
    return {
        "id": msg.id,
        "object": "message",
        "session_id": msg.session_id,
        "text": msg.prompt,
        "route": params.get("route", "chat"),
        "status": _MESSAGE_STATUS.get(msg.status, msg.status),
        "reply": msg.reply,
        "tool_steps": msg.tool_steps or [],
        "changes": msg.changes,
        "timeline": msg.timeline,
        "credits": {"object": "credits", **output["credits"]} if output.get("credits") else None,
        "credits_charged": msg.credits_charged,
        "export": view.export.resource(links) if view.export else None,
        "media_urls": params.get("media_urls") or [],
        "upload_ids": params.get("upload_ids") or [],
        "error": msg.error,
        "urls": {
            "self": links.absolute(f"{base}/messages/{msg.id}"),
            "session": links.absolute(base),
        },
        "created_at": iso(msg.created_at),
        "updated_at": iso(msg.updated_at),
        "completed_at": iso(msg.completed_at),
    }


def upload_resource(upload: Any) -> dict[str, Any]:
    fmt = Path(upload.path).suffix.lstrip(".")
    return {
        "id": upload.id,
        "object": "upload",
        "filename": upload.filename,
        "format": fmt,
        "media_type": MEDIA_KINDS.get(fmt),
        "content_type": upload.content_type,
        "size_bytes": upload.size_bytes,
        "sha256": upload.sha256,
        "created_at": iso(upload.created_at),
    }


def credits_resource(balance: Any) -> dict[str, Any]:
    return {
        "object": "credits",
        "available": balance.available,
        "frozen": balance.frozen,
        "total": balance.total,
    }
