"""What a render job looks like on the wire, in each of the documented shapes.

Section 10 of the protocol reference lists three render status documents:
``inline`` (top-level ``status`` with ``output.url``, the values repeated in
``data``), ``data`` (a flat ``{id, status, progress, outputUrl, createdAt,
completedAt}`` in the envelope) and ``bare`` (``{taskId, status, progress,
output}`` with no envelope at all).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from gateway.sandbox.dialects import Dialect
from gateway.sandbox.envelope import success_body
from gateway.sandbox.renders import RenderJob

# The references' submit answer: the job is queued, a little progress shown.
BRIEF_PROGRESS = 5


def status_response(job: RenderJob, d: Dialect, base_url: str) -> tuple[Response, int]:
    if d.render_status == "bare":
        return jsonify(_bare(job, d, base_url)), 200
    if d.render_status == "data":
        return jsonify(success_body(d, _flat(job, d, base_url))), 200
    body = _inline(job, d, base_url)
    # The doc reads `status` at the top level; it is also inside `data` for liberal clients.
    top = {"status": body["status"], "progress": body["progress"], "output": body["output"]}
    return jsonify(success_body(d, body) | top), 200


def submit_response(job: RenderJob, d: Dialect, base_url: str) -> tuple[Response, int]:
    if d.submit_answer == "brief":
        brief = {"id": job.id, "status": "pending", "progress": BRIEF_PROGRESS}
        return jsonify(success_body(d, brief)), 200
    return status_response(job, d, base_url)


def file_url(job: RenderJob, d: Dialect, base_url: str) -> str | None:
    if job.result is None or not d.render_url:
        return None
    return f"{base_url}{d.file_prefix}/renders/{job.result.path.name}"


def _when(seconds: float | None, d: Dialect) -> float | int | None:
    if seconds is None:
        return None
    return int(seconds * 1000) if d.render_times_ms else seconds


def _inline(job: RenderJob, d: Dialect, base_url: str) -> dict[str, Any]:
    output = {"format": job.output.get("format", "mp4"), **job.output}
    body: dict[str, Any] = {
        "id": job.id,
        "sessionId": job.session_id,
        "status": job.shown_status(d.extra_render_state),
        "progress": job.progress(),
        "output": output,
    }
    url = file_url(job, d, base_url)
    if url is not None:
        output["url"] = url
    if job.result is not None:
        output |= {
            "size_bytes": job.result.size_bytes,
            "duration_seconds": job.result.duration_seconds,
            "width": job.result.width,
            "height": job.result.height,
        }
    # Sandbox extras: when the job was submitted and when it reached its end
    # state, so a client or a benchmark can measure how soon it noticed.
    body["submitted_at"] = _when(job.created_at, d)
    if job.finished_at is not None:
        body["completed_at"] = _when(job.finished_at, d)
    if job.error:
        body["error"] = job.error
    return body


def _flat(job: RenderJob, d: Dialect, base_url: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": job.id,
        "status": job.shown_status(d.extra_render_state),
        "progress": job.progress(),
        "outputUrl": file_url(job, d, base_url),
        "createdAt": _when(job.created_at, d),
        "completedAt": _when(job.finished_at, d),
    }
    if job.error:
        body["error"] = job.error
    return body


def _bare(job: RenderJob, d: Dialect, base_url: str) -> dict[str, Any]:
    output: dict[str, Any] = {}
    url = file_url(job, d, base_url)
    if url is not None:
        output["url"] = url
    if job.result is not None:
        output |= {"duration": job.result.duration_seconds, "size": job.result.size_bytes}
    body: dict[str, Any] = {
        "taskId": job.id,
        "status": job.shown_status(d.extra_render_state),
        "progress": job.progress(),
        "output": output,
    }
    if job.error:
        body["error"] = job.error
    return body
