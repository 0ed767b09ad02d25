"""The NemoVideo draft timeline: short-key format, readiness, summary and diff.

Pure functions, no I/O. The sandbox writes drafts in this format and the gateway
reads them; reading is liberal because the real format is only partly documented.

Draft shape (keys from the protocol doc; segment keys are this project's choice
where the doc is silent):

    {"d": 10000,                                   # duration, ms
     "m": {"ratio": "16:9", "w": 1920, "h": 1080, "fps": 30, "prompt": "..."},
     "t": [                                        # tracks
       {"tt": 0, "n": "Video", "sg": [{"s": 0, "e": 10000, "lb": "city timelapse"}]},
       {"tt": 1, "n": "BGM",   "sg": [{"s": 0, "e": 10000, "lb": "Lo-fi", "v": 0.35}]},
       {"tt": 7, "n": "Title", "sg": [{"s": 0, "e": 3000, "tx": "Urban Dreams"}]}]}

Segment keys: ``s``/``e`` start/end in ms, ``lb`` label, ``v`` volume 0..1,
``tx`` text, ``src`` media reference.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

TRACK_VIDEO = 0
TRACK_AUDIO = 1
TRACK_TEXT = 7

_TYPE_NAMES = {TRACK_VIDEO: "video", TRACK_AUDIO: "audio", TRACK_TEXT: "text"}


@dataclass(frozen=True)
class Track:
    """One decoded segment of a track, as the public API shows it."""

    type: str
    label: str
    start_seconds: float
    end_seconds: float
    volume: float | None = None
    text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def tracks_of(draft: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not isinstance(draft, dict):
        return []
    tracks = draft.get("t") or draft.get("tracks") or []
    return [t for t in tracks if isinstance(t, dict)]


def segments_of(track: dict[str, Any]) -> list[dict[str, Any]]:
    segments = track.get("sg") or track.get("segments") or []
    return [s for s in segments if isinstance(s, dict)]


def is_ready(draft: dict[str, Any] | None) -> bool:
    """A draft is ready for export when one track has a non-empty segment list."""
    return any(segments_of(t) for t in tracks_of(draft))


def duration_ms(draft: dict[str, Any] | None) -> int:
    if not isinstance(draft, dict):
        return 0
    if isinstance(draft.get("d"), int | float):
        return int(draft["d"])
    ends = [_num(s.get("e"), 0) for t in tracks_of(draft) for s in segments_of(t)]
    return int(max(ends, default=0))


def decode(draft: dict[str, Any] | None) -> list[Track]:
    """Every segment of every track, in track order."""
    out: list[Track] = []
    for track in tracks_of(draft):
        kind = _TYPE_NAMES.get(track.get("tt"), "other")
        for seg in segments_of(track):
            volume = seg.get("v")
            out.append(
                Track(
                    type=kind,
                    label=_label(track, seg, kind),
                    start_seconds=round(_num(seg.get("s"), 0) / 1000, 3),
                    end_seconds=round(_num(seg.get("e"), 0) / 1000, 3),
                    volume=float(volume) if isinstance(volume, int | float) else None,
                    text=seg.get("tx") if kind == "text" else None,
                )
            )
    return out


def summarize(draft: dict[str, Any] | None) -> str:
    """The protocol's one-line summary, e.g.
    ``Timeline (3 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%)``."""
    items = decode(draft)
    if not items:
        return "Timeline (0 tracks): empty"
    parts = [f"{i}. {_describe(t)}" for i, t in enumerate(items, start=1)]
    noun = "track" if len(items) == 1 else "tracks"
    return f"Timeline ({len(items)} {noun}): " + " ".join(parts)


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, Any]]:
    """What the draft gained, lost or changed, matched by (type, index within type)."""
    old, new = _by_slot(decode(before)), _by_slot(decode(after))
    changes: list[dict[str, Any]] = []
    for slot in sorted(old.keys() | new.keys(), key=lambda s: (s[0], s[1])):
        a, b = old.get(slot), new.get(slot)
        if a == b:
            continue
        kind = "added" if a is None else "removed" if b is None else "changed"
        changes.append(
            {
                "change": kind,
                "track_type": slot[0],
                "before": _describe(a) if a else None,
                "after": _describe(b) if b else None,
            }
        )
    if duration_ms(before) != duration_ms(after) and before and after:
        changes.append(
            {
                "change": "changed",
                "track_type": "timeline",
                "before": f"duration {_secs(duration_ms(before))}s",
                "after": f"duration {_secs(duration_ms(after))}s",
            }
        )
    return changes


def _by_slot(items: list[Track]) -> dict[tuple[str, int], Track]:
    counts: dict[str, int] = {}
    slots = {}
    for t in items:
        n = counts.get(t.type, 0)
        counts[t.type] = n + 1
        slots[(t.type, n)] = t
    return slots


def _describe(t: Track) -> str:
    span = f"{_secs(t.start_seconds * 1000)}-{_secs(t.end_seconds * 1000)}s"
    if t.type == "audio":
        vol = f", {round(t.volume * 100)}%" if t.volume is not None else ""
        return f"BGM: {t.label} ({span}{vol})"
    if t.type == "text":
        return f'Title: "{t.text or t.label}" ({span})'
    if t.type == "video":
        return f"Video: {t.label} ({span})"
    return f"Track: {t.label} ({span})"


def _label(track: dict[str, Any], seg: dict[str, Any], kind: str) -> str:
    for value in (seg.get("lb"), seg.get("tx"), track.get("n")):
        if isinstance(value, str) and value:
            return value
    return kind


def _num(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) else default


def _secs(ms: float) -> str:
    value = ms / 1000
    return str(int(value)) if value == int(value) else f"{value:.1f}"
