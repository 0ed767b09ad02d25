"""The REST API: one blueprint per resource, one error shape, registered by ``init_api``."""

from __future__ import annotations

from flask import Flask

from gateway.api import (
    credits,
    deliveries,
    health,
    me,
    sessions,
    subscriptions,
    uploads,
    videos,
    webhooks,
)
from gateway.api.errors import ERROR_CODES, ApiError, register_error_handlers

__all__ = ["ERROR_CODES", "ApiError", "init_api"]

BLUEPRINTS = (
    videos.bp,
    me.bp,
    webhooks.bp,
    subscriptions.bp,
    deliveries.bp,
    health.bp,
    sessions.bp,
    uploads.bp,
    credits.bp,
)


def init_api(app: Flask) -> None:
    # Both before any rule is added, which reads them. No merging of "//": its
    # 308 redirect would be the one text/html answer under /v1; a 404 problem instead.
    app.url_map.merge_slashes = False
    app.url_map.converters["webhook_id"] = subscriptions.WebhookIdConverter
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    register_error_handlers(app)
