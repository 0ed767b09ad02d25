"""Media given with a request (``media_urls``, ``upload_ids``): checked before it is stored.

A wrong format is refused here with ``unsupported_media`` rather than minutes
later by the upstream, and an upload id must name one of the key's uploads.
"""

from __future__ import annotations

from typing import Any

from gateway import uploads_service as uploads
from gateway.api.errors import ApiError
from gateway.api.services import services
from gateway.media.formats import MediaRejected, check_url


def media_problem(exc: MediaRejected) -> ApiError:
    return ApiError(exc.code, exc.message, **exc.extra)


def check_media(body: dict[str, Any], api_key_id: str) -> None:
    try:
        for url in body.get("media_urls") or []:
            check_url(url)
    except MediaRejected as exc:
        raise media_problem(exc) from exc
    unknown = uploads.missing(services().db, api_key_id, body.get("upload_ids") or [])
    if unknown:
        errors = [{"field": "upload_ids", "message": f"No upload {i}."} for i in unknown]
        raise ApiError("validation_error", errors=errors)
