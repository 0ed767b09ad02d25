"""``GET /v1/credits``: the NemoVideo balance behind the gateway.

Unlike ``/v1/me`` (which stays 200 so a "test connection" can tell a bad key
from a bad upstream), a failing upstream is a problem here: the caller asked
for the number.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from gateway.api.auth import require_key
from gateway.api.errors import ApiError
from gateway.api.services import services
from gateway.session_resources import credits_resource

bp = Blueprint("credits", __name__, url_prefix="/v1")

CREDITS_TIMEOUT = 10.0


@bp.get("/credits")
@require_key
def credits() -> Response:
    try:
        balance = services().call_upstream(lambda client: client.credits(), CREDITS_TIMEOUT)
    except TimeoutError as exc:
        raise ApiError("upstream_unavailable", "NemoVideo did not answer in time.") from exc
    return jsonify(credits_resource(balance))
