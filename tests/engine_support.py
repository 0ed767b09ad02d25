"""What the engine tests share: a database, drafts, a tiny real MP4, a driver that skips sleeps."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import av
import numpy as np

from gateway.config import GatewayConfig, Timings
from gateway.jobs.engine import Engine
from gateway.jobs.states import TERMINAL
from gateway.media.signing import UrlSigner
from gateway.media.store import MediaStore
from gateway.representation import Links
from gateway.store import leases
from gateway.store.db import Database
from gateway.store.models import Video
from gateway.videos_service import utcnow

DRAFT = {"d": 2000, "t": [{"tt": 0, "sg": [{"s": 0, "d": 2000, "m": {"n": "waves"}}]}]}
WITH_MUSIC = {
    "d": 2000,
    "t": [*DRAFT["t"], {"tt": 1, "sg": [{"s": 0, "d": 2000, "m": {"n": "Lo-fi", "v": 35}}]}],
}
LINKS = Links("http://gw.test", UrlSigner(b"k" * 32), 3600)


def _tiny_mp4() -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for _ in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


MP4 = _tiny_mp4()


def make_engine(db: Database, client: Any, tmp: Path, timings: Timings | None = None) -> Engine:
    config = GatewayConfig(data_dir=tmp, timings=timings or Timings())
    return Engine(db, client, MediaStore(tmp / "media"), config, LINKS, owner="test")


def due_claims(db: Database) -> list[leases.Claim]:
    """What is due an hour from now: every sleep is skipped."""
    later = utcnow() + timedelta(hours=1)
    return leases.claim_due(db, Video, owner="test", now=later, limit=1, lease_seconds=30)


async def run_until_terminal(db: Database, engine: Engine, video_id: str, rounds: int) -> None:
    """Run every due video until ``video_id`` is terminal, at most ``rounds`` rounds."""
    for _ in range(rounds):
        for claim in due_claims(db):
            await engine.run(claim)
        if load(db, video_id).status in TERMINAL:
            return
    raise AssertionError("the video never finished")


def load(db: Database, video_id: str) -> Video:
    with db.session() as s:
        video = s.get(Video, video_id)
        s.expunge(video)
    return video
