"""Bad input is refused with a problem, and nothing is created."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.store.models import ChatSession, IdempotencyKey, Video

from .conftest import Key, count

INVALID_BODIES = {
    "no prompt": {"duration_seconds": 10},
    "empty prompt": {"prompt": ""},
    "blank prompt": {"prompt": "   "},
    "prompt too long": {"prompt": "x" * 4001},
    "prompt not a string": {"prompt": 42},
    "duration as string": {"prompt": "x", "duration_seconds": "10"},
    "duration too long": {"prompt": "x", "duration_seconds": 121},
    "duration a boolean": {"prompt": "x", "duration_seconds": True},
    "duration a fraction": {"prompt": "x", "duration_seconds": 10.5},
    "bad aspect ratio": {"prompt": "x", "aspect_ratio": "4:3"},
    "bad resolution": {"prompt": "x", "resolution": "4k"},
    "unknown field": {"prompt": "x", "colour": "red"},
    "ftp webhook": {"prompt": "x", "webhook_url": "ftp://example.com/hook"},
    "webhook with credentials": {"prompt": "x", "webhook_url": "https://u:p@example.com/"},
    "bad filter": {"prompt": "x", "webhook_events_filter": ["everything"]},
    "file media url": {"prompt": "x", "media_urls": ["file:///etc/passwd"]},
    "too many media urls": {"prompt": "x", "media_urls": ["https://e.com/a.png"] * 11},
    "metadata not an object": {"prompt": "x", "metadata": ["a"]},
    "metadata over 4 KB": {"prompt": "x", "metadata": {"blob": "x" * 4100}},
}


def nothing_created(app: Flask) -> bool:
    return (count(app, Video), count(app, ChatSession), count(app, IdempotencyKey)) == (0, 0, 0)


@pytest.mark.parametrize("body", INVALID_BODIES.values(), ids=INVALID_BODIES.keys())
def test_invalid_body_is_422_with_field_errors(
    app: Flask, client: FlaskClient, key: Key, body: dict
) -> None:
    headers = {**key.headers, "Idempotency-Key": "k1"}
    response = client.post("/v1/videos", json=body, headers=headers)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == "validation_error"
    assert problem["type"].endswith("/validation_error")
    assert problem["errors"] and all("field" in e for e in problem["errors"])
    assert nothing_created(app)


def test_an_integral_float_is_an_integer(client: FlaskClient, key: Key) -> None:
    # JSON has one number type: 10.0 is the integer 10 (JSON Schema agrees).
    body = {"prompt": "x", "duration_seconds": 10.0}
    response = client.post("/v1/videos", json=body, headers=key.headers)
    assert response.status_code == 202
    assert response.get_json()["duration_seconds"] == 10


def test_unknown_field_is_named(client: FlaskClient, key: Key) -> None:
    body = {"prompt": "x", "colour": "red"}
    problem = client.post("/v1/videos", json=body, headers=key.headers).get_json()
    assert problem["errors"] == [{"field": "colour", "message": "Unknown field."}]


def test_invalid_json_is_400(app: Flask, client: FlaskClient, key: Key) -> None:
    headers = {**key.headers, "Content-Type": "application/json"}
    response = client.post("/v1/videos", data="{not json", headers=headers)
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_json"
    assert client.post("/v1/videos", json=["a list"], headers=key.headers).status_code == 400
    assert nothing_created(app)


def test_wrong_content_type_is_415(app: Flask, client: FlaskClient, key: Key) -> None:
    response = client.post(
        "/v1/videos", data="prompt=x", headers=key.headers, content_type="text/plain"
    )
    assert response.status_code == 415
    assert response.get_json()["code"] == "invalid_json"
    assert nothing_created(app)


def test_one_megabyte_body_is_413(app: Flask, client: FlaskClient, key: Key) -> None:
    body = json.dumps({"prompt": "x" * (1024 * 1024)})
    response = client.post(
        "/v1/videos", data=body, headers=key.headers, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.get_json()["code"] == "body_too_large"
    assert nothing_created(app)


def test_unknown_path_and_wrong_method_are_problems(client: FlaskClient, key: Key) -> None:
    missing = client.get("/v1/nothing-here", headers=key.headers)
    assert missing.status_code == 404
    assert missing.mimetype == "application/problem+json"
    wrong = client.delete("/v1/videos", headers=key.headers)
    assert wrong.status_code == 405
    assert wrong.get_json()["code"] == "method_not_allowed"
    assert "POST" in wrong.headers["Allow"]


def test_unexpected_errors_are_500_problems_without_internals(
    app: Flask, client: FlaskClient, key: Key, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway import videos_service

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(videos_service, "get_video", explode)
    response = client.get("/v1/videos/vid_x", headers=key.headers)
    assert response.status_code == 500
    assert response.get_json()["code"] == "internal_error"
    assert "secret internals" not in response.get_data(as_text=True)
