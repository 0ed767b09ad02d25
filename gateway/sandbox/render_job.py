"""A draft timeline resolved into a render job: frame size, looks, captions and voices."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gateway.draft import TRACK_VIDEO, duration_ms, segments_of, tracks_of
from gateway.sandbox.captions import Caption, captions_of
from gateway.sandbox.looks import Look, look_for
from gateway.sandbox.sound import Voice, voices_of

DEFAULT_SIZE, DEFAULT_FPS = (1280, 720), 24
MAX_AREA, MAX_SIDE, MIN_SIDE = 1080 * 1920, 1920, 16
MAX_DURATION_MS = 10 * 60 * 1000  # a runaway "d" must not tie the sandbox up for hours

_RATIOS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}
_RESOLUTIONS = {"720p": 720, "1080p": 1080}


def frame_size(aspect_ratio: str, resolution: str) -> tuple[int, int]:
    """``("9:16", "1080p")`` -> ``(1080, 1920)``; the resolution names the short side."""
    if aspect_ratio not in _RATIOS:
        raise ValueError(f"unknown aspect ratio {aspect_ratio!r}; expected one of {list(_RATIOS)}")
    if resolution not in _RESOLUTIONS:
        raise ValueError(f"unknown resolution {resolution!r}; expected one of {list(_RESOLUTIONS)}")
    w, h = _RATIOS[aspect_ratio]
    short = _RESOLUTIONS[resolution]
    return (short * w // h, short) if w >= h else (short, short * h // w)


@dataclass(frozen=True)
class Job:
    """A validated draft, resolved to everything the encoder needs."""

    width: int
    height: int
    fps: int
    duration_ms: int
    shots: list[tuple[float, float, Look]]  # video segments: start ms, end ms, look
    backdrop: Look  # between and without video segments
    captions: list[Caption]
    voices: list[Voice]

    @property
    def frames(self) -> int:
        return max(1, round(self.duration_ms * self.fps / 1000))

    def look_at(self, t_ms: float) -> Look:
        for start, end, look in self.shots:
            if start <= t_ms < end:
                return look
        return self.backdrop


def resolve_size(
    draft: dict[str, Any], width: int | None, height: int | None, fps: int | None
) -> tuple[int, int, int]:
    """Frame size and rate from the arguments, else the draft's ``m``, clamped to the limits."""
    if not isinstance(draft, dict):
        raise ValueError("a draft is a JSON object")
    meta = draft.get("m") if isinstance(draft.get("m"), dict) else {}
    fallback = DEFAULT_SIZE
    if meta.get("ratio") in _RATIOS:
        fallback = frame_size(meta["ratio"], "720p")
    w = width or _positive(meta.get("w")) or fallback[0]
    h = height or _positive(meta.get("h")) or fallback[1]
    rate = fps or _positive(meta.get("fps")) or DEFAULT_FPS
    if w <= 0 or h <= 0 or rate <= 0:
        raise ValueError(f"bad frame size or rate: {w}x{h} at {rate} fps")
    # never beyond the upstream's 1080x1920, by area and by long side, keeping the shape
    scale = min(1.0, MAX_SIDE / max(w, h), math.sqrt(MAX_AREA / (w * h)))
    return _even(w * scale), _even(h * scale), min(60, round(rate))


def _positive(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and value > 0 else None


def _even(value: float) -> int:
    return max(MIN_SIDE, int(value + 1e-6) // 2 * 2)  # yuv420p needs even sides


def plan(draft: dict[str, Any], width: int, height: int, fps: int) -> Job:
    total = duration_ms(draft)
    if total <= 0:
        raise ValueError("the draft has no duration: nothing to render")
    if total > MAX_DURATION_MS:
        raise ValueError(
            f"the draft lasts {total} ms; the sandbox renders at most {MAX_DURATION_MS}"
        )
    meta = draft.get("m") if isinstance(draft.get("m"), dict) else {}
    prompt, seed = str(meta.get("prompt") or ""), meta.get("seed")
    return Job(
        width,
        height,
        fps,
        total,
        _shots(draft, prompt, seed, total),
        look_for(prompt, seed),
        captions_of(draft, width, height, total),
        voices_of(draft, total),
    )


def _shots(
    draft: dict[str, Any], prompt: str, seed: Any, total: int
) -> list[tuple[float, float, Look]]:
    segments = [s for t in tracks_of(draft) if t.get("tt") == TRACK_VIDEO for s in segments_of(t)]
    shots = []
    for i, seg in enumerate(segments):
        label = seg.get("lb") if isinstance(seg.get("lb"), str) and seg["lb"] else f"{prompt}#{i}"
        start, end = seg.get("s", 0), seg.get("e", total)
        if isinstance(start, int | float) and isinstance(end, int | float) and end > start:
            shots.append((float(start), float(end), look_for(label, seed)))
    return shots
