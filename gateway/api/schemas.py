"""Request bodies and query strings: marshmallow schemas and the JSON reading around them.

Bodies are read in three checks before any handler logic runs: size (413
``body_too_large``), media type and JSON syntax (415/400 ``invalid_json``),
then the schema (422 ``validation_error`` with one entry per bad field). Unknown
fields are refused rather than ignored, so a typo in an optional field name
does not silently produce a video with defaults.
"""

from __future__ import annotations

import json
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError, fields, validate, validates

from gateway.api.errors import ApiError
from gateway.store.models import VIDEO_STATUSES
from gateway.webhooks.progress import FILTER_EVENTS
from gateway.webhooks.ssrf import validate_url_syntax

MAX_METADATA_BYTES = 4096
MAX_MEDIA_URLS = 10
ASPECT_RATIOS = ("16:9", "9:16", "1:1")
RESOLUTIONS = ("720p", "1080p")
WEBHOOK_FILTERS = tuple(FILTER_EVENTS)


def _http_url() -> fields.Url:
    # require_tld=False: receivers on localhost or a bare host name are legitimate
    # in single-machine setups; the delivery layer applies the address rules.
    return fields.Url(
        schemes={"http", "https"}, require_tld=False, validate=validate.Length(max=2048)
    )


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

    webhook_url = _http_url()
    webhook_events_filter = fields.List(
        fields.String(validate=validate.OneOf(WEBHOOK_FILTERS)), validate=validate.Length(min=1)
    )
    metadata = fields.Dict(keys=fields.String())

    @validates("webhook_url")
    def _webhook_url_syntax(self, value: str, **_: Any) -> None:
        reason = validate_url_syntax(value)
        if reason:
            raise ValidationError(reason)

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
    media_urls = fields.List(_http_url(), validate=validate.Length(max=MAX_MEDIA_URLS))
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
    media_urls = fields.List(_http_url(), validate=validate.Length(max=MAX_MEDIA_URLS))
    upload_ids = _upload_ids()


class UploadFromUrl(Schema):
    url = fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=2048),
    )


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
    """The request body as a JSON object, or a problem (413, 415, 400)."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError("body_too_large", f"The body must be at most {max_bytes} bytes.")
    if not request.is_json:
        raise ApiError("invalid_json", "Send the body as application/json.", status=415)
    # MAX_CONTENT_LENGTH also bounds chunked bodies without a Content-Length (413).
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("invalid_json", "The body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise ApiError("invalid_json", "The body must be a JSON object.")
    return body


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
