"""Every endpoint that takes a URL the gateway will call refuses a bad one the same way.

A video's ``webhook_url`` (creates, edits, exports), ``media_urls`` (videos and
session messages), ``POST``/``PATCH /v1/webhooks`` and upload-from-URL all
answer 422 ``validation_error`` with the same message for the same URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.app import create_app
from gateway.config import GatewayConfig

from .conftest import CheckedClient, Key, make_key, services

# (URL, refused even with GATEWAY_ALLOW_PRIVATE_URLS=1)
BAD_URLS = [
    ("http://127.0.0.1/", False),
    ("http://127.0.0.1./h", False),
    ("http://2130706433/", False),
    ("http://0x7f.1/", False),
    ("http://127.1/", False),
    ("http://[::1]/", False),
    ("http://[::ffff:127.0.0.1]/", False),
    ("http://localhost:8080/", False),
    ("http://10.0.0.1/", False),
    ("http://0.0.0.0/", True),
    ("http://0/", True),
    ("http://169.254.169.254/latest/meta-data/", True),
    ("http://[fd00:ec2::254]/", True),
    ("http://100.100.100.200/", True),
    ("http://metadata.google.internal/computeMetadata/v1/", True),
    ("http://good@127.0.0.1/", True),
    ("http://127.0.0.1\\@good.example.com/", True),
    ("ftp://example.com/x.mp4", True),
]

Post = Callable[[FlaskClient, Key, str], Any]


def _post(path: str, body: Callable[[str], dict[str, Any]], field: str) -> tuple[Post, str]:
    def send(client: FlaskClient, key: Key, url: str) -> Any:
        return client.post(path, json=body(url), headers=key.headers)

    return send, field


def _patch_webhook(client: FlaskClient, key: Key, url: str) -> Any:
    body = {"url": "https://hooks.example.com/h", "events": ["video.completed"]}
    created = client.post("/v1/webhooks", json=body, headers=key.headers).get_json()
    return client.patch(f"/v1/webhooks/{created['id']}", json={"url": url}, headers=key.headers)


ENDPOINTS = {
    "video webhook_url": _post(
        "/v1/videos", lambda u: {"prompt": "a cat", "webhook_url": u}, "webhook_url"
    ),
    "video media_urls": _post(
        "/v1/videos", lambda u: {"prompt": "a cat", "media_urls": [u]}, "media_urls.0"
    ),
    "edit webhook_url": _post(
        "/v1/videos/vid_x/edits",
        lambda u: {"instruction": "bluer", "webhook_url": u},
        "webhook_url",
    ),
    "export webhook_url": _post(
        "/v1/sessions/ses_x/exports", lambda u: {"webhook_url": u}, "webhook_url"
    ),
    "message media_urls": _post(
        "/v1/sessions/ses_x/messages", lambda u: {"text": "hi", "media_urls": [u]}, "media_urls.0"
    ),
    "POST /v1/webhooks": _post(
        "/v1/webhooks", lambda u: {"url": u, "events": ["video.completed"]}, "url"
    ),
    "PATCH /v1/webhooks": (_patch_webhook, "url"),
    "upload from URL": _post("/v1/uploads", lambda u: {"url": u}, "url"),
}


@pytest.fixture
def open_app(tmp_path: Path) -> Iterator[Flask]:
    """A gateway with GATEWAY_ALLOW_PRIVATE_URLS=1 (and link-local still shut)."""
    app = create_app(GatewayConfig(data_dir=tmp_path / "open", allow_private_urls=True))
    app.test_client_class = CheckedClient
    yield app
    services(app).close()


def refusals(client: FlaskClient, key: Key, url: str) -> dict[str, tuple[int, str, str, str]]:
    """Each endpoint's answer to ``url``: status, code, field and message."""
    out = {}
    for name, (send, field) in ENDPOINTS.items():
        response = send(client, key, url)
        problem = response.get_json()
        errors = problem.get("errors") or [{}]
        assert len(errors) == 1, (name, problem)
        out[name] = (response.status_code, problem.get("code"), field, errors[0].get("message"))
        assert errors[0].get("field") == field, (name, problem)
    return out


@pytest.mark.parametrize(("url", "always"), BAD_URLS)
def test_the_same_bad_url_is_refused_identically_everywhere(client, key, url, always) -> None:
    answers = refusals(client, key, url)
    messages = {message for _, _, _, message in answers.values()}
    assert len(messages) == 1, answers
    (message,) = messages
    assert message and url.split("/")[2] not in message  # never echoes the host
    assert {(status, code) for status, code, _, _ in answers.values()} == {
        (422, "validation_error")
    }


@pytest.mark.parametrize(("url", "always"), [case for case in BAD_URLS if case[1]])
def test_metadata_and_link_local_stay_refused_with_private_urls_allowed(
    open_app, url, always
) -> None:
    key = make_key(open_app, "k")
    answers = refusals(open_app.test_client(), key, url)
    assert {(a[0], a[1]) for a in answers.values()} == {(422, "validation_error")}
    assert len({a[3] for a in answers.values()}) == 1


def test_loopback_passes_every_endpoint_with_private_urls_allowed(open_app) -> None:
    key = make_key(open_app, "k")
    client = open_app.test_client()
    url = "http://127.0.0.1:9/hook"  # discard port: nothing listens
    for name, (send, _) in ENDPOINTS.items():
        problem = send(client, key, url).get_json()
        assert problem.get("code") != "validation_error", (name, problem)


def test_a_video_with_a_loopback_webhook_is_not_created(app, client, key) -> None:
    """Refused before anything is stored: nothing is retried for days later."""
    body = {"prompt": "a cat", "webhook_url": "http://127.0.0.1/"}
    assert client.post("/v1/videos", json=body, headers=key.headers).status_code == 422
    listed = client.get("/v1/videos", headers=key.headers).get_json()
    assert listed["data"] == []


def test_a_plain_name_passes_the_request_time_rule_on_every_endpoint(client, key) -> None:
    """``https://0.a`` is a name, not an address: judged when it is called, everywhere.

    The upload is left out: it calls the URL at once, so its answer is the
    call-time verdict (and would need DNS).
    """
    for name, (send, _) in ENDPOINTS.items():
        if name == "upload from URL":
            continue
        problem = send(client, key, "https://0.a/h").get_json()
        assert problem.get("code") != "validation_error", (name, problem)
