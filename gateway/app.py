"""The web application factory: ``create_app(config)``.

gunicorn runs ``gateway.app:create_app()`` (configuration from the
environment); tests and ``nemo-gateway serve`` pass a ``GatewayConfig``. The
factory opens the database (migrating it to head), the media store and the URL
signer, and registers the API. It never starts the scheduler or the worker:
that happens in exactly one place per process kind (``gateway.commands``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response

from gateway.api import init_api
from gateway.api.services import EXTENSION, Services
from gateway.config import GatewayConfig, from_env
from gateway.media.signing import UrlSigner
from gateway.media.store import MediaStore
from gateway.representation import Links
from gateway.store import crypto, files
from gateway.store.db import Database

SECRET_KEY_FILE = "signing.key"
# Used for absolute links built outside a request when GATEWAY_PUBLIC_URL is unset.
LOCAL_BASE_URL = "http://localhost:8080"


class GatewayFlask(Flask):
    def make_default_options_response(self) -> Response:
        """``OPTIONS``: 204 with ``Allow`` (the same list a 405 gives), no body and no type.

        Flask's default is an empty ``text/html`` 200; nothing in ``/v1`` answers HTML.
        """
        response = super().make_default_options_response()
        response.status_code = 204
        response.headers.pop("Content-Type", None)
        return response


def create_app(
    config: GatewayConfig | None = None,
    *,
    upstream: Any = None,
    secret_key: str | None = None,
) -> Flask:
    """Build the web app. ``upstream``: an object with async ``credits()`` (tests' stub)."""
    if config is None:
        config = from_env()
    secret_key = secret_key or config.secret_key
    app = GatewayFlask("gateway", static_folder=None)
    # Werkzeug refuses longer bodies (413) even without a Content-Length header.
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.sort_keys = False  # keep the documented field order
    app.extensions[EXTENSION] = build_services(config, upstream=upstream, secret_key=secret_key)
    init_api(app)
    return app


def build_services(
    config: GatewayConfig, *, upstream: Any = None, secret_key: str | None = None
) -> Services:
    # Database, media, uploads, keys: readable by the gateway's own user only.
    files.private_dir(config.data_dir)
    db = Database(config.db_url, keyring=crypto.load(config.data_dir))
    db.upgrade()
    signer = UrlSigner(signing_key(config.data_dir, secret_key))
    links = Links((config.public_url or LOCAL_BASE_URL).rstrip("/"), signer, config.output_url_ttl)
    return Services(
        config=config,
        db=db,
        media=MediaStore(config.media_dir),
        signer=signer,
        links=links,
        upstream_factory=_upstream_factory(config, upstream),
    )


def signing_key(data_dir: Path, explicit: str | None = None) -> bytes:
    """The URL-signing key: ``explicit`` if given, else one generated once per data dir.

    Every process sharing the data dir (web workers, the worker) must sign with
    the same key, so the generated key is persisted (mode 0600) and created
    atomically: concurrent first starts all end up reading the same file.
    """
    if explicit:
        return explicit.encode()
    path = data_dir / SECRET_KEY_FILE
    files.create_once(path, secrets.token_hex(32))
    return path.read_text().strip().encode()


def _upstream_factory(config: GatewayConfig, upstream: Any) -> Callable[[], Any]:
    if upstream is not None:
        return lambda: upstream

    def build() -> Any:
        # Imported late: a web process that never serves /v1/me never loads the client.
        from gateway.runtime import build_client

        return build_client(config)

    return build
