"""Where mirrored MP4s live, and what we learn from one without decoding it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from gateway.store import files


@dataclass(frozen=True)
class MediaFacts:
    duration_seconds: float
    width: int
    height: int


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        files.private_dir(self.root)  # mirrored videos are the key holders' own

    def path_for(self, video_id: str) -> Path:
        return self.root / f"{video_id}.mp4"

    def exists(self, video_id: str) -> bool:
        return self.path_for(video_id).is_file()


def probe(path: Path) -> MediaFacts:
    """Container-level facts (no frame decoding, so it is cheap on large files)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = float(stream.duration * stream.time_base)
        return MediaFacts(
            duration_seconds=round(duration, 3),
            width=stream.codec_context.width,
            height=stream.codec_context.height,
        )
