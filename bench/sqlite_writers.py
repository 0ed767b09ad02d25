"""SQLite writers: CPU of one durable create, one writing process against several.

python bench/sqlite_writers.py [--seconds 6] [--processes 1,3] [--rounds 2] [--write]
python bench/sqlite_writers.py --quick

Each process calls ``videos_service.create_video`` (the accept path's row
building and its commit through the group commit, one request at a time, so
every commit holds one video) in a loop against the same SQLite database, as
gunicorn's workers do. Reported: CPU per create (user + system of the process,
``time.process_time``) and creates per second, for each number of processes,
alternating for ``--rounds`` rounds. The difference between one process and
several is what sharing the database between processes costs a commit: the
file lock, and SQLite re-reading pages once another process has committed.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

import benchlib as bl

HEADING = "## SQLite writers"
REQUEST = {
    "prompt": "a 10-second vertical clip of waves at dusk with lo-fi music",
    "aspect_ratio": "9:16",
    "metadata": {"order": "bench"},
}
WARM_UP = 50


def writer(url: str, key_id: str, seconds: float, out: Any) -> None:
    """One process: create videos one at a time for ``seconds``; report (count, CPU s)."""
    from gateway import videos_service
    from gateway.store.db import Database

    db = Database(url)
    for _ in range(WARM_UP):
        videos_service.create_video(db, key_id, REQUEST)
    count, began, end = 0, time.process_time(), time.monotonic() + seconds
    while time.monotonic() < end:
        videos_service.create_video(db, key_id, REQUEST)
        count += 1
    out.put((count, time.process_time() - began))
    db.dispose()


def one_run(url: str, key_id: str, processes: int, seconds: float) -> dict[str, float]:
    ctx = mp.get_context("spawn")  # a fresh interpreter each, as gunicorn's workers
    out = ctx.Queue()
    children = [
        ctx.Process(target=writer, args=(url, key_id, seconds, out)) for _ in range(processes)
    ]
    for child in children:
        child.start()
    results = [out.get(timeout=seconds + 120) for _ in children]
    for child in children:
        child.join()
    count = sum(n for n, _ in results)
    cpu = sum(c for _, c in results)
    return {"creates": count, "per_second": count / seconds, "cpu_us": 1e6 * cpu / max(count, 1)}


def run(levels: list[int], seconds: float, rounds: int, tmp: Path) -> dict[int, list[dict]]:
    db = bl.gateway_db(tmp)
    key_id, _, _ = bl.api_key(db)
    url = str(db.engine.url)
    db.dispose()
    results: dict[int, list[dict[str, float]]] = {n: [] for n in levels}
    for round_no in range(rounds):
        for n in levels if round_no % 2 == 0 else levels[::-1]:
            results[n].append(one_run(url, key_id, n, seconds))
    return results


def report(results: dict[int, list[dict[str, float]]], args: argparse.Namespace) -> str:
    rows = []
    base = statistics.median(r["cpu_us"] for r in results[min(results)])
    for n, runs in results.items():
        cpu = statistics.median(r["cpu_us"] for r in runs)
        per_run = " / ".join(f"{r['cpu_us']:.0f}" for r in runs)
        rate = " / ".join(f"{r['per_second']:.0f}" for r in runs)
        rows.append(f"| {n} | {per_run} | {cpu:.0f} | {cpu / base:.2f} | {rate} |")
    return (
        f"{HEADING}\n\n"
        "CPU of one durable create when several processes write the same SQLite database, "
        "as gunicorn's workers do. Each process calls `videos_service.create_video` (the "
        "accept path's rows and their commit, one request at a time, so every commit holds "
        f"one video) in a loop for {args.seconds:g} s; the numbers of processes alternate "
        f"for {args.rounds} round{'s' if args.rounds > 1 else ''}. CPU = user + system of "
        "the writing processes per create. What the extra processes add is what sharing "
        "the database costs a commit: the file lock, and SQLite re-reading the pages it "
        "had cached once another process has committed.\n\n"
        "| processes | CPU us per create (rounds) | median | x one process "
        "| creates/s (rounds) |\n"
        "|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n" + bl.footer()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--processes", default="1,3", help="comma-separated (default 1,3)")
    parser.add_argument("--rounds", type=int, default=2)
    bl.add_output_flags(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds = 0.5, 1
    levels = [int(n) for n in args.processes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-writers-") as folder:
        results = run(levels, args.seconds, args.rounds, Path(folder))
    bl.publish(HEADING, report(results, args), args, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
