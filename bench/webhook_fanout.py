"""Webhook fan-out: signed deliveries per second from one worker process to a local receiver.

python bench/webhook_fanout.py [--events 5000] [--write]
python bench/webhook_fanout.py --quick

N ``video.completed`` events (a realistic ~1.5 KB Video payload each, one
delivery to the receiver's URL) are written to the outbox first; then
``nemo-gateway worker`` starts and its ``Dispatcher`` (claim, sign with the API
key's ``whsec_`` secret, POST, record the attempt) drains them. The receiver
(``bench/receiver.py``, its own process) checks every signature. The rate is
deliveries / (last arrival - first arrival); the run ends when every delivery
row is ``succeeded``. Target: >= 500 signed deliveries per second.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

import benchlib as bl

HEADING = "## Webhook fan-out"
TARGET = 500.0


def payload(i: int) -> dict[str, Any]:
    """A video.completed body of the size the engine writes."""
    vid = f"vid_{i:026d}"
    return {
        "type": "video.completed",
        "timestamp": "2026-11-21T10:00:00Z",
        "data": {
            "id": vid,
            "object": "video",
            "status": "succeeded",
            "stage": "done",
            "progress": 100,
            "prompt": "a 10-second vertical clip of waves at dusk with lo-fi music",
            "created_at": "2026-11-21T09:57:00Z",
            "completed_at": "2026-11-21T10:00:00Z",
            "output": {
                "url": f"http://127.0.0.1:9/v1/videos/{vid}/content?exp=1763805600&sig={'a' * 43}",
                "content_type": "video/mp4",
                "size_bytes": 1468213,
                "sha256": "b" * 64,
                "duration_seconds": 10.0,
                "width": 1080,
                "height": 1920,
            },
            "timeline": {"duration_ms": 10000, "tracks": [{"type": "video", "segments": 1}]},
            "reply": "Your video is ready! I made a 10-second 9:16 video of waves at dusk.",
            "metadata": {"order": str(i)},
            "error": None,
        },
    }


def seed(db: Any, key_id: str, url: str, n: int) -> None:
    from gateway.store.outbox import EventSpec, add_event

    batch = 500
    for start in range(0, n, batch):
        with db.write() as s:
            for i in range(start, min(n, start + batch)):
                spec = EventSpec(
                    type="video.completed",
                    payload=payload(i),
                    api_key_id=key_id,
                    urls=[f"{url}/hooks/bench"],
                )
                add_event(s, spec)


def succeeded(db: Any) -> int:
    from sqlalchemy import func, select

    from gateway.store.models import Delivery

    with db.session() as s:
        return int(
            s.execute(
                select(func.count()).select_from(Delivery).where(Delivery.status == "succeeded")
            ).scalar_one()
        )


def run(n: int, tmp: Path, timeout: float) -> dict[str, Any]:
    db = bl.gateway_db(tmp)
    key_id, _, secret = bl.api_key(db)
    recv = bl.receiver(tmp, secret)
    try:
        seed(db, key_id, recv.url, n)
        env = bl.gateway_env(tmp, "http://127.0.0.1:9", "nmv_bench_unused")
        started = time.monotonic()
        worker = bl.worker(tmp, env)
        first = bl.read_proc(worker.pid)
        try:
            done = 0
            while time.monotonic() - started < timeout:
                done = succeeded(db)
                if done >= n:
                    break
                time.sleep(0.25)
            drained = time.monotonic() - started
            last = bl.read_proc(worker.pid)
        finally:
            worker.stop()
        seen = bl.arrivals(recv.url)
    finally:
        recv.stop()
        db.dispose()
    times = sorted(a[0] for a in seen["arrivals"])
    span = (times[-1] - times[0]) if len(times) > 1 else float("nan")
    ids = {a[1] for a in seen["arrivals"]}
    return {
        "events": n,
        "succeeded": done,
        "arrived": len(times),
        "distinct_ids": len(ids),
        "bad_signatures": seen["bad"],
        "rate": (len(times) - 1) / span if span and span > 0 else float("nan"),
        "drain_seconds": drained,
        "worker_cpu_share": bl.cpu_share(first, last),
        "worker_peak_rss": last.hwm,
    }


def report(r: dict[str, Any]) -> str:
    ok = "met" if r["rate"] >= TARGET else "missed"
    return (
        f"{HEADING}\n\n"
        "One `nemo-gateway worker` process drains N `video.completed` events from the "
        "outbox to a local receiver (`bench/receiver.py`, its own asyncio process, which "
        "verifies every Standard Webhooks signature). Deliveries are claimed in batches "
        "of 64 under a lease and loaded in one read; each is signed with the API key's "
        "secret and POSTed on a fresh connection (no reuse: the SSRF guard pins every "
        "attempt) by 16 threads; a batch's outcomes (delivery rows, attempt log, "
        "subscription health) are recorded in one SQLite transaction. Rate = arrivals / "
        "(last arrival - first arrival). Target: >= 500 signed deliveries per second.\n\n"
        "| events | arrived | distinct webhook-ids | bad signatures | deliveries/s "
        "| all recorded after | worker CPU (1 = a core) | worker peak RSS | target |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
        f"| {r['events']} | {r['arrived']} | {r['distinct_ids']} | {r['bad_signatures']} "
        f"| {r['rate']:.0f} | {r['drain_seconds']:.1f} s | {r['worker_cpu_share']:.2f} "
        f"| {bl.mib(r['worker_peak_rss'])} | {ok} |\n\n"
        + bl.footer("; the receiver shares the 2 cores")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--timeout", type=float, default=300)
    bl.add_output_flags(parser)
    args = parser.parse_args(argv)
    n = 50 if args.quick else args.events
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as folder:
        result = run(n, Path(folder), 60 if args.quick else args.timeout)
    bl.publish(HEADING, report(result), args, result)
    return 0 if result["arrived"] >= n else 1


if __name__ == "__main__":
    raise SystemExit(main())
