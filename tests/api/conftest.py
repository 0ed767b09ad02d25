"""Fixtures for the REST API: an app on a temporary SQLite data dir, keys, a checked client.

Every response the ``client`` fixture returns has been validated against
``openapi.yaml`` (see ``tests/openapi_check.py``), so each test also checks
the contract of whatever it touches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from gateway.api.services import Services
from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.store.keys import create_key
from gateway.store.models import Video
from gateway.upstream.models import Credits

try:  # tests/ is on sys.path as a plain directory ...
    from openapi_check import check_flask
except ImportError:  # ... or is a package, if tests/__init__.py exists
    from tests.openapi_check import check_flask


class CheckedClient(FlaskClient):
    """A test client that validates every exchange against the spec."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        check_flask(response)
        return response


class FakeUpstream:
    """Stands in for the NemoVideo client: ``credits()`` is all the web side calls."""

    def __init__(self, credits: Credits | None = None, error: Exception | None = None) -> None:
        self.result = credits or Credits(available=90, frozen=10, total=100)
        self.error = error
        self.calls = 0

    async def credits(self) -> Credits:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.result


@dataclass(frozen=True)
class Key:
    id: str
    plaintext: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.plaintext}"}


@pytest.fixture
def config(tmp_path: Path) -> GatewayConfig:
    return GatewayConfig(data_dir=tmp_path / "data")


@pytest.fixture
def upstream() -> FakeUpstream:
    return FakeUpstream()


@pytest.fixture
def app(config: GatewayConfig, upstream: FakeUpstream) -> Iterator[Flask]:
    app = create_app(config, upstream=upstream)
    app.config["TESTING"] = True
    app.test_client_class = CheckedClient
    yield app
    services(app).close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def services(app: Flask) -> Services:
    return app.extensions["gateway"]


def make_key(app: Flask, name: str) -> Key:
    key, plaintext = create_key(services(app).db, name)
    return Key(key.id, plaintext)


@pytest.fixture
def key(app: Flask) -> Key:
    return make_key(app, "key A")


@pytest.fixture
def other_key(app: Flask) -> Key:
    return make_key(app, "key B")


def count(app: Flask, model: type[Any]) -> int:
    with services(app).db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


CONTENT = bytes(range(256)) * 40  # 10 KiB standing in for an MP4 (``finished``)


@pytest.fixture
def finished(app: Flask, client: FlaskClient, key: Key) -> str:
    """A succeeded video whose file is in the media store; returns its id."""
    video_id = client.post("/v1/videos", json={"prompt": "x"}, headers=key.headers).get_json()["id"]
    services(app).media.path_for(video_id).write_bytes(CONTENT)
    with services(app).db.write() as session:
        row = session.get(Video, video_id)
        row.status, row.phase, row.progress, row.due_at = "succeeded", "done", 100, None
        row.completed_at = datetime.now(UTC)
        row.output = {
            "content_type": "video/mp4",
            "size_bytes": len(CONTENT),
            "duration_seconds": 4.0,
            "width": 1280,
            "height": 720,
            "sha256": hashlib.sha256(CONTENT).hexdigest(),
        }
    return video_id


def signed_path(client: FlaskClient, key: Key, video_id: str) -> str:
    video = client.get(f"/v1/videos/{video_id}", headers=key.headers).get_json()
    url = urlsplit(video["output"]["url"])
    return f"{url.path}?{url.query}"
