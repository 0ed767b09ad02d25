"""``/v1/videos``: create, read, list, cancel, download, edit."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request, send_file

from gateway import sessions_service as sessions
from gateway import videos_service as videos
from gateway.api.auth import authenticate, require_key
from gateway.api.conditional import answer_conditionally
from gateway.api.errors import ApiError
from gateway.api.idempotency import idempotent
from gateway.api.media import check_media
from gateway.api.prefer import parse_cancel_after, parse_prefer_wait
from gateway.api.schemas import CreateEdit, CreateVideo, ListVideosQuery, load_body, load_query
from gateway.api.services import services
from gateway.api.wait import wait_until_done
from gateway.jobs.states import is_terminal
from gateway.store.videos import InvalidCursor

bp = Blueprint("videos", __name__, url_prefix="/v1/videos")

RETRY_AFTER_SECONDS = 5
_create_schema = CreateVideo()
_edit_schema = CreateEdit()
_list_schema = ListVideosQuery()


@bp.post("")
@require_key
@idempotent
def create() -> Response:
    svc = services()
    body = load_body(_create_schema, svc.config.max_body_bytes)
    check_media(body, g.api_key.id)
    cancel_after = parse_cancel_after(request.headers.get("Cancel-After"))
    wait = parse_prefer_wait(request.headers.get("Prefer"), svc.config.max_wait_seconds)
    view = videos.create_video(svc.db, g.api_key.id, body, cancel_after=cancel_after)
    return started(view, wait)


@bp.post("/<video_id>/edits")
@require_key
@idempotent
def edit(video_id: str) -> Response:
    """A new video from an instruction sent to the parent's chat session."""
    svc = services()
    body = load_body(_edit_schema, svc.config.max_body_bytes)
    cancel_after = parse_cancel_after(request.headers.get("Cancel-After"))
    wait = parse_prefer_wait(request.headers.get("Prefer"), svc.config.max_wait_seconds)
    try:
        view = sessions.create_edit(svc.db, g.api_key.id, video_id, body, cancel_after=cancel_after)
    except videos.VideoNotFound as exc:
        raise _not_found(video_id) from exc
    except sessions.ParentNotSucceeded as exc:
        raise ApiError(
            "parent_not_succeeded",
            f"The video is {exc.status}; only a succeeded video can be edited.",
            video_id=video_id,
        ) from exc
    except sessions.SessionBusy as exc:
        raise busy_problem(exc) from exc
    return started(view, wait)


def started(view: videos.VideoView, wait: int | None) -> Response:
    """The answer to a create: wake the worker, wait if asked, 200 when done, else 202."""
    services().wake()
    if wait:
        view = wait_for_video(view, wait)
    return video_response(view, wait)


def busy_problem(exc: sessions.SessionBusy) -> ApiError:
    return ApiError(
        "session_busy",
        f"Session {exc.session_id} is busy with {exc.busy_with}; retry when it is done.",
        session_id=exc.session_id,
        busy_with=exc.busy_with,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


@bp.get("/<video_id>")
@require_key
def read(video_id: str) -> Response:
    return jsonify(_get(video_id).resource(services().links_for_request()))


@bp.get("")
@require_key
def index() -> Response:
    query = load_query(_list_schema)
    try:
        result = videos.list_videos(services().db, g.api_key.id, **query)
    except InvalidCursor as exc:
        raise ApiError("invalid_parameter", "The cursor is not valid.", parameter="cursor") from exc
    links = services().links_for_request()
    return jsonify(
        {
            "object": "list",
            "data": [view.resource(links) for view in result.items],
            "next_cursor": result.next_cursor,
            "has_more": result.next_cursor is not None,
        }
    )


@bp.post("/<video_id>/cancel")
@require_key
def cancel(video_id: str) -> Response:
    svc = services()
    links = svc.links_for_request()
    try:
        result = videos.cancel_video(svc.db, g.api_key.id, video_id, links)
    except videos.VideoNotFound as exc:
        raise _not_found(video_id) from exc
    except videos.VideoFinished as exc:
        raise ApiError(
            "video_finished", f"The video is already {exc.status}.", video_id=video_id
        ) from exc
    if not result.immediate:
        svc.wake()
    response = jsonify(result.view.resource(links))
    response.status_code = 200 if result.immediate else 202
    return response


@bp.get("/<video_id>/content")
def content(video_id: str) -> Response:
    video = _video_for_download(video_id)
    path = services().media.path_for(video.id)
    output = video.output or {}
    if video.status != "succeeded" or not path.is_file():
        raise ApiError("video_not_ready", f"The video is {video.status}.", video_id=video_id)
    response = send_file(
        path,
        mimetype="video/mp4",
        conditional=False,  # made conditional below, with If-Match and Range settled first
        etag=output.get("sha256") or True,
        download_name=f"{video.id}.mp4",
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, max-age=0"
    return answer_conditionally(response, request, path.stat().st_size)


def _video_for_download(video_id: str) -> Any:
    """The owner's API key or a valid signed link (from ``output.url``) authorises a download."""
    args = request.args
    if "signature" in args or "expires" in args:
        if not services().signer.verify(request.path, args.get("expires"), args.get("signature")):
            raise ApiError("invalid_signature", "The signed link is invalid or has expired.")
        video = videos.find_video(services().db, video_id)
        if video is None:
            raise _not_found(video_id)
        return video
    authenticate()
    return _get(video_id).video


def _get(video_id: str) -> videos.VideoView:
    try:
        return videos.get_video(services().db, g.api_key.id, video_id)
    except videos.VideoNotFound as exc:
        raise _not_found(video_id) from exc


def wait_for_video(view: videos.VideoView, seconds: int) -> videos.VideoView:
    db, api_key_id, video_id = services().db, view.video.api_key_id, view.video.id
    return wait_until_done(
        lambda: videos.get_video(db, api_key_id, video_id),
        lambda latest: is_terminal(latest.video.status),
        seconds,
    )


def video_response(view: videos.VideoView, wait: int | None) -> Response:
    links = services().links_for_request()
    response = jsonify(view.resource(links))
    response.headers["Location"] = links.absolute(f"/v1/videos/{view.video.id}")
    if wait is not None:
        response.headers["Preference-Applied"] = f"wait={wait}"
    if wait and is_terminal(view.video.status):
        response.status_code = 200
    else:
        response.status_code = 202
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _not_found(video_id: str) -> ApiError:
    return ApiError("not_found", f"No video {video_id}.", video_id=video_id)
