"""Every /v1 route needs a valid Bearer key; the key never comes back."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.store.keys import disable_key

from .conftest import Key, services

PROTECTED = [
    ("GET", "/v1/videos"),
    ("POST", "/v1/videos"),
    ("GET", "/v1/videos/vid_x"),
    ("POST", "/v1/videos/vid_x/cancel"),
    ("GET", "/v1/videos/vid_x/content"),
    ("GET", "/v1/me"),
    ("GET", "/v1/webhooks/secret"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer ngw_not_a_real_key", "Basic dXNlcjpwYXNz", "Bearer "]
)
def test_missing_or_bad_key_is_401(
    client: FlaskClient, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.open(path, method=method, headers=headers, json={"prompt": "x"})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_disabled_key_is_401(app: Flask, client: FlaskClient, key: Key) -> None:
    disable_key(services(app).db, key.id)
    assert client.get("/v1/videos", headers=key.headers).status_code == 401


def test_key_is_never_logged_or_echoed(
    client: FlaskClient, key: Key, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = client.get("/v1/me", headers={"Authorization": "Bearer ngw_leaky_value"})
    good = client.get("/v1/me", headers=key.headers)
    assert "ngw_leaky_value" not in bad.get_data(as_text=True)
    assert key.plaintext not in good.get_data(as_text=True)
    assert "ngw_leaky_value" not in caplog.text
    assert key.plaintext not in caplog.text


def test_webhook_secret_is_the_keys_own(client: FlaskClient, key: Key, other_key: Key) -> None:
    mine = client.get("/v1/webhooks/secret", headers=key.headers).get_json()["secret"]
    theirs = client.get("/v1/webhooks/secret", headers=other_key.headers).get_json()["secret"]
    assert mine.startswith("whsec_") and theirs.startswith("whsec_")
    assert mine != theirs
