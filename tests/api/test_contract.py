"""The public surface: the spec is valid, and routes and spec describe the same API."""

from __future__ import annotations

import re

import httpx
import pytest
from flask import Flask
from openapi_spec_validator import validate

from gateway.api.errors import ERROR_CODES
from gateway.webhooks.progress import FILTER_EVENTS

try:
    from openapi_check import SPEC, ContractError, Exchange, check_httpx
except ImportError:
    from tests.openapi_check import SPEC, ContractError, Exchange, check_httpx

_IMPLICIT = {"HEAD", "OPTIONS"}
# "<webhook_id:webhook_id>" (a converter) and "<video_id>" are both "{..._id}" in the spec.
_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def _flask_operations(app: Flask) -> set[tuple[str, str]]:
    ops = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = _VARIABLE.sub(r"{\1}", rule.rule)
        ops.update((method, path) for method in (rule.methods or set()) - _IMPLICIT)
    return ops


def test_spec_is_valid_openapi_3_1() -> None:
    assert SPEC.document["openapi"].startswith("3.1")
    validate(SPEC.document)


def test_every_route_is_documented_and_every_documented_route_is_served(app: Flask) -> None:
    served = _flask_operations(app)
    documented = SPEC.operations()
    assert served - documented == set(), "routes missing from openapi.yaml"
    assert documented - served == set(), "documented operations the app does not serve"


def test_problem_codes_match_the_error_table() -> None:
    enum = SPEC.document["components"]["schemas"]["ErrorCode"]["enum"]
    assert sorted(enum) == sorted(ERROR_CODES)
    table = SPEC.document["components"]["schemas"]["ErrorCode"]["description"]
    for code in ERROR_CODES:
        assert f"| {code} |" in table


def test_webhook_filter_values_match_the_delivery_layer() -> None:
    enum = SPEC.document["components"]["schemas"]["WebhookFilter"]["enum"]
    assert sorted(enum) == sorted(FILTER_EVENTS)
    events = {event for values in FILTER_EVENTS.values() for event in values}
    assert events <= set(SPEC.document["webhooks"])


def test_video_schema_lists_every_field_of_the_representation(app: Flask, key, client) -> None:
    created = client.post("/v1/videos", json={"prompt": "a cat"}, headers=key.headers).get_json()
    schema = SPEC.document["components"]["schemas"]["Video"]
    assert sorted(created) == sorted(schema["properties"])
    assert sorted(schema["required"]) == sorted(schema["properties"])


def test_the_checker_rejects_a_response_that_breaks_the_contract() -> None:
    exchange = Exchange(
        method="GET",
        path="/v1/videos/vid_x",
        query={},
        request_headers={},
        request_body=b"",
        status=200,
        headers={"Content-Type": "application/json"},
        body=b'{"id": "vid_x", "status": "exploded"}',
    )
    with pytest.raises(ContractError):
        SPEC.check_exchange(exchange)
    undocumented = Exchange(**{**exchange.__dict__, "method": "PUT"})
    with pytest.raises(ContractError, match="method not documented"):
        SPEC.check_exchange(undocumented)


def test_the_checker_validates_httpx_responses(app: Flask, key) -> None:
    transport = httpx.WSGITransport(app=app)
    with httpx.Client(transport=transport, base_url="http://gateway.test") as http:
        created = http.post("/v1/videos", json={"prompt": "x"}, headers=key.headers)
        check_httpx(created)
        listed = http.get("/v1/videos", params={"limit": 5}, headers=key.headers)
        check_httpx(listed)
    assert created.status_code == 202
    assert listed.json()["data"][0]["id"] == created.json()["id"]
