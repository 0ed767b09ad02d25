"""Sandbox render speed: time 10 s renders (title + music) at 1080x1920 and 1280x720.

python bench/render_bench.py            # print a markdown table
python bench/render_bench.py --write    # also update docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # runnable from a checkout without installing

import av  # noqa: E402
import numpy as np  # noqa: E402

from gateway.sandbox.render import render_draft  # noqa: E402

SECTION = "## Sandbox render speed"
DOC = ROOT / "docs" / "benchmarks.md"
DURATION_MS, FPS = 10_000, 30
CASES = [("9:16", 1080, 1920), ("16:9", 1280, 720)]


def bench_draft(ratio: str, width: int, height: int) -> dict[str, Any]:
    """The upstream's typical export: one clip, background music over all, an opening title."""
    return {
        "d": DURATION_MS,
        "m": {"ratio": ratio, "w": width, "h": height, "fps": FPS, "prompt": "city timelapse"},
        "t": [
            {"tt": 0, "n": "Video", "sg": [{"s": 0, "e": DURATION_MS, "lb": "city timelapse"}]},
            {"tt": 1, "n": "BGM", "sg": [{"s": 0, "e": DURATION_MS, "lb": "Lo-fi", "v": 0.35}]},
            {"tt": 7, "n": "Title", "sg": [{"s": 0, "e": 3000, "tx": "Urban Dreams"}]},
        ],
    }


def time_case(ratio: str, width: int, height: int, runs: int, folder: Path) -> dict[str, Any]:
    draft, walls, cpus, digests, size = bench_draft(ratio, width, height), [], [], set(), 0
    for run in range(runs):
        cpu, wall = _cpu_seconds(), time.perf_counter()
        result = render_draft(draft, folder / f"{width}x{height}-{run}.mp4")
        walls.append(time.perf_counter() - wall)
        cpus.append(_cpu_seconds() - cpu)  # all threads, the encoder's included
        digests.add(result.sha256)
        size = result.size_bytes
    return {
        "size": f"{width}x{height}",
        "walls": walls,
        "cpus": cpus,
        "same": len(digests) == 1,
        "bytes": size,
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| 10 s, 30 fps, title + music | runs | wall min s | wall median s | CPU median s "
        "| x real time | MP4 | same bytes every run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        best, median = min(row["walls"]), statistics.median(row["walls"])
        lines.append(
            f"| {row['size']} | {len(row['walls'])} | {best:.2f} | {median:.2f} "
            f"| {statistics.median(row['cpus']):.2f} | {DURATION_MS / 1000 / median:.1f} "
            f"| {row['bytes'] / 1e6:.1f} MB | {'yes' if row['same'] else 'no'} |"
        )
    big, small = (statistics.median(r["walls"]) for r in rows)
    lines.append("")
    lines.append(
        f"1080x1920 takes {big / small:.2f}x the wall time of 1280x720 "
        f"for {1080 * 1920 / (1280 * 720):.2f}x the pixels."
    )
    return "\n".join(lines)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0]
    return (
        f"{cores} cores ({model}), load average {load:.1f} at the end of the run, "
        f"Python {platform.python_version()}, PyAV {av.__version__} "
        f"(FFmpeg {_ffmpeg_version()}), NumPy {np.__version__}"
    )


def _ffmpeg_version() -> str:
    version = av.library_versions.get("libavcodec", ())
    return "libavcodec " + ".".join(map(str, version)) if version else "unknown"


def section(body: str) -> str:
    return (
        f"{SECTION}\n\n"
        "Wall time of the sandbox renderer (`gateway/sandbox/render.py`) for a 10 s draft with "
        "one video segment, background music over the whole timeline and a 3 s title, encoded "
        "to H.264 (libx264 ultrafast, CRF 26) and AAC. The target is at most 15 s for "
        "1080x1920. Wall time depends on what else the machine runs; CPU time (all threads) "
        "is the steadier figure.\n\n"
        f"{body}\n\n"
        f"Measured {datetime.date.today().isoformat()} on {machine()}.\n\n"
        "Reproduce with `python bench/render_bench.py` (add `--write` to update this section).\n"
    )


def write_section(text: str, path: Path = DOC) -> None:
    """Replace the section (up to the next ``## `` heading) or append it; keep the rest."""
    doc = path.read_text() if path.exists() else "# Benchmarks\n"
    start = doc.find(SECTION)
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + text
    else:
        end = doc.find("\n## ", start + len(SECTION))
        rest = doc[end + 1 :] if end >= 0 else ""
        doc = doc[:start] + text + ("\n" + rest if rest else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        rows = [time_case(*case, args.runs, Path(folder)) for case in CASES]
    body = table(rows)
    print(body)
    print(f"\n{machine()}")
    if args.write:
        write_section(section(body))
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
