"""What the gateway learns from a mirrored file, and what it refuses to call a video."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from gateway.media.store import NotAVideo, probe


def encode(path: Path, container_format: str | None, frames: int = 20, rate: int = 10) -> None:
    with av.open(str(path), "w", format=container_format) as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        black = np.zeros((48, 64, 3), np.uint8)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(black, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def test_an_mp4_gives_its_duration_and_size(tmp_path: Path) -> None:
    encode(tmp_path / "a.mp4", "mp4")
    facts = probe(tmp_path / "a.mp4")
    assert (facts.duration_seconds, facts.width, facts.height) == (2.0, 64, 48)


def test_a_stream_without_a_declared_duration_is_measured_from_its_packets(
    tmp_path: Path,
) -> None:
    encode(tmp_path / "bare.h264", "h264")
    with av.open(str(tmp_path / "bare.h264")) as bare:  # the case this covers
        assert bare.duration is None and bare.streams.video[0].duration is None
    assert probe(tmp_path / "bare.h264").duration_seconds == pytest.approx(2.0, abs=0.11)


def test_sound_only_is_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "sound.m4a"
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=44100)
        silence = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        silence.sample_rate = 44100
        out.mux(stream.encode(silence))
        out.mux(stream.encode())
    with pytest.raises(NotAVideo, match="no video stream"):
        probe(path)


@pytest.mark.parametrize(
    "body",
    [b"<html><body>502 Bad Gateway</body></html>", b"", b"\x00\x00\x00\x18ftypmp42 cut off"],
)
def test_an_error_page_or_a_cut_off_file_is_not_a_video(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "out.mp4"
    path.write_bytes(body)
    with pytest.raises(NotAVideo):
        probe(path)
