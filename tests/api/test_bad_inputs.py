"""Hostile and broken input, route by route: a 4xx problem with its code, never a 500.

Each case is one request and the answer a client can rely on: its status and,
for an error, its ``code`` in an ``application/problem+json`` body. The client
fixture also checks every answer against ``openapi.yaml``, so each status and
code here is a documented one. Cases that need more than a status (a body, a
header, what was stored) have their own tests below the table.
"""

from __future__ import annotations

import http.client
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from gateway.api.body import MAX_DEPTH
from gateway.config import GatewayConfig
from gateway.store.models import ChatSession, Upload, Video
from tests.processes import static_site

from .conftest import CONTENT, Key, count

MAX_WAIT = 1
LIMIT = 64 * 1024
BOUNDARY = "b0undary"
# First bytes of files that are not media, and of media named as something else.
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(200)
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(200)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(200)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)


@pytest.fixture
def config(tmp_path: Path) -> GatewayConfig:
    # A short wait keeps the Prefer cases quick; private URLs let a local server
    # stand in for a media host.
    return GatewayConfig(
        data_dir=tmp_path / "data", max_wait_seconds=MAX_WAIT, allow_private_urls=True
    )


def form(filename: str, data: bytes, boundary: str = BOUNDARY) -> bytes:
    return (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )


def nested(depth: int) -> str:
    """A JSON object whose ``metadata`` holds arrays ``depth`` levels deep in all."""
    inner = "[" * (depth - 2) + "]" * (depth - 2)
    return '{"prompt":"x","metadata":{"a":' + inner + "}}"


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # "{video}": a finished video's id
    status: int
    code: str | None = None  # None: a success
    body: bytes | None = None  # sent as application/json unless content_type says
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    auth: bool = True
    chunked: bool = False


def _json(
    method: str, path: str, raw: str, status: int = 422, code: str = "validation_error"
) -> Case:
    """A JSON body refused as a whole (by default: a 422 naming the bad field)."""
    return Case(method, path, status, code, raw.encode())


SURROGATE = "a\\ud800b"  # a lone high surrogate, as JSON writes it
_SIGNED = "/v1/videos/{video}/content?"
_WEBHOOK = '"url":"https://example.com/h","events":["video.completed"]'

CASES: dict[str, Case] = {
    # Signed links: anything but a well-formed, unexpired signature is a 403.
    "signature not ASCII": Case(
        "GET", _SIGNED + "expires=9999999999&signature=%C3%A9", 403, "invalid_signature", auth=False
    ),
    "signature not ASCII, unknown video": Case(
        "GET",
        "/v1/videos/x/content?expires=9999999999&signature=%C3%A9",
        403,
        "invalid_signature",
        auth=False,
    ),
    "expires a superscript digit": Case(
        "GET", _SIGNED + "expires=%C2%B2&signature=x", 403, "invalid_signature", auth=False
    ),
    "expires Arabic-Indic digits": Case(
        "GET", _SIGNED + "expires=%D9%A1%D9%A2&signature=x", 403, "invalid_signature", auth=False
    ),
    "expires 5000 digits": Case(
        "GET",
        _SIGNED + "expires=" + "9" * 5000 + "&signature=x",
        403,
        "invalid_signature",
        auth=False,
    ),
    "expires negative": Case(
        "GET", _SIGNED + "expires=-1&signature=x", 403, "invalid_signature", auth=False
    ),
    "signature alone": Case("GET", _SIGNED + "signature=abc", 403, "invalid_signature", auth=False),
    # A lone surrogate in any string, on every route that takes JSON.
    "surrogate: video prompt": _json("POST", "/v1/videos", f'{{"prompt":"{SURROGATE}"}}'),
    "surrogate: video language": _json(
        "POST", "/v1/videos", f'{{"prompt":"x","language":"{SURROGATE}"}}'
    ),
    "surrogate: video media_urls": _json(
        "POST", "/v1/videos", f'{{"prompt":"x","media_urls":["https://e.com/{SURROGATE}.png"]}}'
    ),
    "surrogate: video webhook_url": _json(
        "POST", "/v1/videos", f'{{"prompt":"x","webhook_url":"https://e.com/{SURROGATE}"}}'
    ),
    "surrogate: video upload_ids": _json(
        "POST", "/v1/videos", f'{{"prompt":"x","upload_ids":["{SURROGATE}"]}}'
    ),
    "surrogate: video metadata value": _json(
        "POST", "/v1/videos", f'{{"prompt":"x","metadata":{{"k":"{SURROGATE}"}}}}'
    ),
    "surrogate: video metadata key": _json(
        "POST", "/v1/videos", f'{{"prompt":"x","metadata":{{"{SURROGATE}":1}}}}'
    ),
    "surrogate: unknown field name": _json(
        "POST", "/v1/videos", f'{{"prompt":"x","{SURROGATE}":1}}'
    ),
    "lone low surrogate": _json("POST", "/v1/videos", '{"prompt":"a\\udfffb"}'),
    "surrogates in the wrong order": _json("POST", "/v1/videos", '{"prompt":"\\ude00\\ud83d"}'),
    "surrogate: edit instruction": _json(
        "POST", "/v1/videos/vid_x/edits", f'{{"instruction":"{SURROGATE}"}}'
    ),
    "surrogate: session language": _json("POST", "/v1/sessions", f'{{"language":"{SURROGATE}"}}'),
    "surrogate: message text": _json(
        "POST", "/v1/sessions/ses_x/messages", f'{{"text":"{SURROGATE}"}}'
    ),
    "surrogate: message media_urls": _json(
        "POST",
        "/v1/sessions/ses_x/messages",
        f'{{"text":"x","media_urls":["https://e.com/{SURROGATE}"]}}',
    ),
    "surrogate: export metadata": _json(
        "POST", "/v1/sessions/ses_x/exports", f'{{"metadata":{{"k":"{SURROGATE}"}}}}'
    ),
    "surrogate: webhook url": _json(
        "POST",
        "/v1/webhooks",
        f'{{"url":"https://e.com/{SURROGATE}","events":["video.completed"]}}',
    ),
    "surrogate: webhook description": _json(
        "POST", "/v1/webhooks", f'{{{_WEBHOOK},"description":"{SURROGATE}"}}'
    ),
    "surrogate: webhook change": _json(
        "PATCH", "/v1/webhooks/wh_x", f'{{"description":"{SURROGATE}"}}'
    ),
    "surrogate: webhook recover": _json(
        "POST", "/v1/webhooks/wh_x/recover", f'{{"since":"{SURROGATE}"}}'
    ),
    "surrogate: upload url": _json(
        "POST", "/v1/uploads", f'{{"url":"https://e.com/{SURROGATE}.png"}}'
    ),
    # Nesting past the limit, however deep, is a clean 400.
    "nested 2000 deep": _json("POST", "/v1/videos", nested(2000), 400, "invalid_json"),
    "nested one level too deep": _json(
        "POST", "/v1/videos", nested(MAX_DEPTH + 1), 400, "invalid_json"
    ),
    "nested 2000 deep, keyed": Case(
        "POST",
        "/v1/videos",
        400,
        "invalid_json",
        nested(2000).encode(),
        headers={"Idempotency-Key": "deep-1"},
    ),
    "nested 2000 deep: webhook": _json(
        "POST",
        "/v1/webhooks",
        f'{{{_WEBHOOK},"description":' + "[" * 2000 + "]" * 2000 + "}",
        400,
        "invalid_json",
    ),
    "nested 2000 deep: session": _json(
        "POST", "/v1/sessions", '{"language":' + "[" * 2000 + "]" * 2000 + "}", 400, "invalid_json"
    ),
    "nested 2000 deep: message": _json(
        "POST",
        "/v1/sessions/ses_x/messages",
        '{"text":' + "[" * 2000 + "]" * 2000 + "}",
        400,
        "invalid_json",
    ),
    "not UTF-8": Case("POST", "/v1/videos", 400, "invalid_json", b'{"prompt":"\xff\xfe"}'),
    # Multipart that does not parse.
    "multipart: wrong boundary": Case(
        "POST",
        "/v1/uploads",
        400,
        "bad_request",
        form("a.png", PNG),
        f"multipart/form-data; boundary=other{BOUNDARY}",
    ),
    "multipart: wrong boundary, 2 MB": Case(
        "POST",
        "/v1/uploads",
        400,
        "bad_request",
        form("a.png", PNG + bytes(2 * 1024 * 1024)),
        f"multipart/form-data; boundary=other{BOUNDARY}",
    ),
    "multipart: truncated in the file": Case(
        "POST",
        "/v1/uploads",
        400,
        "bad_request",
        form("a.png", PNG)[:150],
        f"multipart/form-data; boundary={BOUNDARY}",
    ),
    "multipart: truncated in the headers": Case(
        "POST",
        "/v1/uploads",
        400,
        "bad_request",
        form("a.png", PNG)[:40],
        f"multipart/form-data; boundary={BOUNDARY}",
    ),
    "multipart: no closing boundary": Case(
        "POST",
        "/v1/uploads",
        400,
        "bad_request",
        form("a.png", PNG)[: -len(f"--{BOUNDARY}--\r\n")],
        f"multipart/form-data; boundary={BOUNDARY}",
    ),
    "multipart: garbage": Case(
        "POST",
        "/v1/uploads",
        400,
        "bad_request",
        b"\x00" * 500,
        f"multipart/form-data; boundary={BOUNDARY}",
    ),
    "multipart: no boundary": Case(
        "POST", "/v1/uploads", 400, "bad_request", form("a.png", PNG), "multipart/form-data"
    ),
    # Uploads judged by their bytes.
    "upload: 0 bytes": Case(
        "POST",
        "/v1/uploads",
        422,
        "media_empty",
        form("a.png", b""),
        f"multipart/form-data; boundary={BOUNDARY}",
    ),
    "upload: PE named .png": Case(
        "POST",
        "/v1/uploads",
        415,
        "unsupported_media",
        form("a.png", PE),
        f"multipart/form-data; boundary={BOUNDARY}",
    ),
    "upload: ELF named .mp4": Case(
        "POST",
        "/v1/uploads",
        415,
        "unsupported_media",
        form("clip.mp4", ELF),
        f"multipart/form-data; boundary={BOUNDARY}",
    ),
    "upload: text named .gif": Case(
        "POST",
        "/v1/uploads",
        415,
        "unsupported_media",
        form("a.gif", b"hello world"),
        f"multipart/form-data; boundary={BOUNDARY}",
    ),
    "upload: zeros named .mp3": Case(
        "POST",
        "/v1/uploads",
        415,
        "unsupported_media",
        form("a.mp3", bytes(4096)),
        f"multipart/form-data; boundary={BOUNDARY}",
    ),
    # /content: preconditions and ranges.
    "If-Match mismatch": Case(
        "GET",
        "/v1/videos/{video}/content",
        412,
        "precondition_failed",
        headers={"If-Match": '"nope"'},
    ),
    "If-Match mismatch with a Range": Case(
        "GET",
        "/v1/videos/{video}/content",
        412,
        "precondition_failed",
        headers={"If-Match": '"nope"', "Range": "bytes=0-9"},
    ),
    "If-Match weak (strong comparison)": Case(
        "GET",
        "/v1/videos/{video}/content",
        412,
        "precondition_failed",
        headers={"If-Match": 'W/"{etag}"'},
    ),
    "If-Match matching": Case(
        "GET", "/v1/videos/{video}/content", 200, headers={"If-Match": '"{etag}"'}
    ),
    "If-Match any": Case("GET", "/v1/videos/{video}/content", 200, headers={"If-Match": "*"}),
    "Range: several ranges": Case(
        "GET", "/v1/videos/{video}/content", 200, headers={"Range": "bytes=0-9,20-29"}
    ),
    "Range: unknown unit": Case(
        "GET", "/v1/videos/{video}/content", 200, headers={"Range": "items=0-9"}
    ),
    "Range: garbage": Case("GET", "/v1/videos/{video}/content", 200, headers={"Range": "garbage"}),
    "Range: not numbers": Case(
        "GET", "/v1/videos/{video}/content", 200, headers={"Range": "bytes=a-b"}
    ),
    "Range: backwards": Case(
        "GET", "/v1/videos/{video}/content", 200, headers={"Range": "bytes=9-2"}
    ),
    "Range: empty suffix": Case(
        "GET", "/v1/videos/{video}/content", 200, headers={"Range": "bytes=-0"}
    ),
    "Range: past the end": Case(
        "GET",
        "/v1/videos/{video}/content",
        416,
        "range_not_satisfiable",
        headers={"Range": f"bytes={len(CONTENT) + 10}-"},
    ),
    "Range: one byte range": Case(
        "GET", "/v1/videos/{video}/content", 206, headers={"Range": "bytes=0-9"}
    ),
    # Bodies over the limit without a Content-Length.
    "chunked body over the limit": Case(
        "POST",
        "/v1/videos",
        413,
        "body_too_large",
        json.dumps({"prompt": "x" * LIMIT}).encode(),
        chunked=True,
    ),
    "chunked body over the limit, keyed": Case(
        "POST",
        "/v1/videos",
        413,
        "body_too_large",
        json.dumps({"prompt": "x" * LIMIT}).encode(),
        headers={"Idempotency-Key": "big-1"},
        chunked=True,
    ),
    "chunked body over the limit: webhook": Case(
        "POST",
        "/v1/webhooks",
        413,
        "body_too_large",
        json.dumps(
            {"url": "https://e.com/", "events": ["video.completed"], "description": "x" * LIMIT}
        ).encode(),
        chunked=True,
    ),
    "chunked body over the limit: session": Case(
        "POST",
        "/v1/sessions",
        413,
        "body_too_large",
        json.dumps({"language": "x" * LIMIT}).encode(),
        chunked=True,
    ),
    "chunked body exactly at the limit": Case(
        "POST", "/v1/videos", 202, body=b'{"prompt":"x"}'.ljust(LIMIT), chunked=True
    ),
    "body exactly at the limit": Case(
        "POST", "/v1/videos", 202, body=b'{"prompt":"x"}'.ljust(LIMIT)
    ),
    "chunked body within the limit": Case(
        "POST", "/v1/videos", 202, body=b'{"prompt":"x"}', chunked=True
    ),
    # Cancel-After must be a future instant; the spec's example is one.
    "Cancel-After in the past": Case(
        "POST",
        "/v1/videos",
        400,
        "invalid_header",
        b'{"prompt":"x"}',
        headers={"Cancel-After": "2020-01-01T00:00:00Z"},
    ),
    "Cancel-After past HTTP-date": Case(
        "POST",
        "/v1/videos",
        400,
        "invalid_header",
        b'{"prompt":"x"}',
        headers={"Cancel-After": "Wed, 01 Jan 2020 00:00:00 GMT"},
    ),
    "Cancel-After 0 seconds": Case(
        "POST",
        "/v1/videos",
        400,
        "invalid_header",
        b'{"prompt":"x"}',
        headers={"Cancel-After": "0"},
    ),
    "Cancel-After Unicode digits": Case(
        "POST",
        "/v1/videos",
        400,
        "invalid_header",
        b'{"prompt":"x"}',
        headers={"Cancel-After": "\u00b2"},
    ),
    "Cancel-After out of range": Case(
        "POST",
        "/v1/videos",
        400,
        "invalid_header",
        b'{"prompt":"x"}',
        headers={"Cancel-After": "9999-12-31T23:59:59-01:00"},
    ),
    "Cancel-After past, on an edit": Case(
        "POST",
        "/v1/videos/{video}/edits",
        400,
        "invalid_header",
        b'{"instruction":"x"}',
        headers={"Cancel-After": "2020-01-01T00:00:00Z"},
    ),
    "Cancel-After the spec's example": Case(
        "POST",
        "/v1/videos",
        202,
        body=b'{"prompt":"x"}',
        headers={"Cancel-After": "2030-01-01T00:00:00Z"},
    ),
    # Routing: "secret" is no webhook id; nothing under /v1 answers HTML.
    "PATCH /v1/webhooks/secret": Case(
        "PATCH", "/v1/webhooks/secret", 405, "method_not_allowed", b"{}"
    ),
    "DELETE /v1/webhooks/secret": Case("DELETE", "/v1/webhooks/secret", 405, "method_not_allowed"),
    "secret's deliveries": Case("GET", "/v1/webhooks/secret/deliveries", 404, "not_found"),
    "double slash": Case("GET", "/v1//videos", 404, "not_found"),
    "unknown path": Case("GET", "/v1/nothing", 404, "not_found"),
    "unknown method": Case("PUT", "/v1/videos", 405, "method_not_allowed"),
}


def run(client: FlaskClient, key: Key, case: Case, video: str, etag: str) -> Any:
    headers = {k: v.replace("{etag}", etag) for k, v in case.headers.items()}
    if case.auth:
        headers.update(key.headers)
    extra: dict[str, Any] = {}
    if case.body is not None:
        headers["Content-Type"] = case.content_type or "application/json"
        if case.chunked:
            # What a server sets for a chunked body: no Content-Length, input terminated.
            headers["Transfer-Encoding"] = "chunked"
            extra["input_stream"] = io.BytesIO(case.body)
            extra["environ_overrides"] = {"wsgi.input_terminated": True}
        else:
            extra["data"] = case.body
    return client.open(
        case.path.replace("{video}", video), method=case.method, headers=headers, **extra
    )


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_bad_input_gets_its_documented_answer(
    client: FlaskClient, key: Key, finished: str, case: Case
) -> None:
    etag = client.get(f"/v1/videos/{finished}/content", headers=key.headers).headers["ETag"]
    response = run(client, key, case, finished, etag.strip('"'))
    assert response.status_code != 500
    assert response.status_code == case.status, response.get_data(as_text=True)[:300]
    if case.code is None:
        return
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == case.code
    assert problem["status"] == case.status
    assert CONTENT[:64] not in response.get_data()  # never the file as an error's body


def test_a_surrogate_names_its_field_and_nothing_is_created(
    app: Flask, client: FlaskClient, key: Key
) -> None:
    raw = f'{{"prompt":"x","media_urls":["https://e.com/ok.png","https://e.com/{SURROGATE}.png"]}}'
    headers = {**key.headers, "Content-Type": "application/json", "Idempotency-Key": "s-1"}
    response = client.post("/v1/videos", data=raw, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == [
        {
            "field": "media_urls.1",
            "message": "Must be valid Unicode text: a lone surrogate (\\ud800-\\udfff) is not.",
        }
    ]
    assert (count(app, Video), count(app, ChatSession)) == (0, 0)
    # The same key with the mistake fixed runs: a refused request holds no key.
    fixed = client.post(
        "/v1/videos", json={"prompt": "x"}, headers={**key.headers, "Idempotency-Key": "s-1"}
    )
    assert fixed.status_code == 202


def test_a_surrogate_pair_is_ordinary_text(client: FlaskClient, key: Key) -> None:
    raw = '{"prompt":"a \\ud83c\\udf0a b","metadata":{"\\ud83d\\ude00":"ok"}}'
    headers = {**key.headers, "Content-Type": "application/json"}
    response = client.post("/v1/videos", data=raw, headers=headers)
    assert response.status_code == 202
    assert response.get_json()["prompt"] == "a \U0001f30a b"


def test_nesting_up_to_the_limit_is_accepted(client: FlaskClient, key: Key) -> None:
    headers = {**key.headers, "Content-Type": "application/json"}
    assert client.post("/v1/videos", data=nested(MAX_DEPTH), headers=headers).status_code == 202


def test_a_failed_precondition_is_a_small_problem_with_the_current_etag(
    client: FlaskClient, key: Key, finished: str
) -> None:
    path = f"/v1/videos/{finished}/content"
    etag = client.get(path, headers=key.headers).headers["ETag"]
    response = client.get(
        path, headers={**key.headers, "If-Match": '"other"', "Range": "bytes=0-9"}
    )
    assert response.status_code == 412
    assert response.headers["ETag"] == etag
    assert "Content-Range" not in response.headers
    assert len(response.get_data()) < 1024


@pytest.mark.parametrize("header", ["bytes=0-9,20-29", "items=0-9", "garbage", "bytes=9-2"])
def test_an_unusable_range_is_ignored_and_the_whole_file_sent(
    client: FlaskClient, key: Key, finished: str, header: str
) -> None:
    response = client.get(
        f"/v1/videos/{finished}/content", headers={**key.headers, "Range": header}
    )
    assert response.status_code == 200
    assert response.data == CONTENT
    assert "Content-Range" not in response.headers


def test_a_range_past_the_end_says_the_length(client: FlaskClient, key: Key, finished: str) -> None:
    headers = {**key.headers, "Range": f"bytes={len(CONTENT)}-"}
    response = client.get(f"/v1/videos/{finished}/content", headers=headers)
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(CONTENT)}"


@pytest.mark.parametrize(
    "wait", ["999999", "9999999", "9" * 40, "9" * 5000], ids=["6", "7", "40", "5000 digits"]
)
def test_any_large_wait_is_clamped_to_the_maximum(client: FlaskClient, key: Key, wait: str) -> None:
    headers = {**key.headers, "Prefer": f"wait={wait}"}
    response = client.post("/v1/videos", json={"prompt": "x"}, headers=headers)
    assert response.status_code == 202
    assert response.headers["Preference-Applied"] == f"wait={MAX_WAIT}"


def test_options_and_405_list_the_same_methods(app: Flask, client: FlaskClient, key: Key) -> None:
    plain = FlaskClient(app, app.response_class)  # the spec leaves OPTIONS undocumented
    for path, expected in [
        ("/v1/webhooks/secret", {"GET", "HEAD", "OPTIONS"}),
        ("/v1/webhooks/wh_x", {"GET", "HEAD", "OPTIONS", "PATCH", "DELETE"}),
    ]:
        options = plain.options(path, headers=key.headers)
        assert options.status_code == 204
        assert "text/html" not in options.headers.get("Content-Type", "")
        assert set(options.headers["Allow"].split(", ")) == expected
        refused = client.put(path, headers=key.headers)
        assert refused.status_code == 405
        assert refused.mimetype == "application/problem+json"
        assert set(refused.headers["Allow"].split(", ")) == expected


def test_the_secret_is_not_a_webhook_id(client: FlaskClient, key: Key) -> None:
    secret = client.get("/v1/webhooks/secret", headers=key.headers).get_json()["secret"]
    assert client.delete("/v1/webhooks/secret", headers=key.headers).status_code == 405
    assert client.get("/v1/webhooks/secret", headers=key.headers).get_json()["secret"] == secret


def _upload(client: FlaskClient, key: Key, filename: str, data: bytes) -> Any:
    headers = {**key.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    return client.post("/v1/uploads", data=form(filename, data), headers=headers)


def test_media_of_another_format_is_stored_as_what_it_is(
    app: Flask, client: FlaskClient, key: Key, config: GatewayConfig
) -> None:
    response = _upload(client, key, "photo.png", JPEG)
    assert response.status_code == 201
    upload = response.get_json()
    assert (upload["format"], upload["content_type"]) == ("jpg", "image/jpeg")
    assert upload["filename"] == "photo.jpg"  # the upstream judges by the name
    assert (config.data_dir / "uploads" / f"{upload['id']}.jpg").read_bytes() == JPEG


def test_refused_media_leaves_no_file_and_no_record(
    app: Flask, client: FlaskClient, key: Key, config: GatewayConfig
) -> None:
    for name, data in [("a.png", PE), ("a.png", b"")]:
        assert _upload(client, key, name, data).status_code in (415, 422)
    assert count(app, Upload) == 0
    assert list((config.data_dir / "uploads").iterdir()) == []


@pytest.fixture
def media_host(tmp_path: Path) -> Iterator[str]:
    """A local server for the gateway to fetch from."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "tool.png").write_bytes(PE)
    (root / "empty.mp3").write_bytes(b"")
    (root / "photo.png").write_bytes(PNG)
    with static_site(root) as url:
        yield url


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("tool.png", 415, "unsupported_media"),
        ("empty.mp3", 422, "media_empty"),
        ("photo.png", 201, None),
    ],
)
def test_fetched_media_is_judged_by_its_bytes(
    app: Flask,
    client: FlaskClient,
    key: Key,
    media_host: str,
    name: str,
    status: int,
    code: str | None,
) -> None:
    response = client.post("/v1/uploads", json={"url": f"{media_host}/{name}"}, headers=key.headers)
    assert response.status_code == status
    if code is not None:
        assert response.get_json()["code"] == code
        assert count(app, Upload) == 0


def test_a_chunked_body_over_the_limit_is_413_on_a_real_server(app: Flask, key: Key) -> None:
    """Through Werkzeug's server, which de-chunks the body as gunicorn does."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        answers = []
        for size in (LIMIT + 1, 100):
            body = json.dumps({"prompt": "x" * size}).encode()
            conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
            headers = {**key.headers, "Content-Type": "application/json"}
            chunks = iter([body[i : i + 4096] for i in range(0, len(body), 4096)])
            conn.request("POST", "/v1/videos", body=chunks, headers=headers, encode_chunked=True)
            reply = conn.getresponse()
            answers.append(
                (reply.status, reply.getheader("Content-Type"), json.loads(reply.read()))
            )
            conn.close()
    finally:
        server.shutdown()
        server.server_close()
    (big_status, big_type, big), (small_status, _, small) = answers
    assert (big_status, big_type, big["code"]) == (
        413,
        "application/problem+json",
        "body_too_large",
    )
    assert small_status == 202 and small["object"] == "video"
