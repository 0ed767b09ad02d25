"""/v1/me (the only upstream call) and the operational endpoints."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from gateway.upstream.errors import InsufficientCredits, UpstreamUnavailable

from .conftest import FakeUpstream, Key


def test_me_reports_key_and_credits(client: FlaskClient, key: Key, upstream: FakeUpstream) -> None:
    response = client.get("/v1/me", headers=key.headers)
    assert response.status_code == 200
    me = response.get_json()
    assert me["key"]["id"] == key.id
    assert me["key"]["name"] == "key A"
    assert key.plaintext.startswith(me["key"]["prefix"])
    assert me["credits"] == {"available": 90, "frozen": 10, "total": 100}
    assert me["upstream"] == {"host": "mega-api-prod.nemovideo.ai", "error": None}
    assert upstream.calls == 1


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UpstreamUnavailable("connection refused"), "upstream_unavailable"),
        (InsufficientCredits("no credits"), "insufficient_credits"),
        (RuntimeError("bug"), "upstream_error"),
    ],
)
def test_me_with_a_failing_upstream_still_answers(
    client: FlaskClient, key: Key, upstream: FakeUpstream, error: Exception, code: str
) -> None:
    upstream.error = error
    response = client.get("/v1/me", headers=key.headers)
    assert response.status_code == 200
    me = response.get_json()
    assert me["credits"] is None
    assert me["upstream"]["error"]["code"] == code


def test_me_with_a_hanging_upstream_times_out(
    app: Flask, client: FlaskClient, key: Key, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.api import me as me_module

    class Hanging:
        async def credits(self) -> None:
            await asyncio.sleep(30)

    app.extensions["gateway"].upstream_factory = Hanging
    monkeypatch.setattr(me_module, "CREDITS_TIMEOUT", 0.2)
    response = client.get("/v1/me", headers=key.headers)
    assert response.get_json()["upstream"]["error"]["code"] == "upstream_unavailable"


def test_healthz(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_checks_the_database(client: FlaskClient) -> None:
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ok"
    assert ready["database"] == "sqlite"
    assert ready["migration"]


def test_readyz_is_503_when_the_database_is_gone(app: Flask, client: FlaskClient) -> None:
    app.extensions["gateway"].db.engine.dispose()
    services = app.extensions["gateway"]
    original = services.db.engine.connect

    def broken() -> None:
        raise OSError("database unreachable")

    services.db.engine.connect = broken  # type: ignore[method-assign]
    try:
        response = client.get("/readyz")
    finally:
        services.db.engine.connect = original  # type: ignore[method-assign]
    assert response.status_code == 503
    assert response.get_json()["code"] == "not_ready"


def test_openapi_yaml_is_served(client: FlaskClient) -> None:
    response = client.get("/openapi.yaml")
    assert response.status_code == 200
    assert yaml.safe_load(response.data)["openapi"].startswith("3.1")
