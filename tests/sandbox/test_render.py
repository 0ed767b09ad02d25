"""The sandbox renderer: real MP4s, decoded back with PyAV and checked by property."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from gateway.sandbox import render
from gateway.sandbox.looks import look_for
from gateway.sandbox.render import frame_size, render_cached, render_draft
from gateway.sandbox.render_job import resolve_size

SMALL = {"width": 192, "height": 108, "fps": 10}


def make_draft(
    duration_ms: int = 3000,
    *,
    music: tuple[int, int] | None = None,
    title: tuple[int, int] | None = None,
    ratio: str = "16:9",
) -> dict[str, Any]:
    tracks: list[dict[str, Any]] = [
        {"tt": 0, "n": "Video", "sg": [{"s": 0, "e": duration_ms, "lb": "city timelapse"}]}
    ]
    if music:
        tracks.append({"tt": 1, "n": "BGM", "sg": [{"s": music[0], "e": music[1], "lb": "Lo-fi"}]})
    if title:
        tracks.append(
            {"tt": 7, "n": "Title", "sg": [{"s": title[0], "e": title[1], "tx": "Urban"}]}
        )
    meta = {"ratio": ratio, "prompt": "a city at night", "fps": 10}
    return {"d": duration_ms, "m": meta, "t": tracks}


def luma_frames(path: Path) -> list[tuple[float, np.ndarray]]:
    """(time in ms, luma plane as int16) for every decoded video frame."""
    with av.open(str(path)) as box:
        out = []
        for frame in box.decode(video=0):
            luma = frame.to_ndarray(format="yuv420p")[: frame.height].astype(np.int16)
            out.append((float(frame.pts * frame.time_base) * 1000, luma))
        return out


def audio_samples(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as box:
        chunks = [f.to_ndarray().mean(axis=0) for f in box.decode(audio=0)]
        return np.concatenate(chunks), box.streams.audio[0].rate


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


@pytest.mark.parametrize(
    ("ratio", "resolution", "size"),
    [
        ("16:9", "1080p", (1920, 1080)),
        ("16:9", "720p", (1280, 720)),
        ("9:16", "1080p", (1080, 1920)),
        ("9:16", "720p", (720, 1280)),
        ("1:1", "1080p", (1080, 1080)),
        ("1:1", "720p", (720, 720)),
    ],
)
def test_frame_size(ratio: str, resolution: str, size: tuple[int, int]) -> None:
    assert frame_size(ratio, resolution) == size


@pytest.mark.parametrize(("ratio", "resolution"), [("4:3", "720p"), ("16:9", "480p"), ("", "")])
def test_frame_size_rejects_unknown_values(ratio: str, resolution: str) -> None:
    with pytest.raises(ValueError):
        frame_size(ratio, resolution)


@pytest.mark.parametrize(
    "draft", [{}, {"d": 0}, {"d": 0, "t": []}, {"t": [{"tt": 0, "sg": []}]}, {"d": 10**9}, None]
)
def test_empty_draft_is_refused(draft: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        render_draft(draft, tmp_path / "out.mp4")
    assert not list(tmp_path.iterdir())  # no partial file left behind


def test_size_is_clamped_to_the_upstream_limit() -> None:
    assert resolve_size({}, 3840, 2160, 30) == (1920, 1080, 30)
    assert resolve_size({}, 1080, 1920, 120) == (1080, 1920, 60)
    assert resolve_size({}, 2000, 2000, 30)[0] <= 1440  # area-wise: 1440x1440 is the square cap
    assert resolve_size({"m": {"w": 640, "h": 360, "fps": 25}}, None, None, None) == (640, 360, 25)
    assert resolve_size({}, None, None, None) == (1280, 720, 24)


@pytest.mark.parametrize("ratio", ["16:9", "9:16", "1:1"])
def test_each_aspect_ratio_renders_at_the_asked_size(ratio: str, tmp_path: Path) -> None:
    width, height = (side // 4 for side in frame_size(ratio, "720p"))
    draft = make_draft(2000, ratio=ratio)
    result = render_draft(draft, tmp_path / "out.mp4", width=width, height=height, fps=8)
    with av.open(str(result.path)) as box:
        stream = box.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", width, height)
        assert abs(float(box.duration / av.time_base) - 2.0) <= 0.5
    assert (result.width, result.height, result.has_audio) == (width, height, False)
    assert abs(result.duration_seconds - 2.0) <= 0.5
    assert result.size_bytes == result.path.stat().st_size


def test_music_gives_an_audio_stream_that_sounds_only_in_its_window(tmp_path: Path) -> None:
    result = render_draft(make_draft(3000, music=(1000, 2500)), tmp_path / "m.mp4", **SMALL)
    assert result.has_audio
    samples, rate = audio_samples(result.path)
    assert abs(len(samples) / rate - 3.0) <= 0.5

    def window(start: float, end: float) -> np.ndarray:
        return samples[int(start * rate) : int(end * rate)]

    assert rms(window(1.3, 2.2)) > 0.05
    assert rms(window(0.0, 0.9)) < 0.005
    assert rms(window(2.6, 3.0)) < 0.005


def test_no_music_means_no_audio_stream(tmp_path: Path) -> None:
    result = render_draft(make_draft(2000), tmp_path / "n.mp4", **SMALL)
    assert not result.has_audio
    with av.open(str(result.path)) as box:
        assert len(box.streams.audio) == 0


def test_title_shows_only_in_its_window(tmp_path: Path) -> None:
    plain = luma_frames(render_draft(make_draft(3000), tmp_path / "a.mp4", **SMALL).path)
    titled_draft = make_draft(3000, title=(1000, 2000))
    titled = luma_frames(render_draft(titled_draft, tmp_path / "b.mp4", **SMALL).path)
    assert len(plain) == len(titled) == 30
    for (t_ms, a), (_, b) in zip(plain, titled, strict=True):
        strong = float((np.abs(a - b) > 40).mean())  # coding noise stays well below 40
        if 1000 <= t_ms < 2000:
            assert strong > 0.002, t_ms
        else:
            assert strong == 0, t_ms


def test_same_draft_gives_the_same_bytes(tmp_path: Path) -> None:
    draft = make_draft(2000, music=(0, 2000), title=(0, 1000))
    first = render_draft(draft, tmp_path / "1.mp4", **SMALL)
    second = render_draft(draft, tmp_path / "2.mp4", **SMALL)
    assert first.sha256 == second.sha256
    assert first.path.read_bytes() == second.path.read_bytes()


def test_looks_follow_labels() -> None:
    assert look_for("city timelapse") == look_for("city timelapse")
    assert look_for("city timelapse") != look_for("ocean waves")
    assert look_for("city timelapse", seed=1) != look_for("city timelapse", seed=2)


def test_cache_hit_does_not_encode_again(tmp_path: Path) -> None:
    draft = make_draft(2000, music=(0, 2000), title=(0, 1000))
    first = render_cached(draft, tmp_path, **SMALL)
    assert first.path == tmp_path / f"{first.path.stem}.mp4"
    assert (tmp_path / f"{first.path.stem}.json").exists()
    mtime = first.path.stat().st_mtime_ns
    started = time.perf_counter()
    second = render_cached(draft, tmp_path, **SMALL)
    assert time.perf_counter() - started < 0.2  # a stat and a small JSON read
    assert second == first
    assert second.path.stat().st_mtime_ns == mtime


def test_cache_key_depends_on_size(tmp_path: Path) -> None:
    draft = make_draft(1000)
    small = render_cached(draft, tmp_path, width=96, height=54, fps=5)
    smaller = render_cached(draft, tmp_path, width=64, height=36, fps=5)
    assert small.path != smaller.path
    assert (smaller.width, smaller.height) == (64, 36)


def test_concurrent_cache_misses_encode_once(tmp_path: Path, monkeypatch) -> None:
    calls = []
    real = render.render_draft

    def counting(*args: Any, **kw: Any) -> render.RenderResult:
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(render, "render_draft", counting)
    draft = make_draft(1000)
    results: list[render.RenderResult] = []
    threads = [
        threading.Thread(target=lambda: results.append(render_cached(draft, tmp_path, **SMALL)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 3 and len({r.sha256 for r in results}) == 1


def test_damaged_cache_entry_is_rendered_again(tmp_path: Path) -> None:
    draft = make_draft(1000)
    first = render_cached(draft, tmp_path, **SMALL)
    first.path.write_bytes(b"truncated")
    again = render_cached(draft, tmp_path, **SMALL)
    assert again.sha256 == first.sha256
    assert again.path.stat().st_size == first.size_bytes
