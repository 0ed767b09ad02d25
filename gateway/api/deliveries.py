"""The delivery log: ``GET /v1/webhooks/{id}/deliveries``, ``GET /v1/videos/{id}/deliveries``,
``POST /v1/deliveries/{id}/retry``."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify

from gateway import deliveries_service as deliveries
from gateway.api.auth import require_key
from gateway.api.errors import ApiError
from gateway.api.idempotency import idempotent
from gateway.api.schemas import load_query
from gateway.api.services import services
from gateway.api.webhook_schemas import ListDeliveriesQuery
from gateway.subscriptions_service import SubscriptionNotFound
from gateway.videos_service import VideoNotFound

bp = Blueprint("deliveries", __name__)

_list_schema = ListDeliveriesQuery()


@bp.get("/v1/webhooks/<webhook_id:webhook_id>/deliveries")
@require_key
def for_webhook(webhook_id: str) -> Response:
    query = load_query(_list_schema)
    try:
        page = deliveries.subscription_deliveries(services().db, g.api_key.id, webhook_id, **query)
    except SubscriptionNotFound as exc:
        raise ApiError("not_found", f"No webhook {webhook_id}.", webhook_id=webhook_id) from exc
    return jsonify(deliveries.page_resource(page))


@bp.get("/v1/videos/<video_id>/deliveries")
@require_key
def for_video(video_id: str) -> Response:
    query = load_query(_list_schema)
    try:
        page = deliveries.video_deliveries(services().db, g.api_key.id, video_id, **query)
    except VideoNotFound as exc:
        raise ApiError("not_found", f"No video {video_id}.", video_id=video_id) from exc
    return jsonify(deliveries.page_resource(page))


@bp.post("/v1/deliveries/<delivery_id>/retry")
@require_key
@idempotent
def retry(delivery_id: str) -> Response:
    svc = services()
    try:
        entry = deliveries.retry_delivery(svc.db, g.api_key.id, delivery_id)
    except deliveries.DeliveryNotFound as exc:
        raise ApiError("not_found", f"No delivery {delivery_id}.") from exc
    except deliveries.DeliveryBusy as exc:
        raise ApiError(
            "delivery_in_progress",
            "The delivery is being sent right now; retry in a few seconds.",
            headers={"Retry-After": "5"},
        ) from exc
    response = jsonify(deliveries.delivery_resource(entry))
    response.status_code = 202
    return response
