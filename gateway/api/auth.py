"""Bearer API keys: ``Authorization: Bearer <key>`` sets ``g.api_key``.

The key itself is never logged or echoed; a failure says only that the key is
missing or invalid.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request

from gateway.api.errors import ApiError
from gateway.api.services import services
from gateway.store import keys

F = TypeVar("F", bound=Callable[..., Any])

_CHALLENGE = 'Bearer realm="nemo-gateway"'


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate() -> Any:
    """Resolve the request's API key into ``g.api_key`` or raise a 401 problem."""
    token = bearer_token()
    if token is None:
        raise ApiError(
            "unauthorized",
            "Send the API key as 'Authorization: Bearer <key>'.",
            headers={"WWW-Authenticate": _CHALLENGE},
        )
    api_key = keys.authenticate_cached(services().db, token)
    if api_key is None:
        raise ApiError(
            "unauthorized",
            "The API key is not valid.",
            headers={"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'},
        )
    g.api_key = api_key
    return api_key


def require_key(view: F) -> F:
    """Decorator: the view runs only with a valid API key in ``g.api_key``."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        authenticate()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
