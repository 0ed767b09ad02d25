"""``/v1/webhooks``: subscriptions (create, list, read, change, delete), rotation, recovery.

``GET /v1/webhooks/secret`` (the API key's own secret) lives in
``webhooks.py``. ``secret`` is never a webhook id (``WebhookIdConverter``): a
literal route wins only for its own methods, so without that PATCH or DELETE
of ``/v1/webhooks/secret`` would reach the subscription routes and OPTIONS
would list them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Blueprint, Response, g, jsonify
from werkzeug.routing import BaseConverter

from gateway import subscriptions_service as subscriptions
from gateway.api.auth import require_key
from gateway.api.errors import ApiError
from gateway.api.idempotency import idempotent
from gateway.api.schemas import load_body
from gateway.api.services import services
from gateway.api.webhook_schemas import CreateWebhook, RecoverWebhook, UpdateWebhook


class WebhookIdConverter(BaseConverter):
    """A path segment naming a webhook: anything but the reserved ``secret``."""

    regex = r"(?!secret(?:/|$))[^/]+"


bp = Blueprint("subscriptions", __name__, url_prefix="/v1/webhooks")

_create_schema = CreateWebhook()
_update_schema = UpdateWebhook()
_recover_schema = RecoverWebhook()


@bp.post("")
@require_key
@idempotent
def create() -> Response:
    svc = services()
    body = load_body(_create_schema, svc.config.max_body_bytes)
    with _mapped_errors():
        created = subscriptions.create_subscription(
            svc.db, g.api_key.id, body, url_guard=svc.config.url_guard
        )
    response = _secret_response(created)
    response.status_code = 201
    response.headers["Location"] = svc.links_for_request().absolute(
        f"/v1/webhooks/{created.subscription.id}"
    )
    return response


@bp.get("")
@require_key
def index() -> Response:
    rows = subscriptions.list_subscriptions(services().db, g.api_key.id)
    data = [subscriptions.subscription_resource(row) for row in rows]
    return jsonify({"object": "list", "data": data, "next_cursor": None, "has_more": False})


@bp.get("/<webhook_id:webhook_id>")
@require_key
def read(webhook_id: str) -> Response:
    with _mapped_errors(webhook_id):
        row = subscriptions.get_subscription(services().db, g.api_key.id, webhook_id)
    return jsonify(subscriptions.subscription_resource(row))


@bp.patch("/<webhook_id:webhook_id>")
@require_key
def change(webhook_id: str) -> Response:
    svc = services()
    body = load_body(_update_schema, svc.config.max_body_bytes)
    with _mapped_errors(webhook_id):
        row = subscriptions.update_subscription(
            svc.db, g.api_key.id, webhook_id, body, url_guard=svc.config.url_guard
        )
    return jsonify(subscriptions.subscription_resource(row))


@bp.delete("/<webhook_id:webhook_id>")
@require_key
def delete(webhook_id: str) -> Response:
    with _mapped_errors(webhook_id):
        subscriptions.delete_subscription(services().db, g.api_key.id, webhook_id)
    return Response(status=204)


@bp.post("/<webhook_id:webhook_id>/rotate-secret")
@require_key
@idempotent
def rotate(webhook_id: str) -> Response:
    with _mapped_errors(webhook_id):
        created = subscriptions.rotate_secret(services().db, g.api_key.id, webhook_id)
    return _secret_response(created)


@bp.post("/<webhook_id:webhook_id>/recover")
@require_key
@idempotent
def recover(webhook_id: str) -> Response:
    svc = services()
    body = load_body(_recover_schema, svc.config.max_body_bytes)
    with _mapped_errors(webhook_id):
        count = subscriptions.recover(svc.db, g.api_key.id, webhook_id, body["since"])
    response = jsonify({"object": "webhook_recovery", "webhook_id": webhook_id, "replayed": count})
    response.status_code = 202
    return response


def _secret_response(created: subscriptions.Created) -> Response:
    resource = subscriptions.subscription_resource(created.subscription, created.secret)
    response = jsonify(resource)
    response.headers["Cache-Control"] = "no-store"  # the secret is shown this once
    return response


_SERVICE_ERRORS = (
    subscriptions.SubscriptionNotFound,
    subscriptions.InvalidWebhookUrl,
    subscriptions.SubscriptionLimit,
    subscriptions.SubscriptionDisabled,
)


@contextmanager
def _mapped_errors(webhook_id: str | None = None) -> Iterator[None]:
    """The service's errors as problems."""
    try:
        yield
    except _SERVICE_ERRORS as exc:
        raise _problem(exc, webhook_id) from exc


def _problem(exc: Exception, webhook_id: str | None) -> ApiError:
    if isinstance(exc, subscriptions.SubscriptionNotFound):
        return ApiError("not_found", f"No webhook {webhook_id}.", webhook_id=webhook_id)
    if isinstance(exc, subscriptions.InvalidWebhookUrl):
        return ApiError("validation_error", errors=[{"field": "url", "message": exc.reason}])
    if isinstance(exc, subscriptions.SubscriptionLimit):
        limit = subscriptions.MAX_SUBSCRIPTIONS
        return ApiError("webhook_limit_reached", f"An API key may have {limit} webhooks.")
    # SubscriptionDisabled, the last of _SERVICE_ERRORS.
    return ApiError(
        "webhook_disabled",
        "Re-enable the webhook (PATCH status active) before recovering.",
        webhook_id=webhook_id,
    )
