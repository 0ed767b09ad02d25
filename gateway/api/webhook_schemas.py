"""Request bodies and query strings of ``/v1/webhooks`` and the delivery log.

The URL check here is syntactic (scheme, host, no credentials): the API key's
owner learns of a typo at once. Addresses are judged in the service (hosts
written as addresses) and again at every delivery (names, after resolving).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates

from gateway.net.guard import MAX_URL_LENGTH, validate_url_syntax
from gateway.store.subscriptions import ACTIVE, DISABLED
from gateway.subscriptions_service import SUBSCRIBABLE_EVENTS

MAX_DESCRIPTION = 500


def _url(**options: Any) -> fields.String:
    # Checked by validate_url_syntax (below), which accepts what the delivery
    # client accepts: bare host names and IPv6 literals included.
    return fields.String(validate=validate.Length(min=1, max=MAX_URL_LENGTH), **options)


def _events(**options: Any) -> fields.List:
    return fields.List(
        fields.String(validate=validate.OneOf(SUBSCRIBABLE_EVENTS)),
        validate=validate.Length(min=1, max=len(SUBSCRIBABLE_EVENTS) * 2),
        **options,
    )


def _description() -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=MAX_DESCRIPTION))


class _UrlChecked(Schema):
    @validates("url")
    def _url_syntax(self, value: str, **_: Any) -> None:
        reason = validate_url_syntax(value)
        if reason:
            raise ValidationError(reason)


class CreateWebhook(_UrlChecked):
    url = _url(required=True)
    events = _events(required=True)
    description = _description()


class UpdateWebhook(_UrlChecked):
    url = _url()
    events = _events()
    description = _description()
    status = fields.String(validate=validate.OneOf((ACTIVE, DISABLED)))


class RecoverWebhook(Schema):
    since = fields.AwareDateTime(required=True, format="iso")


class ListDeliveriesQuery(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Regexp(r"^dlv_[0-9a-z]{20}$"))
