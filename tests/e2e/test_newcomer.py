"""A newcomer's first run: `nemo-gateway sandbox` with no options, from any directory.

The sandbox runs with its relative default data dir (`data/sandbox`) from a
directory outside the repository, and the gateway gets its own anonymous token:
the render file must still be served (the data dir is made absolute at start),
and the starting balance must cover more than one video.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest

from tests import processes
from tests.processes import ROOT


@pytest.fixture
def newcomer_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[processes.Proc]:
    monkeypatch.delenv("SANDBOX_DATA_DIR", raising=False)  # the built-in default, nothing else
    home = tmp_path / "somewhere"
    home.mkdir()
    assert not home.resolve().is_relative_to(ROOT)
    args = ["sandbox", "--port", "0", "--speed", "200"]
    proc = processes.Proc(args, tmp_path / "sandbox.log", "sandbox listening on ", cwd=home)
    proc.start(timeout=30)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def newcomer_gateway(tmp_path: Path, newcomer_sandbox: processes.Proc) -> Iterator[processes.Proc]:
    gateway = processes.gateway(tmp_path, newcomer_sandbox.url, 0, time_scale=200).start()
    try:
        yield gateway
    finally:
        gateway.stop()


def test_first_video_from_a_default_sandbox(
    tmp_path: Path, newcomer_sandbox: processes.Proc, newcomer_gateway: processes.Proc
) -> None:
    key = processes.create_key(tmp_path / "gateway-data")
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=newcomer_gateway.url, headers=headers, timeout=90) as api:
        assert api.get("/v1/me").json()["credits"]["available"] == 10_000
        r = api.post(
            "/v1/videos",
            json={"prompt": "a paper boat on a river", "duration_seconds": 2},
            headers={"Prefer": "wait=60"},
        )
        assert r.status_code == 200, r.text
        video = r.json()
        assert video["status"] == "succeeded", video
        mp4 = httpx.get(video["output"]["url"], timeout=30)
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(mp4.content)) as container:
        assert sum(1 for _ in container.decode(video=0)) > 0
    # The relative default landed under the sandbox's cwd, not under the package.
    renders = tmp_path / "somewhere" / "data" / "sandbox" / "renders"
    assert any(renders.glob("*.mp4")), list(renders.parent.rglob("*"))
