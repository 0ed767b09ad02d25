"""``GET /v1/me``: who the API key is, and the NemoVideo credits behind the gateway.

The only handler that calls the upstream. A failing upstream does not fail
the request: credits are null and ``upstream.error`` says why, so clients (and
the integrations' "test connection" step) can tell a bad key from a bad upstream.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Response, g, jsonify

from gateway.api.auth import require_key
from gateway.api.errors import ERROR_CODES
from gateway.api.services import services
from gateway.representation import iso
from gateway.upstream.errors import UpstreamError

bp = Blueprint("me", __name__, url_prefix="/v1")
log = logging.getLogger(__name__)

CREDITS_TIMEOUT = 10.0


@bp.get("/me")
@require_key
def me() -> Response:
    key = g.api_key
    credits, error = _credits()
    return jsonify(
        {
            "object": "me",
            "key": {
                "id": key.id,
                "name": key.name,
                "prefix": key.key_prefix,
                "created_at": iso(key.created_at),
            },
            "credits": credits,
            "upstream": {"host": urlsplit(services().config.nemo_api_url).hostname, "error": error},
        }
    )


def _credits() -> tuple[dict[str, int] | None, dict[str, str] | None]:
    try:
        result = services().call_upstream(lambda client: client.credits(), CREDITS_TIMEOUT)
    except UpstreamError as exc:
        code = exc.code if exc.code in ERROR_CODES else "upstream_error"
    except TimeoutError:
        code = "upstream_unavailable"
    except Exception:
        log.exception("credits lookup failed")
        code = "upstream_error"
    else:
        return {"available": result.available, "frozen": result.frozen, "total": result.total}, None
    # The title, not the upstream's message: an upstream text is not ours to echo.
    return None, {"code": code, "message": ERROR_CODES[code].title}
