"""Export: submit a render, poll it, download it (and the media files themselves)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, request, send_from_directory

from gateway.draft import is_ready
from gateway.sandbox.envelope import ApiError, dialect
from gateway.sandbox.faults import Kind
from gateway.sandbox.hooks import export_blocked, faults, protocol, store
from gateway.sandbox.render_docs import status_response, submit_response
from gateway.sandbox.renders import IllegalTransition, RenderJob, RenderPool, RenderStatus

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
    if existing is not None:
        store().count("renders_resubmitted", existing.session_id)
        if dialect().duplicate_id_conflict:
            raise ApiError(409, f"duplicate render id: {render_id}", status=409)
        return _status_response(existing)  # same id again: the same job, not a second render
    if not request.headers.get("X-Skill-Source"):
        raise export_blocked()  # the doc: missing attribution => export fails with 402
    job = _new_job(render_id, body)
    with store().locked() as st:
        st.renders[job.id] = job
        st.count("renders_submitted", job.session_id)
    pool().submit(job)
    return submit_response(job, dialect(), request.host_url)


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


@bp.post("/api/render/proxy/lambda/<render_id>/cancel")
@protocol("render_cancel")
def cancel(render_id: str) -> tuple[Response, int]:
    if not dialect().render_cancel:
        raise ApiError(404, "render cancel is not supported", status=404)
    job = _job(render_id)
    try:
        pool().cancel(job)
    except IllegalTransition as exc:
        raise ApiError(409, str(exc), status=409) from exc
    store().count("renders_cancelled", job.session_id)
    return _status_response(job)


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


@bp.get("/<any(media, static):prefix>/<any(renders, uploads):kind>/<path:name>")
def media(prefix: str, kind: str, name: str) -> Response:
    """The files behind ``output.url`` and upload URLs: unauthenticated, like a CDN link.

    ``/media/`` is the default dialects' file host, ``/static/`` the references'
    one; both are served whatever the dialect, so one route needs no branching.
    """
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
    return status_response(job, dialect(), request.host_url)
