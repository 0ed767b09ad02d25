"""Burnt-in text for the sandbox renderer (draft text track, ``tt`` 7).

Each text segment is drawn once with Pillow's embedded scalable font, turned into
premultiplied YUV planes plus "keep" factors (1 - alpha), and then blended each frame
over its bounding box only, at full resolution on the packed frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gateway.draft import TRACK_TEXT, segments_of, tracks_of
from gateway.sandbox.picture import yuv420_views
from gateway.sandbox.yuv import rgb_planes_to_yuv

_WRAP_SHARE = 0.88  # text block width, share of the frame width


@dataclass(frozen=True)
class Caption:
    start_ms: float
    end_ms: float
    top: int  # even, so the chroma box lines up with the luma box
    left: int
    y_pm: np.ndarray  # alpha * Y, plus 0.5 so the uint8 conversion rounds
    y_keep: np.ndarray  # 1 - alpha
    u_pm: np.ndarray  # half resolution from here on
    v_pm: np.ndarray
    uv_keep: np.ndarray

    def visible(self, t_ms: float) -> bool:
        return self.start_ms <= t_ms < self.end_ms

    def apply(self, packed: np.ndarray) -> None:
        """Blend over a packed yuv420p frame (uint8, full-resolution luma)."""
        y, u, v = yuv420_views(packed)
        _over(y, self.y_keep, self.y_pm, self.top, self.left)
        _over(u, self.uv_keep, self.u_pm, self.top // 2, self.left // 2)
        _over(v, self.uv_keep, self.v_pm, self.top // 2, self.left // 2)


def _over(plane: np.ndarray, keep: np.ndarray, pm: np.ndarray, top: int, left: int) -> None:
    region = plane[top : top + keep.shape[0], left : left + keep.shape[1]]
    np.copyto(region, region * keep + pm, casting="unsafe")


def captions_of(draft: dict[str, Any], width: int, height: int, end_ms: float) -> list[Caption]:
    out = []
    for track in tracks_of(draft):
        if track.get("tt") != TRACK_TEXT:
            continue
        for seg in segments_of(track):
            text = seg.get("tx") or seg.get("lb")
            start, end = _num(seg.get("s"), 0), _num(seg.get("e"), end_ms)
            if isinstance(text, str) and text.strip() and end > start:
                out.append(_caption(text.strip(), start, end, width, height))
    return out


def _num(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) else default


def _caption(text: str, start: float, end: float, width: int, height: int) -> Caption:
    rgba = _text_rgba(text, width, height).astype(np.float32) / 255
    rgba = _fit(rgba, height, width)
    alpha = rgba[..., 3]
    y, u, v = rgb_planes_to_yuv(rgba[..., :3])
    half_alpha = _half(alpha)
    top = (height - alpha.shape[0]) // 2 // 2 * 2  # centred, rounded down to even
    left = (width - alpha.shape[1]) // 2 // 2 * 2
    return Caption(
        start,
        end,
        top,
        left,
        (alpha * y + 0.5).astype(np.float32),
        (1 - alpha).astype(np.float32),
        (_half(alpha * u) + 0.5).astype(np.float32),
        (_half(alpha * v) + 0.5).astype(np.float32),
        (1 - half_alpha).astype(np.float32),
    )


def _fit(rgba: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pad to even dimensions and crop (centred) to the frame."""
    h, w = rgba.shape[:2]
    rgba = np.pad(rgba, ((0, h % 2), (0, w % 2), (0, 0)))
    h, w = rgba.shape[:2]
    top, left = max(0, (h - height) // 4 * 2), max(0, (w - width) // 4 * 2)
    return rgba[top : top + height, left : left + width]


def _half(a: np.ndarray) -> np.ndarray:
    h, w = a.shape
    return a.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def _text_rgba(text: str, width: int, height: int) -> np.ndarray:
    size = max(10, round(min(width, height) * 0.1))
    font = ImageFont.load_default(size=size)
    block = "\n".join(_wrap(text, font.getlength, width * _WRAP_SHARE))
    stroke, spacing = max(1, size // 12), size // 4
    style = {"font": font, "align": "center", "stroke_width": stroke, "spacing": spacing}
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    x0, y0, x1, y1 = probe.multiline_textbbox((0, 0), block, **style)
    pad = stroke + 2
    image = Image.new("RGBA", (x1 - x0 + 2 * pad, y1 - y0 + 2 * pad), (0, 0, 0, 0))
    ImageDraw.Draw(image).multiline_text(
        (pad - x0, pad - y0), block, fill=(255, 255, 255, 255), stroke_fill=(0, 0, 0, 255), **style
    )
    return np.asarray(image)


def _wrap(text: str, length: Callable[[str], float], max_width: float) -> list[str]:
    """Greedy word wrap; a single word wider than the line stays whole (it gets cropped)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [text]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if line and length(candidate) > max_width:
                lines.append(line)
                candidate = word
            line = candidate
        lines.append(line)
    return lines
