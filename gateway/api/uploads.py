"""``POST /v1/uploads``: a media file as multipart (streamed to disk) or fetched from a URL.

The app's ``MAX_CONTENT_LENGTH`` is the 64 KiB JSON limit; a multipart upload
lifts it for this request only, to the upload limit plus room for the form's
headers, and the body is read from ``request.stream`` in chunks (never
``request.files``, which would parse the whole form first). Not idempotent by
key: hashing the body would mean reading it twice. Upload again instead.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from gateway import uploads_service as uploads
from gateway.api.auth import require_key
from gateway.api.errors import ApiError
from gateway.api.media import media_problem
from gateway.api.schemas import UploadFromUrl, load_body
from gateway.api.services import services
from gateway.media.formats import MediaRejected, too_large
from gateway.media.multipart import CHUNK, MultipartError
from gateway.session_resources import upload_resource

bp = Blueprint("uploads", __name__, url_prefix="/v1/uploads")

# Room for the multipart boundaries and part headers around the file.
FORM_OVERHEAD = 64 * 1024
# A refused upload's remaining body is read and dropped up to this much, so the
# client reads our problem instead of a reset connection; beyond it we close.
DRAIN_LIMIT = 16 * 1024 * 1024
_url_schema = UploadFromUrl()


@bp.post("")
@require_key
def create() -> Response:
    try:
        upload = _from_form() if request.mimetype == "multipart/form-data" else _from_url()
    except MediaRejected as exc:
        _drain()
        raise media_problem(exc) from exc
    response = jsonify(upload_resource(upload))
    response.status_code = 201
    return response


def _from_form() -> object:
    svc = services()
    limit = svc.config.max_upload_bytes
    boundary = request.mimetype_params.get("boundary")
    if not boundary:
        raise ApiError("bad_request", "A multipart body needs a boundary parameter.")
    if (request.content_length or 0) > limit + FORM_OVERHEAD:
        raise too_large(limit)  # refused on the header, before reading the body
    request.max_content_length = limit + FORM_OVERHEAD
    try:
        return uploads.from_multipart(
            svc.db, svc.config, g.api_key.id, request.stream.read, boundary.encode()
        )
    except RequestEntityTooLarge as exc:
        raise too_large(limit) from exc
    except MultipartError as exc:
        raise ApiError("bad_request", str(exc)) from exc


def _from_url() -> object:
    svc = services()
    body = load_body(_url_schema, svc.config.max_body_bytes)
    try:
        return uploads.from_url(svc.db, svc.config, g.api_key.id, body["url"])
    except uploads.UnsafeMediaUrl as exc:
        errors = [{"field": "url", "message": str(exc)}]
        raise ApiError("validation_error", errors=errors) from exc
    except uploads.FetchFailed as exc:
        raise ApiError("media_fetch_failed", f"Fetching the URL failed: {exc}.") from exc


def _drain() -> None:
    """Read what is left of a refused body, within ``DRAIN_LIMIT``."""
    if request.mimetype != "multipart/form-data" or (request.content_length or 0) > DRAIN_LIMIT:
        return
    left = DRAIN_LIMIT
    request.max_content_length = max(request.max_content_length or 0, DRAIN_LIMIT)
    try:
        stream = request.stream
        while left > 0 and (chunk := stream.read(min(CHUNK, left))):
            left -= len(chunk)
    except (OSError, RequestEntityTooLarge):
        pass  # the client went away, or the body exceeds what we allow: we close
