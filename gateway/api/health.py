"""Probes and the contract: ``/healthz``, ``/readyz``, ``/openapi.yaml``."""

from __future__ import annotations

import logging
from functools import cache
from importlib.resources import files
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, Response, jsonify

from gateway.api.errors import ApiError
from gateway.api.services import services
from gateway.store.db import alembic_config

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)

# The spec is the repository's root openapi.yaml; an installed wheel carries a copy.
_SPEC_CANDIDATES = (Path(__file__).resolve().parents[2] / "openapi.yaml",)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    try:
        current, head = _revisions()
    except Exception as exc:
        log.warning("readiness check failed: %s", type(exc).__name__)
        raise ApiError("not_ready", "The database is not reachable.") from exc
    if current != head:
        raise ApiError("not_ready", "Database migrations are not at head.")
    return jsonify({"status": "ok", "database": services().db.dialect, "migration": current})


@bp.get("/openapi.yaml")
def openapi() -> Response:
    return Response(spec_text(), mimetype="application/yaml")


def _revisions() -> tuple[str | None, str | None]:
    db = services().db
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, _head()


@cache
def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@cache
def spec_text() -> str:
    for path in _SPEC_CANDIDATES:
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return (files("gateway") / "openapi.yaml").read_text(encoding="utf-8")
