"""Looks: the palette, waves and shapes of a segment's picture, derived from its label.

The same label (and seed) always gives the same look, and different labels give visibly
different ones, so each video segment of a draft is recognisable in the render.
"""

from __future__ import annotations

import colorsys
import hashlib
import math
import random
from dataclasses import dataclass

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
    angle, k = rnd.uniform(0, 2 * math.pi), rnd.uniform(2.0, 7.0)
    speed = rnd.uniform(0.6, 1.8) * rnd.choice((-1, 1))
    return Wave(k * math.cos(angle), k * math.sin(angle), speed, rnd.uniform(0, 2 * math.pi))


def _blob(rnd: random.Random, colour: Colour) -> Blob:
    return Blob(
        radius=rnd.uniform(0.12, 0.3),
        colour=colour,
        amp=(rnd.uniform(0.2, 0.4), rnd.uniform(0.2, 0.4)),
        freq=(rnd.uniform(0.3, 1.1), rnd.uniform(0.3, 1.1)),
        phase=(rnd.uniform(0, 6.3), rnd.uniform(0, 6.3)),
    )
