"""BT.709 limited-range colour conversion shared by the picture and the text overlays."""

from __future__ import annotations

import numpy as np

_KR, _KB = 0.2126, 0.0722
_KG = 1 - _KR - _KB


def rgb_to_yuv(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    """One RGB colour (0..1 per channel) to limited-range YUV (Y 16..235, U/V 16..240)."""
    y, u, v = rgb_planes_to_yuv(np.asarray(rgb, dtype=np.float64))
    return float(y), float(u), float(v)


def rgb_planes_to_yuv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An ``(..., 3)`` RGB array in 0..1 to Y, U, V arrays of shape ``(...)``."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luma = _KR * r + _KG * g + _KB * b
    y = 16 + 219 * luma
    u = 128 + 224 * (b - luma) / (2 * (1 - _KB))
    v = 128 + 224 * (r - luma) / (2 * (1 - _KR))
    return y, u, v
