"""``/v1/webhooks``: what a receiver needs to verify our Standard Webhooks signatures."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify

from gateway.api.auth import require_key
from gateway.api.services import services

bp = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks")


@bp.get("/secret")
@require_key
def secret() -> Response:
    # The one place a secret is returned after creation: receivers need it to verify.
    secret = services().db.keyring.open(g.api_key.webhook_secret)  # sealed at rest
    response = jsonify({"object": "webhook_secret", "secret": secret})
    response.headers["Cache-Control"] = "no-store"
    return response
