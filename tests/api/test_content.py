"""Downloading the MP4: owner key or signed link, Range, ETag/304."""

from __future__ import annotations

import hashlib
import time

from flask import Flask
from flask.testing import FlaskClient

from .conftest import CONTENT, Key, services, signed_path


def test_owner_downloads_the_whole_file(client: FlaskClient, key: Key, finished: str) -> None:
    response = client.get(f"/v1/videos/{finished}/content", headers=key.headers)
    assert response.status_code == 200
    assert response.mimetype == "video/mp4"
    assert response.data == CONTENT
    assert response.headers["ETag"] == f'"{hashlib.sha256(CONTENT).hexdigest()}"'
    assert response.headers["Accept-Ranges"] == "bytes"


def test_range_request_gets_206(client: FlaskClient, key: Key, finished: str) -> None:
    headers = {**key.headers, "Range": "bytes=100-199"}
    response = client.get(f"/v1/videos/{finished}/content", headers=headers)
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes 100-199/{len(CONTENT)}"
    assert response.data == CONTENT[100:200]


def test_unsatisfiable_range_is_a_416_problem(client: FlaskClient, key: Key, finished: str) -> None:
    headers = {**key.headers, "Range": f"bytes={len(CONTENT) + 10}-"}
    response = client.get(f"/v1/videos/{finished}/content", headers=headers)
    assert response.status_code == 416
    assert response.get_json()["code"] == "range_not_satisfiable"


def test_if_none_match_gets_304(client: FlaskClient, key: Key, finished: str) -> None:
    first = client.get(f"/v1/videos/{finished}/content", headers=key.headers)
    headers = {**key.headers, "If-None-Match": first.headers["ETag"]}
    again = client.get(f"/v1/videos/{finished}/content", headers=headers)
    assert again.status_code == 304
    assert again.data == b""


def test_signed_link_works_without_a_key(client: FlaskClient, key: Key, finished: str) -> None:
    response = client.get(signed_path(client, key, finished))
    assert response.status_code == 200
    assert response.data == CONTENT


def test_output_url_is_signed_afresh_on_every_read(
    client: FlaskClient, key: Key, finished: str
) -> None:
    first = signed_path(client, key, finished)
    time.sleep(1.1)
    assert signed_path(client, key, finished) != first


def test_tampered_signature_is_403(client: FlaskClient, key: Key, finished: str) -> None:
    path = signed_path(client, key, finished)
    tampered = path[:-4] + ("0000" if not path.endswith("0000") else "1111")
    response = client.get(tampered)
    assert response.status_code == 403
    assert response.get_json()["code"] == "invalid_signature"


def test_expired_signature_is_403(app: Flask, client: FlaskClient, finished: str) -> None:
    path = f"/v1/videos/{finished}/content"
    signed, _ = services(app).signer.sign(path, ttl=60, now=time.time() - 3600)
    response = client.get(signed)
    assert response.status_code == 403


def test_signature_for_another_video_is_refused(
    app: Flask, client: FlaskClient, key: Key, finished: str
) -> None:
    other = client.post("/v1/videos", json={"prompt": "y"}, headers=key.headers).get_json()["id"]
    query = signed_path(client, key, finished).split("?", 1)[1]
    assert client.get(f"/v1/videos/{other}/content?{query}").status_code == 403


def test_no_key_and_no_signature_is_401(client: FlaskClient, finished: str) -> None:
    response = client.get(f"/v1/videos/{finished}/content")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_other_key_cannot_download(client: FlaskClient, other_key: Key, finished: str) -> None:
    response = client.get(f"/v1/videos/{finished}/content", headers=other_key.headers)
    assert response.status_code == 404


def test_unfinished_video_is_409_not_ready(client: FlaskClient, key: Key) -> None:
    video_id = client.post("/v1/videos", json={"prompt": "x"}, headers=key.headers).get_json()["id"]
    response = client.get(f"/v1/videos/{video_id}/content", headers=key.headers)
    assert response.status_code == 409
    assert response.get_json()["code"] == "video_not_ready"


def test_finished_video_has_output_in_the_representation(
    client: FlaskClient, key: Key, finished: str
) -> None:
    video = client.get(f"/v1/videos/{finished}", headers=key.headers).get_json()
    assert video["output"]["sha256"] == hashlib.sha256(CONTENT).hexdigest()
    assert video["output"]["url"].startswith(f"http://localhost/v1/videos/{finished}/content?")
