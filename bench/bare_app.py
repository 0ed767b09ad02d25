"""The baseline for the accept-rate benchmark: a bare Flask endpoint, nothing behind it.

gunicorn 'bench.bare_app:create_app()' answers ``POST /v1/videos`` with a fixed 202
JSON body after parsing the request's JSON: the floor cost of Flask + gunicorn.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request


def create_app() -> Flask:
    app = Flask("bare")

    @app.post("/v1/videos")
    def create() -> tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        return jsonify({"id": "vid_bare", "status": "queued", "prompt": body.get("prompt")}), 202

    return app
