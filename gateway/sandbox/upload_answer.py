"""The references' upload answer: ``{"files": [...], "session_state_applied": true}``.

Each file carries what a CDN would report of it (``filename``, ``file_type``,
``cdn_url``, ``duration``, ``width``, ``height``, ``fps``, ``hash``). Uploaded
files are probed with PyAV; URLs are never fetched, so their figures are null.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import av


def files_answer(items: list[dict[str, Any]], data_dir: Path) -> dict[str, Any]:
    return {"files": [_file(item, data_dir) for item in items], "session_state_applied": True}


def _file(item: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    local = _local_path(item, data_dir)
    figures = _probe(local) if local is not None else {}
    digest = _sha256(local) if local is not None else hashlib.sha256(item["url"].encode())
    return {
        "filename": item["name"],
        "file_type": item["type"],
        "cdn_url": item["url"],
        "duration": figures.get("duration"),
        "width": figures.get("width"),
        "height": figures.get("height"),
        "fps": figures.get("fps"),
        "hash": digest.hexdigest(),
    }


def _local_path(item: dict[str, Any], data_dir: Path) -> Path | None:
    if item.get("source") != "upload":
        return None
    # .../uploads/<session>/<stored name>: the last two segments under data_dir/uploads
    session, name = urlparse(item["url"]).path.rsplit("/", 2)[-2:]
    path = data_dir / "uploads" / session / name
    return path if path.is_file() else None


def _sha256(path: Path) -> Any:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest


def _probe(path: Path) -> dict[str, Any]:
    """Duration (s), frame size and rate of a media file; {} when it does not decode."""
    try:
        with av.open(str(path)) as container:
            out: dict[str, Any] = {}
            if container.duration:
                out["duration"] = round(container.duration / av.time_base, 3)
            video = next(iter(container.streams.video), None)
            if video is not None:
                out |= {"width": video.width, "height": video.height}
                if video.average_rate:
                    out["fps"] = round(float(video.average_rate), 3)
            return out
    except (av.error.FFmpegError, OSError, ValueError):
        return {}
