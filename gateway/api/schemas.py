"""Request bodies and query strings: marshmallow schemas and the JSON reading around them.

Bodies are read in three checks before any handler logic runs: size (413
``body_too_large``), media type, then syntax, depth and text (415/400
``invalid_json``, 422 for a lone surrogate; see ``gateway.api.body``), then
the schema (422 ``validation_error`` with one entry per bad field). Unknown
fields are refused rather than ignored, so a typo in an optional field name
does not silently produce a video with defaults.
"""

from __future__ import annotations

import json
from typing import Any

from flask import has_app_context, request
from marshmallow import Schema, ValidationError, fields, validate, validates

from gateway.api.body import parse_json_object, read_body
from gateway.api.errors import ApiError
from gateway.api.services import services
from gateway.net.guard import STRICT, UrlGuard
from gateway.store.models import VIDEO_STATUSES
from gateway.webhooks.progress import FILTER_EVENTS

MAX_METADATA_BYTES = 4096
MAX_MEDIA_URLS = 10
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
RESOLUTIONS = ("720p", "1080p")
WEBHOOK_FILTERS = tuple(FILTER_EVENTS)


class OutboundUrl(fields.String):
    """A URL the gateway will call on the caller's behalf (webhook, media, upload).

    Every such field runs the one URL guard's request-time rule
    (``gateway.net.guard``) under the deployment's switches, so the same bad
    URL gets the same 422 ``validation_error`` message on every endpoint. The
    guard runs again, after resolving, right before each call.
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        url: str = super()._deserialize(value, attr, data, **kwargs)
        reason = _url_guard().refusal(url)
        if reason:
            raise ValidationError(reason)
        return url


def _url_guard() -> UrlGuard:
    # Outside an app (a schema used on its own) the strictest rule applies.
    return services().config.url_guard if has_app_context() else STRICT


class JsonInteger(fields.Integer):
    """An integer as JSON counts them: ``68`` and ``68.0`` are the same number.

    Strict otherwise: ``"68"``, ``68.5`` and ``true`` are refused.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._validated(value)


def _upload_ids() -> fields.List:
    return fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        validate=validate.Length(max=MAX_MEDIA_URLS),
    )


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


class Delivery(Schema):
    """Where and what to notify about a video: shared by creates, edits and exports."""

    webhook_url = OutboundUrl()
    webhook_events_filter = fields.List(
        fields.String(validate=validate.OneOf(WEBHOOK_FILTERS)), validate=validate.Length(min=1)
    )
    metadata = fields.Dict(keys=fields.String())

    @validates("metadata")
    def _metadata_size(self, value: dict[str, Any], **_: Any) -> None:
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_METADATA_BYTES:
            raise ValidationError(f"Must be at most {MAX_METADATA_BYTES} bytes of JSON.")


class CreateVideo(Delivery):
    prompt = fields.String(required=True, validate=[validate.Length(min=1, max=4000), _not_blank])
    duration_seconds = JsonInteger(validate=validate.Range(min=2, max=120))
    aspect_ratio = fields.String(validate=validate.OneOf(ASPECT_RATIOS))
    resolution = fields.String(validate=validate.OneOf(RESOLUTIONS))
    language = fields.String(validate=validate.Length(min=1, max=16))
    media_urls = fields.List(OutboundUrl(), validate=validate.Length(max=MAX_MEDIA_URLS))
    upload_ids = _upload_ids()


class CreateEdit(Delivery):
    instruction = fields.String(
        required=True, validate=[validate.Length(min=1, max=4000), _not_blank]
    )


class CreateExport(Delivery):
    pass


class CreateSession(Schema):
    language = fields.String(validate=validate.Length(min=1, max=16))


class CreateMessage(Schema):
    text = fields.String(required=True, validate=[validate.Length(min=1, max=4000), _not_blank])
    media_urls = fields.List(OutboundUrl(), validate=validate.Length(max=MAX_MEDIA_URLS))
    upload_ids = _upload_ids()


class UploadFromUrl(Schema):
    url = OutboundUrl(required=True)


class ListVideosQuery(Schema):
    status = fields.String(validate=validate.OneOf(VIDEO_STATUSES))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Length(min=1, max=200))


def flatten_errors(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """Marshmallow's nested messages as a flat list of ``{field, message}``."""
    if isinstance(messages, dict):
        out: list[dict[str, str]] = []
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(flatten_errors(value, name))
        return out
    if isinstance(messages, list | tuple):
        return [{"field": prefix or "body", "message": str(m)} for m in messages]
    return [{"field": prefix or "body", "message": str(messages)}]


def read_json_object(max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object, or a problem (413, 415, 400, 422)."""
    raw = read_body(max_bytes)
    if not request.is_json:
        raise ApiError("invalid_json", "Send the body as application/json.", status=415)
    return parse_json_object(raw)


def load_body(schema: Schema, max_bytes: int) -> dict[str, Any]:
    """Read and validate the JSON body with ``schema``; a 4xx problem otherwise."""
    body = read_json_object(max_bytes)
    try:
        return schema.load(body)
    except ValidationError as exc:
        raise ApiError("validation_error", errors=flatten_errors(exc.messages)) from exc


def load_query(schema: Schema) -> dict[str, Any]:
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as exc:
        raise ApiError("invalid_parameter", errors=flatten_errors(exc.messages)) from exc
