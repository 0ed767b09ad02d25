"""Export: submit a render, poll it, download it (and the media files themselves)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, send_from_directory

from gateway.draft import is_ready
from gateway.sandbox.envelope import ApiError
from gateway.sandbox.faults import Kind
from gateway.sandbox.hooks import export_blocked, faults, protocol, store
from gateway.sandbox.renders import RenderJob, RenderPool, RenderStatus

bp = Blueprint("render", __name__)


def pool() -> RenderPool:
    return current_app.extensions["sandbox.renders"]


@bp.post("/api/render/proxy/lambda")
@protocol("render_submit")
def submit() -> tuple[Response, int]:
    body = request.get_json(silent=True) or {}
    render_id = str(body.get("id") or "").strip()
    if not render_id:
        raise ApiError(400, "render id is required", status=400)
    existing = _job(render_id, missing_ok=True)
    if existing is not None:  # same id again: the same job, not a second render
        store().count("renders_resubmitted", existing.session_id)
        return _status_response(existing)
    if not request.headers.get("X-Skill-Source"):
        raise export_blocked()  # the doc: missing attribution => export fails with 402
    job = _new_job(render_id, body)
    with store().locked() as st:
        st.renders[job.id] = job
        st.count("renders_submitted", job.session_id)
    pool().submit(job)
    return _status_response(job)


def _new_job(render_id: str, body: dict[str, Any]) -> RenderJob:
    session = store().session(g.token.user_id, body.get("sessionId") or body.get("session_id"))
    draft = body.get("draft") if isinstance(body.get("draft"), dict) else session.draft
    if not is_ready(draft):
        raise ApiError(400, "draft is not ready for export: generate a video first", status=400)
    fault = faults().take("render_submit", {Kind.RENDER_FAILED})
    if fault is not None:
        store().fault_fired(fault.kind)
    queue_seconds, work_seconds = pool().plan_delays()
    output = body.get("output") if isinstance(body.get("output"), dict) else {}
    return RenderJob(
        id=render_id,
        session_id=session.id,
        user_id=g.token.user_id,
        draft=draft,  # type: ignore[arg-type]
        output={"format": "mp4", "quality": "high", **output},
        queue_seconds=queue_seconds,
        work_seconds=work_seconds,
        fail=fault is not None,
    )


@bp.get("/api/render/proxy/lambda/<render_id>")
@protocol("render_status")
def status(render_id: str) -> tuple[Response, int]:
    return _status_response(_job(render_id))


@bp.get("/api/render/proxy/<render_id>/download")
@protocol("download")
def download(render_id: str) -> Response:
    job = _job(render_id)
    if job.status is not RenderStatus.COMPLETED or job.result is None:
        raise ApiError(409, f"render {render_id} is {job.status}, not completed", status=409)
    return send_from_directory(
        job.result.path.parent,
        job.result.path.name,
        mimetype="video/mp4",
        conditional=True,
        download_name=f"{render_id}.mp4",
    )


@bp.get("/media/<any(renders, uploads):kind>/<path:name>")
def media(kind: str, name: str) -> Response:
    """The files behind ``output.url`` and upload URLs: unauthenticated, like a CDN link."""
    folder = current_app.extensions["sandbox.config"].data_dir / kind
    return send_from_directory(folder, name, conditional=True)


def _job(render_id: str, *, missing_ok: bool = False) -> Any:
    with store().locked() as st:
        job = st.renders.get(render_id)
        if job is not None and job.user_id != g.token.user_id:
            job = None
    if job is None and not missing_ok:
        raise ApiError(404, f"render not found: {render_id}", status=404)
    return job


def _status_response(job: RenderJob) -> tuple[Response, int]:
    # The doc reads `status` at the top level; it is also inside `data` for liberal clients.
    body = job.public(request.host_url)
    envelope = {"code": 0, "message": "success", "data": body}
    envelope |= {"status": body["status"], "progress": body["progress"], "output": body["output"]}
    return jsonify(envelope), 200
