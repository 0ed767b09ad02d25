"""Procedural picture for the sandbox renderer: drifting colour fields and soft shapes.

Each plane is a low-rank product of 1-D waves (``rows @ cols``): a travelling wave
``sin(kx*x + ky*y + w*t)`` splits into ``sin(kx*x)cos(ky*y + w*t) + cos(kx*x)sin(ky*y + w*t)``,
so the column factors are fixed and only a few thousand row samples change per frame.
A 1080x1920 frame then costs three small matrix products, not per-pixel trigonometry.
Planes are produced directly in YUV 4:2:0 (BT.709, limited range) so the encoder
takes them without a per-frame colour conversion.
"""

from __future__ import annotations

import colorsys
import hashlib
import random
from dataclasses import dataclass, field

import numpy as np

from gateway.sandbox.yuv import rgb_to_yuv

Colour = tuple[float, float, float]


@dataclass(frozen=True)
class Wave:
    kx: float  # radians per short-side length, so the look is resolution independent
    ky: float
    speed: float  # radians per second
    phase: float


@dataclass(frozen=True)
class Blob:
    radius: float  # share of the short side
    colour: Colour  # YUV
    amp: tuple[float, float]  # orbit half-extent, share of width / height
    freq: tuple[float, float]  # radians per second
    phase: tuple[float, float]


@dataclass(frozen=True)
class Look:
    """Everything that makes one segment's picture; derived from its label alone."""

    base: Colour  # YUV of the mean colour
    deltas: tuple[Colour, Colour]  # YUV offsets to the two accent colours, one per wave field
    fields: tuple[tuple[Wave, ...], tuple[Wave, ...]]
    blobs: tuple[Blob, ...]


def look_for(text: str, seed: object = None) -> Look:
    """A deterministic look from a prompt or label (and an optional seed)."""
    digest = hashlib.sha256(f"{seed}|{text}".encode()).digest()
    rnd = random.Random(digest)  # stdlib Random: the sequence is stable across versions
    hue = rnd.random()

    def rgb(h: float, s: float, v: float) -> Colour:
        return colorsys.hsv_to_rgb(h % 1.0, s, v)

    base = rgb(hue, 0.6, 0.5)
    one = rgb(hue + rnd.uniform(0.06, 0.2), 0.75, 0.85)
    two = rgb(hue - rnd.uniform(0.06, 0.2), 0.7, 0.25)
    deltas = (_delta(rgb_to_yuv(one), rgb_to_yuv(base)), _delta(rgb_to_yuv(two), rgb_to_yuv(base)))
    fields = (_waves(rnd), _waves(rnd))
    glow = rgb_to_yuv(rgb(hue + 0.5, 0.45, 0.95))
    blobs = tuple(_blob(rnd, glow) for _ in range(rnd.randint(2, 4)))
    return Look(rgb_to_yuv(base), deltas, fields, blobs)


def _delta(a: Colour, b: Colour) -> Colour:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def _waves(rnd: random.Random) -> tuple[Wave, ...]:
    return tuple(_wave(rnd) for _ in range(rnd.randint(2, 3)))


def _wave(rnd: random.Random) -> Wave:
    angle, k = rnd.uniform(0, 2 * np.pi), rnd.uniform(2.0, 7.0)
    speed = rnd.uniform(0.6, 1.8) * rnd.choice((-1, 1))
    return Wave(k * np.cos(angle), k * np.sin(angle), speed, rnd.uniform(0, 2 * np.pi))


def _blob(rnd: random.Random, colour: Colour) -> Blob:
    return Blob(
        radius=rnd.uniform(0.12, 0.3),
        colour=colour,
        amp=(rnd.uniform(0.2, 0.4), rnd.uniform(0.2, 0.4)),
        freq=(rnd.uniform(0.3, 1.1), rnd.uniform(0.3, 1.1)),
        phase=(rnd.uniform(0, 6.3), rnd.uniform(0, 6.3)),
    )


@dataclass
class Planes:
    """Float YUV 4:2:0 working buffers for one frame (reused frame after frame)."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    @classmethod
    def empty(cls, width: int, height: int) -> Planes:
        half = (height // 2, width // 2)
        return cls(
            np.empty((height, width), np.float32),
            np.empty(half, np.float32),
            np.empty(half, np.float32),
        )

    def pack(self, out: np.ndarray) -> np.ndarray:
        """Clip and write into a ``(h*3/2, w)`` uint8 array laid out as yuv420p."""
        h, w = self.y.shape
        chroma = out[h:].reshape(2, h // 2, w // 2)
        for src, dst, top in (
            (self.y, out[:h], 235),
            (self.u, chroma[0], 240),
            (self.v, chroma[1], 240),
        ):
            np.clip(src, 16, top, out=src)
            np.copyto(dst, src, casting="unsafe")
        return out


@dataclass
class _Prepared:
    """Per-look, per-size data computed once: static wave columns and shape sprites."""

    look: Look
    cols: list[np.ndarray]  # per plane: (2n+1, plane width), already weighted by colour
    ky: np.ndarray  # (n,)
    speed: np.ndarray
    phase: np.ndarray
    sprites: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (full, half)


class Picture:
    """Draws frames of any number of looks at one frame size."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._short = float(min(width, height))
        self._prepared: dict[Look, _Prepared] = {}

    def draw(self, look: Look, t: float, planes: Planes) -> None:
        prep = self._prepared.get(look) or self._prepare(look)
        angle = (prep.speed * t + prep.phase)[None, :]
        for plane, cols, step in (
            (planes.y, prep.cols[0], 1),
            (planes.u, prep.cols[1], 2),
            (planes.v, prep.cols[2], 2),
        ):
            y = self._coords(plane.shape[0], step)[:, None] * prep.ky[None, :] + angle
            rows = np.concatenate([np.cos(y), np.sin(y), np.ones((len(y), 1))], axis=1)
            np.matmul(rows.astype(np.float32), cols, out=plane)
        for blob, sprite in zip(look.blobs, prep.sprites, strict=True):
            self._stamp(blob, sprite, t, planes)

    def _coords(self, n: int, step: int) -> np.ndarray:
        # pixel centres in short-side units; chroma samples sit between two luma pixels
        return (np.arange(n, dtype=np.float64) * step + step / 2) / self._short

    def _prepare(self, look: Look) -> _Prepared:
        waves = [(w, f) for f, group in enumerate(look.fields) for w in group]
        kx = np.array([w.kx for w, _ in waves])
        cols = []
        for plane, step in ((0, 1), (1, 2), (2, 2)):
            x = self._coords(self.width // step, step)[None, :] * kx[:, None]
            # fields map to 0..1, so colours stay between the palette's (no garish opposites)
            weight = np.array([look.deltas[f][plane] / 2 / len(look.fields[f]) for _, f in waves])
            # sin(a + b) = sin(a)cos(b) + cos(a)sin(b): pair sin(kx x) with cos(row), cos with sin
            sin_x, cos_x = np.sin(x) * weight[:, None], np.cos(x) * weight[:, None]
            middle = look.base[plane] + (look.deltas[0][plane] + look.deltas[1][plane]) / 2
            const = np.full((1, x.shape[1]), middle)
            cols.append(np.concatenate([sin_x, cos_x, const]).astype(np.float32))
        prep = _Prepared(
            look,
            cols,
            np.array([w.ky for w, _ in waves]),
            np.array([w.speed for w, _ in waves]),
            np.array([w.phase for w, _ in waves]),
        )
        prep.sprites = [(self._sprite(b.radius, 1), self._sprite(b.radius, 2)) for b in look.blobs]
        self._prepared[look] = prep
        return prep

    def _sprite(self, radius: float, step: int) -> np.ndarray:
        r = max(2, int(radius * self._short / step))
        d = np.linspace(-1, 1, 2 * r, dtype=np.float32)
        dist2 = d[:, None] ** 2 + d[None, :] ** 2
        return (np.clip(1 - dist2, 0, 1) ** 2 * 0.7).astype(np.float32)  # soft edge, see-through

    def _stamp(
        self, blob: Blob, sprite: tuple[np.ndarray, np.ndarray], t: float, p: Planes
    ) -> None:
        cx = self.width * (0.5 + blob.amp[0] * np.sin(blob.freq[0] * t + blob.phase[0]))
        cy = self.height * (0.5 + blob.amp[1] * np.sin(blob.freq[1] * t + blob.phase[1]))
        for plane, alpha, step, value in (
            (p.y, sprite[0], 1, blob.colour[0]),
            (p.u, sprite[1], 2, blob.colour[1]),
            (p.v, sprite[1], 2, blob.colour[2]),
        ):
            _blend(
                plane,
                alpha,
                int(cy / step) - len(alpha) // 2,
                int(cx / step) - len(alpha) // 2,
                value,
            )


def _blend(plane: np.ndarray, alpha: np.ndarray, top: int, left: int, value: float) -> None:
    """``plane += alpha * (value - plane)`` over the part of the sprite inside the plane."""
    h, w = plane.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + alpha.shape[0], h), min(left + alpha.shape[1], w)
    if y0 >= y1 or x0 >= x1:
        return
    region = plane[y0:y1, x0:x1]
    a = alpha[y0 - top : y1 - top, x0 - left : x1 - left]
    region += a * (value - region)
