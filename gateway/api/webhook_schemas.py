"""Request bodies and query strings of ``/v1/webhooks`` and the delivery log.

The URL is checked by the one URL guard's request-time rule (``OutboundUrl``,
as for every URL the gateway calls), and again at every delivery after
resolving the name.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from gateway.api.schemas import OutboundUrl
from gateway.store.subscriptions import ACTIVE, DISABLED
from gateway.subscriptions_service import SUBSCRIBABLE_EVENTS

MAX_DESCRIPTION = 500


def _events(**options: Any) -> fields.List:
    return fields.List(
        fields.String(validate=validate.OneOf(SUBSCRIBABLE_EVENTS)),
        validate=validate.Length(min=1, max=len(SUBSCRIBABLE_EVENTS) * 2),
        **options,
    )


def _description() -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=MAX_DESCRIPTION))


class CreateWebhook(Schema):
    url = OutboundUrl(required=True)
    events = _events(required=True)
    description = _description()


class UpdateWebhook(Schema):
    url = OutboundUrl()
    events = _events()
    description = _description()
    status = fields.String(validate=validate.OneOf((ACTIVE, DISABLED)))


class RecoverWebhook(Schema):
    since = fields.AwareDateTime(required=True, format="iso")


class ListDeliveriesQuery(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Regexp(r"^dlv_[0-9a-z]{20}$"))
