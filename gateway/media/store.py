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


class NotAVideo(ValueError):
    """The file is no video PyAV can read: an error page, a cut-off download, sound only."""


def probe(path: Path) -> MediaFacts:
    """Container-level facts (no frame decoding, so it is cheap on large files)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise NotAVideo("it holds no video stream")
            stream = container.streams.video[0]
            return MediaFacts(
                duration_seconds=round(_duration(container, stream), 3),
                width=stream.codec_context.width,
                height=stream.codec_context.height,
            )
    except av.error.FFmpegError as exc:
        raise NotAVideo("it is no media file FFmpeg can read") from exc


def _duration(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    if container.duration is not None:
        return container.duration / av.time_base
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    # Neither is declared (a bare stream without a container index): add up
    # the packets' durations, which needs no decoding either.
    total = 0.0
    for packet in container.demux(stream):
        if packet.duration and packet.time_base is not None:
            total += float(packet.duration * packet.time_base)
    return total
