"""Diagnosis for the accept-rate benchmark: the gateway with its durable insert removed.

gunicorn 'bench.nocommit_app:create_app()' serves the real gateway app, except
that ``Database.insert_rows`` (the group commit the create path waits for) does
nothing: requests are authenticated, validated and answered as usual, but no
video is stored. Never a way to run the gateway; it measures what the accept
path costs without waiting for its commit, next to the real app and bare Flask.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from gateway.api.services import EXTENSION
from gateway.app import create_app as create_gateway_app


def create_app() -> Flask:
    app = create_gateway_app()
    db = app.extensions[EXTENSION].db

    def discard(rows: Any) -> None:
        return None

    db.insert_rows = discard  # this instance only: the class keeps its real method
    return app
