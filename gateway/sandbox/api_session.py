"""Session endpoints: create a session, read its state, upload media into it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path, PurePosixPath
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from werkzeug.formparser import parse_form_data
from werkzeug.utils import secure_filename

from gateway.sandbox.envelope import ApiError, dialect, ok
from gateway.sandbox.hooks import protocol, store
from gateway.sandbox.store import Session
from gateway.sandbox.upload_answer import files_answer
from gateway.sandbox.uploads import (
    Budget,
    SpoolFactory,
    media_format,
    new_item,
    remote_item,
    too_large,
)

bp = Blueprint("session", __name__)

DEFAULT_CANVAS = {"width": 1920, "height": 1080, "ratio": "16:9"}


@bp.post("/api/tasks/me/with-session/nemo_agent")
@protocol("session")
def create_session() -> tuple[Response, int]:
    body = request.get_json(silent=True) or {}
    session = store().create_session(
        g.token.user_id,
        str(body.get("task_name") or "project"),
        str(body.get("language") or "en"),
    )
    return ok({"task_id": session.task_id, "session_id": session.id})


@bp.get("/api/state/nemo_agent/me/<sid>/latest")
@protocol("state")
def state(sid: str) -> tuple[Response, int]:
    with store().locked():
        session = store().session(g.token.user_id, sid)
        snapshot = {
            "draft": session.draft,
            "video_infos": list(session.video_infos),
            "canvas_config": canvas_of(session.draft),
            "generated_media": list(session.generated_media),
        }
    return ok({"session_id": sid, "state": snapshot})


def canvas_of(draft: dict[str, Any] | None) -> dict[str, Any]:
    meta = (draft or {}).get("m") or {}
    if not meta.get("w") or not meta.get("h"):
        return dict(DEFAULT_CANVAS)
    return {"width": meta["w"], "height": meta["h"], "ratio": meta.get("ratio", "")}


@bp.post("/api/upload-video/nemo_agent/me/<sid>")
@protocol("upload")
def upload(sid: str) -> tuple[Response, int]:
    session = store().session(g.token.user_id, sid)
    if request.is_json:
        items = _from_urls(request.get_json(silent=True) or {})
    else:
        items = _from_files(session)
    store().add_media(session.id, items)
    if dialect().upload_files_answer:
        return ok(files_answer(items, current_app.extensions["sandbox.config"].data_dir))
    return ok({"items": items})


def _from_urls(body: dict[str, Any]) -> list[dict[str, Any]]:
    urls = body.get("urls")
    if not isinstance(urls, list) or not urls:
        raise ApiError(400, 'expected {"urls": [...], "source_type": "url"}', status=400)
    return [remote_item(str(u)) for u in urls]


def _from_files(session: Session) -> list[dict[str, Any]]:
    limit = current_app.extensions["sandbox.config"].max_upload_bytes
    if (request.content_length or 0) > limit:
        raise too_large(limit)
    folder = current_app.extensions["sandbox.config"].data_dir / "uploads" / session.id
    spool = SpoolFactory(folder, Budget(limit))
    try:
        _, _, files = parse_form_data(request.environ, stream_factory=spool, silent=False)
        parts = files.getlist("files")
        if not parts:
            raise ApiError(400, "multipart field 'files' is required", status=400)
        return [_keep(part, folder, session.id) for part in parts]
    finally:
        spool.discard()  # parts that were kept have been moved already


def _keep(part: Any, folder: Path, session_id: str) -> dict[str, Any]:
    name = PurePosixPath(part.filename or "upload").name
    fmt = media_format(name)
    stored = f"{secrets.token_hex(6)}-{secure_filename(name) or 'upload.' + fmt}"
    part.stream.flush()
    os.replace(part.stream.name, folder / stored)
    size = (folder / stored).stat().st_size
    url = f"{request.host_url}{dialect().file_prefix}/uploads/{session_id}/{stored}"
    return new_item(name, fmt, url=url, source="upload", size=size)
