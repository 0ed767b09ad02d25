"""The sandbox upstream's Flask application."""

from __future__ import annotations

from flask import Flask

from gateway.sandbox import api_account, api_chat, api_render, api_session, envelope, hooks, ops
from gateway.sandbox.config import SandboxConfig
from gateway.sandbox.dialects import dialect_named
from gateway.sandbox.faults import FaultBoard
from gateway.sandbox.renders import RenderPool
from gateway.sandbox.store import Store


def create_app(config: SandboxConfig | None = None) -> Flask:
    config = config or SandboxConfig()
    # No static folder: /static/renders/... is the references dialect's file host.
    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False  # keep the envelope's code/message/data order on the wire
    app.extensions["sandbox.initial_config"] = config
    app.extensions["sandbox.config"] = config
    app.extensions["sandbox.dialect"] = dialect_named(config.dialect)
    app.extensions["sandbox.store"] = Store(config)
    app.extensions["sandbox.faults"] = FaultBoard()
    app.extensions["sandbox.renders"] = RenderPool(config)
    envelope.init_app(app)
    hooks.init_app(app)
    for module in (api_account, api_session, api_chat, api_render, ops):
        app.register_blueprint(module.bp)
    return app
