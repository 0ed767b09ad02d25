"""The sandbox's export renderer: a draft timeline in, a real H.264/AAC MP4 out.

The picture is procedural (seeded from the prompt or segment labels), text segments are
burnt in and audio segments become generated music. Frames are produced and encoded
one at a time, so memory stays flat whatever the duration.

Output is byte-for-byte reproducible for the same draft, size and frame rate on the same
machine and library versions (fixed x264 thread count; every input is deterministic), which
is what lets ``render_cached`` and its clients compare files by SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gateway.sandbox.render_encode import encode
from gateway.sandbox.render_job import frame_size, plan, resolve_size

__all__ = ["RenderResult", "frame_size", "render_cached", "render_draft"]


@dataclass(frozen=True)
class RenderResult:
    path: Path
    size_bytes: int
    duration_seconds: float
    width: int
    height: int
    has_audio: bool
    sha256: str


def render_draft(
    draft: dict[str, Any],
    out_path: Path,
    *,
    width: int | None = None,
    height: int | None = None,
    fps: int | None = None,
) -> RenderResult:
    """Render ``draft`` to ``out_path`` (written atomically) and describe the file."""
    job = plan(draft, *resolve_size(draft, width, height, fps))
    out_path = Path(out_path)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        encode(job, tmp)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return RenderResult(
        path=out_path,
        size_bytes=out_path.stat().st_size,
        duration_seconds=job.frames / job.fps,
        width=job.width,
        height=job.height,
        has_audio=bool(job.voices),
        sha256=_file_sha256(out_path),
    )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


RENDERER_VERSION = 1  # part of the cache key: bump when the output of the same draft changes


def cache_key(draft: dict[str, Any], width: int, height: int, fps: int) -> str:
    """SHA-256 of the canonical JSON of the draft and the resolved size and rate.

    Segment ``src`` ids (the clip or upload a segment came from) are left out:
    the picture is drawn from labels, times and the prompt, never from ids, so
    drafts that differ only in ids make the same bytes and share one file (a
    load test's thousands of same-prompt videos cost one encode, not thousands).
    """
    body = {"draft": _without_ids(draft), "w": width, "h": height, "fps": fps}
    body["v"] = RENDERER_VERSION
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k != "src"}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def render_cached(
    draft: dict[str, Any],
    cache_dir: Path,
    *,
    width: int | None = None,
    height: int | None = None,
    fps: int | None = None,
) -> RenderResult:
    """``render_draft`` into ``<cache_dir>/<key>.mp4``, reusing an earlier render of the same key.

    A hit costs a stat and a small JSON read. Threads asking for the same key wait for
    the one that encodes; separate processes may both encode, harmlessly, since every
    file is replaced atomically.
    """
    width, height, fps = resolve_size(draft, width, height, fps)
    key = cache_key(draft, width, height, fps)
    cache_dir = Path(cache_dir)
    with _LOCKS.hold(key):
        hit = _load_sidecar(cache_dir, key)
        if hit is not None:
            return hit
        cache_dir.mkdir(parents=True, exist_ok=True)
        result = render_draft(draft, cache_dir / f"{key}.mp4", width=width, height=height, fps=fps)
        _write_sidecar(cache_dir / f"{key}.json", result)
        return result


def _load_sidecar(cache_dir: Path, key: str) -> RenderResult | None:
    video, sidecar = cache_dir / f"{key}.mp4", cache_dir / f"{key}.json"
    try:
        fields = json.loads(sidecar.read_text())
        result = RenderResult(path=video, **fields)
        intact = video.stat().st_size == result.size_bytes
    except (OSError, ValueError, TypeError):
        return None  # missing or unreadable: render again
    return result if intact else None


def _write_sidecar(path: Path, result: RenderResult) -> None:
    fields = {k: v for k, v in asdict(result).items() if k != "path"}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    tmp.write_text(json.dumps(fields, sort_keys=True))
    os.replace(tmp, path)


class _KeyLocks:
    """One lock per key, dropped when nobody holds or waits for it (no growth with keys)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._entries: dict[str, list[Any]] = {}  # key -> [lock, users]

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            entry = self._entries.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._entries[key]


_LOCKS = _KeyLocks()
