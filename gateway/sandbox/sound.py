"""Generated music for the sandbox renderer (draft audio track, ``tt`` 1).

Each audio segment becomes a sustained chord picked from its label's mood, with a soft
attack and release and a mood-specific pulse, at the segment's volume. Samples are
computed from the absolute sample index, so any block can be produced on its own and
the result does not depend on how the encoder slices the stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gateway.draft import TRACK_AUDIO, segments_of, tracks_of

SAMPLE_RATE = 44100
DEFAULT_VOLUME = 0.8
_ATTACK_S, _RELEASE_S = 0.25, 0.6


@dataclass(frozen=True)
class Mood:
    freqs: tuple[float, ...]  # chord tones, Hz
    pulse_hz: float  # amplitude pulse rate: the "beat"
    depth: float  # how deep the pulse dips, 0..1


_MOODS: tuple[tuple[tuple[str, ...], Mood], ...] = (
    (("lo-fi", "lofi", "chill", "jazz"), Mood((220.0, 261.63, 329.63, 392.0), 0.5, 0.3)),
    (
        ("upbeat", "happy", "energetic", "pop", "dance", "fun"),
        Mood((261.63, 329.63, 392.0, 523.25), 2.0, 0.6),
    ),
    (
        ("calm", "ambient", "relax", "soft", "peaceful", "piano"),
        Mood((174.61, 220.0, 261.63, 329.63), 0.2, 0.15),
    ),
    (
        ("epic", "cinematic", "dramatic", "orchestral", "trailer"),
        Mood((73.42, 110.0, 146.83, 174.61, 220.0), 0.25, 0.4),
    ),
)
_DEFAULT_MOOD = Mood((196.0, 246.94, 293.66, 392.0), 1.0, 0.25)


def mood_for(label: str) -> Mood:
    text = label.lower()
    for words, mood in _MOODS:
        if any(word in text for word in words):
            return mood
    return _DEFAULT_MOOD


@dataclass(frozen=True)
class Voice:
    start: int  # samples
    end: int
    volume: float
    mood: Mood

    def add_to(self, out: np.ndarray, first: int) -> None:
        """Mix this voice into ``out``, which holds samples ``first .. first+len(out)``."""
        lo, hi = max(first, self.start), min(first + len(out), self.end)
        if lo >= hi:
            return
        t = np.arange(lo, hi, dtype=np.float64) / SAMPLE_RATE
        tone = sum(
            np.sin(2 * np.pi * f * t) + 0.25 * np.sin(4 * np.pi * f * t) for f in self.mood.freqs
        )
        tone /= 1.25 * len(self.mood.freqs)
        pulse = 1 - self.mood.depth * (0.5 - 0.5 * np.cos(2 * np.pi * self.mood.pulse_hz * t))
        out[lo - first : hi - first] += (
            self.volume * 0.9 * tone * pulse * self._envelope(t)
        ).astype(np.float32)

    def _envelope(self, t: np.ndarray) -> np.ndarray:
        start, end = self.start / SAMPLE_RATE, self.end / SAMPLE_RATE
        attack, release = min(_ATTACK_S, (end - start) / 4), min(_RELEASE_S, (end - start) / 3)
        rise = np.clip((t - start) / attack, 0, 1)
        fall = np.clip((end - t) / release, 0, 1)
        return (rise * fall) ** 2  # squared ramps: no clicks at the edges


def voices_of(draft: dict[str, Any], end_ms: float) -> list[Voice]:
    """One voice per audio segment that overlaps the timeline; empty means no audio stream."""
    out = []
    for track in tracks_of(draft):
        if track.get("tt") != TRACK_AUDIO:
            continue
        for seg in segments_of(track):
            start = max(0.0, _num(seg.get("s"), 0))
            end = min(end_ms, _num(seg.get("e"), end_ms))
            if end <= start:
                continue
            volume = min(1.0, max(0.0, _num(seg.get("v"), DEFAULT_VOLUME)))
            label = seg.get("lb") or track.get("n") or ""
            out.append(Voice(_sample(start), _sample(end), volume, mood_for(str(label))))
    return out


def mix(voices: list[Voice], first: int, count: int) -> np.ndarray:
    out = np.zeros(count, np.float32)
    for voice in voices:
        voice.add_to(out, first)
    return np.clip(out, -1, 1, out=out)


def _sample(ms: float) -> int:
    return round(ms * SAMPLE_RATE / 1000)


def _num(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) else default
