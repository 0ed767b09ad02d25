"""In flight: one worker process holds N videos generating at once (SSE streams open).

python bench/inflight.py [--videos 2000] [--speed 2] [--write]
python bench/inflight.py --quick

The sandbox (its own process, werkzeug threaded: a thread per stream and per
turn) sends a keep-alive every 5 s on every stream; at ``--speed 2`` a
generation takes 55-145 s real, so all N streams are open together. N videos
are inserted through ``gateway.videos_service.create_video`` (each with its own
``webhook_url`` to the local receiver), then ``nemo-gateway worker`` starts.
The worker process alone is read from /proc every second (VmRSS, VmHWM,
utime+stime). "Waiting" is the window in which every video is in its stream
phase; CPU and RSS are reported over that window and per 1,000 in flight. The
run ends when every video is terminal and its webhook arrived; each must have
succeeded with exactly one ``video.completed`` delivery.
Targets (N = 2,000): RSS <= 512 MiB, <= 20% of one core while waiting.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

import benchlib as bl

HEADING = "## In flight: videos held by one worker"
PROMPT = "a 5-second clip of waves at dusk"


def create_videos(db: Any, key_id: str, n: int, hook: str) -> list[str]:
    from gateway.videos_service import create_video

    return [
        create_video(db, key_id, {"prompt": PROMPT, "webhook_url": hook}).video.id for _ in range(n)
    ]


def phases(db: Any) -> dict[str, int]:
    from sqlalchemy import func, select

    from gateway.store.models import Video

    with db.session() as s:
        rows = s.execute(
            select(Video.phase, Video.status, func.count()).group_by(Video.phase, Video.status)
        )
        out: dict[str, int] = {}
        for phase, status, count in rows:
            key = status if status in ("succeeded", "failed", "canceled") else phase
            out[key] = out.get(key, 0) + count
        return out


def run(n: int, speed: float, heartbeat: float, tmp: Path, timeout: float) -> dict[str, Any]:
    db = bl.gateway_db(tmp)
    key_id, _, secret = bl.api_key(db)
    sandbox = bl.sandbox(tmp, speed, heartbeat)
    recv = bl.receiver(tmp, secret)
    timeline: list[dict[str, Any]] = []
    try:
        token = bl.sandbox_token(sandbox.url)
        t0 = time.monotonic()
        ids = create_videos(db, key_id, n, f"{recv.url}/hooks/inflight")
        created_s = time.monotonic() - t0
        env = bl.gateway_env(tmp, sandbox.url, token, GATEWAY_TIME_SCALE=str(speed))
        worker = bl.worker(tmp, env)
        started = time.monotonic()
        sampler = bl.Sampler(worker.pid, 1.0).start()
        sandbox_first = bl.read_proc(sandbox.pid)
        try:
            while time.monotonic() - started < timeout:
                counts = phases(db)
                reading = bl.read_proc(worker.pid)
                timeline.append(
                    {"t": time.monotonic() - started, "phases": counts, "proc": reading}
                )
                done = sum(counts.get(k, 0) for k in ("succeeded", "failed", "canceled"))
                if done >= n:
                    break
                time.sleep(2.0)
            finished_s = time.monotonic() - started
            # The last webhooks: give the dispatcher a few ticks.
            deadline = time.monotonic() + 30
            seen = bl.arrivals(recv.url)
            while len(seen["arrivals"]) < n and time.monotonic() < deadline:
                time.sleep(1)
                seen = bl.arrivals(recv.url)
        finally:
            sampler.stop()
            sandbox_last = bl.read_proc(sandbox.pid)
            worker.stop()
        stats = bl.sandbox_stats(sandbox.url)
        final = phases(db)
    finally:
        recv.stop()
        sandbox.stop()
        db.dispose()
    return summarize(
        n,
        ids,
        timeline,
        sampler.readings,
        seen,
        stats,
        final,
        locals_of(
            created_s=created_s,
            finished_s=finished_s,
            sandbox_cpu=bl.cpu_share(sandbox_first, sandbox_last),
            sandbox_threads_peak=sandbox_last.threads,
            speed=speed,
            heartbeat=heartbeat,
        ),
    )


def locals_of(**values: Any) -> dict[str, Any]:
    return values


def summarize(
    n: int,
    ids: list[str],
    timeline: list[dict[str, Any]],
    readings: list[bl.ProcReading],
    seen: dict[str, Any],
    stats: dict[str, Any],
    final: dict[str, int],
    extra: dict[str, Any],
) -> dict[str, Any]:
    # "All in flight": every video streaming, give or take 1% still starting or done.
    streaming = [p for p in timeline if p["phases"].get("stream", 0) >= 0.99 * n]
    peak_stream = max((p["phases"].get("stream", 0) for p in timeline), default=0)
    if len(streaming) >= 2:
        a, b = streaming[0]["proc"], streaming[-1]["proc"]
        window = (streaming[0]["t"], streaming[-1]["t"])
        wait_cpu = bl.cpu_share(a, b)
        wait_rss = max(p["proc"].rss for p in streaming)
    else:
        window, wait_cpu, wait_rss = (float("nan"), float("nan")), float("nan"), 0
    completed = collections.Counter(a[3] for a in seen["arrivals"] if a[2] == "video.completed")
    other = collections.Counter(a[2] for a in seen["arrivals"] if a[2] != "video.completed")
    return {
        "videos": n,
        "final": final,
        "peak_in_stream": peak_stream,
        "min_in_stream_while_waiting": min(
            (p["phases"].get("stream", 0) for p in streaming), default=0
        ),
        "all_streaming_window_s": window,
        "wait_cpu_share": wait_cpu,
        "wait_rss": wait_rss,
        "peak_rss": max((r.rss for r in readings), default=0),
        "hwm": max((r.hwm for r in readings), default=0),
        "worker_threads": max((r.threads for r in readings), default=0),
        "webhooks_exactly_one": sum(1 for v in ids if completed.get(v) == 1),
        "webhooks_duplicated": sum(1 for v in ids if completed.get(v, 0) > 1),
        "webhooks_other_types": dict(other),
        "bad_signatures": seen["bad"],
        "heartbeats_sent": stats.get("heartbeats_sent"),
        "messages_posted": stats.get("messages_posted"),
        "renders_submitted": stats.get("renders_submitted"),
        "timeline": [
            {
                "t": round(p["t"], 1),
                "phases": p["phases"],
                "rss_mib": round(p["proc"].rss / bl.MiB),
                "cpu_s": round(p["proc"].cpu, 1),
            }
            for p in timeline
        ],
        **extra,
    }


def report(r: dict[str, Any]) -> str:
    n = r["videos"]
    per_k = 1000 / n
    succeeded = r["final"].get("succeeded", 0)
    verdict = (
        f"RSS {'met' if r['wait_rss'] <= 512 * bl.MiB and r['hwm'] <= 512 * bl.MiB else 'missed'}, "
        f"CPU {'met' if r['wait_cpu_share'] <= 0.20 else 'missed'}, "
        f"outcomes {'met' if succeeded == n and r['webhooks_exactly_one'] == n else 'missed'}"
    )
    w0, w1 = r["all_streaming_window_s"]
    return (
        f"{HEADING}\n\n"
        f"One `nemo-gateway worker` process (SQLite) holds {n} videos generating at once "
        "against the sandbox (its own process, werkzeug threaded), every stream getting a "
        f"keep-alive every {r['heartbeat']:g} s; at speed {r['speed']:g} a generation takes "
        f"{110 / r['speed']:.0f}-{290 / r['speed']:.0f} s real. The videos were inserted "
        "through `create_video`, each with its own `webhook_url` to a local receiver that "
        "verifies signatures. Only the worker process is measured (/proc: VmRSS, VmHWM, "
        'utime+stime). "Waiting" is the window in which all videos were in their stream '
        "phase. Targets (2,000): RSS <= 512 MiB, <= 20% of one core while waiting; all "
        "succeed, each with exactly one `video.completed` webhook.\n\n"
        "| in flight | all streaming for | CPU while waiting (1 = a core) | RSS while waiting "
        "| peak RSS (VmHWM) | per 1,000 in flight: CPU / RSS | worker threads "
        "| succeeded | exactly one completed webhook |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
        f"| {r['peak_in_stream']} | {w1 - w0:.0f} s | {r['wait_cpu_share']:.3f} "
        f"| {bl.mib(r['wait_rss'])} | {bl.mib(r['hwm'])} "
        f"| {r['wait_cpu_share'] * per_k:.3f} / {r['wait_rss'] * per_k / bl.MiB:.0f} MiB "
        f"| {r['worker_threads']} | {succeeded}/{n} | {r['webhooks_exactly_one']}/{n} |\n\n"
        f"{verdict}. Duplicated webhooks: {r['webhooks_duplicated']}; bad signatures: "
        f"{r['bad_signatures']}; the sandbox sent {r['heartbeats_sent']} keep-alives, took "
        f"{r['messages_posted']} messages (one per video) and {r['renders_submitted']} "
        f"renders; it used {r['sandbox_cpu']:.2f} of a core and "
        f"{r['sandbox_threads_peak']} threads at the end. Inserting the videos took "
        f"{r['created_s']:.1f} s; all were terminal {r['finished_s']:.0f} s after the worker "
        "started. RSS per 1,000 includes the process's fixed base (imports, pools).\n\n"
        + bl.footer()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=2000)
    parser.add_argument("--speed", type=float, default=2.0)
    parser.add_argument("--heartbeat", type=float, default=5.0, help="real s between keep-alives")
    parser.add_argument("--timeout", type=float, default=900)
    bl.add_output_flags(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.videos, args.speed, args.heartbeat, args.timeout = 10, 60.0, 0.5, 90
    with tempfile.TemporaryDirectory(prefix="bench-inflight-") as folder:
        result = run(args.videos, args.speed, args.heartbeat, Path(folder), args.timeout)
    bl.publish(HEADING, report(result), args, {k: v for k, v in result.items() if k != "timeline"})
    return 0 if result["final"].get("succeeded", 0) == args.videos else 1


if __name__ == "__main__":
    raise SystemExit(main())
