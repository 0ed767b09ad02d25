"""Bytes, the mirror half: a 500 MB MP4 mirrored from the upstream, RSS growth and MB/s.

python bench/mirror_bytes.py [--mb 500] [--runs 2] [--write]
python bench/mirror_bytes.py --quick

The sandbox (its own process) serves a real MP4 padded to the size with a
``free`` box (a valid file that PyAV reads) at ``/media/renders/<sha>.mp4``, as
``output.url`` points. A separate gateway-side process does what the engine's
mirror phase does: ``NemoClient.download`` (stream to a temp file, sha256,
rename) and then ``probe``. That process samples its own resident memory every
10 ms from /proc; the growth is the peak during the mirror minus the resident
size just before it. Targets: growth <= 64 MiB, >= 200 MB/s on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

import benchlib as bl

HEADING = "## Bytes: mirroring a large MP4"
MB = 1000 * 1000


def make_mp4(path: Path, size: int) -> str:
    """A small real MP4 plus a trailing ``free`` box up to ``size`` bytes; its sha256."""
    from gateway.sandbox.render import render_draft

    draft = {
        "d": 1000,
        "m": {"ratio": "16:9", "w": 320, "h": 180, "fps": 12, "prompt": "bench"},
        "t": [{"tt": 0, "n": "Video", "sg": [{"s": 0, "e": 1000, "lb": "bench"}]}],
    }
    small = path.with_suffix(".small.mp4")
    render_draft(draft, small)
    head = small.read_bytes()
    small.unlink()
    pad = max(8, size - len(head))
    digest = hashlib.sha256(head)
    block = bytes(1 << 20)
    with path.open("wb") as out:
        out.write(head)
        box = pad.to_bytes(4, "big") + b"free"
        out.write(box)
        digest.update(box)
        left = pad - 8
        while left > 0:
            chunk = block[: min(left, len(block))]
            out.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


# -- the gateway side (a child process) ----------------------------------------


def child(url: str, upstream: str, dest: str) -> None:
    from gateway.config import GatewayConfig
    from gateway.media.store import probe
    from gateway.runtime import build_client

    config = GatewayConfig(data_dir=Path(dest).parent, nemo_api_url=upstream, nemo_token="x")
    client = build_client(config)
    peak = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], bl.read_proc_self_rss())
            stop.wait(0.01)

    async def mirror() -> dict[str, Any]:
        # Warm up the client (pool, TLS-free loopback) on a tiny request first.
        await client._http.get(upstream + "/_sandbox/stats")
        before = bl.read_proc_self_rss()
        peak[0] = before
        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        cpu0, t0 = time.process_time(), time.monotonic()
        size, sha = await client.download(url, Path(dest))
        t1 = time.monotonic()
        facts = probe(Path(dest))
        t2, cpu1 = time.monotonic(), time.process_time()
        stop.set()
        thread.join()
        await client.aclose()
        return {
            "size": size,
            "sha256": sha,
            "download_s": t1 - t0,
            "probe_s": t2 - t1,
            "cpu_s": cpu1 - cpu0,
            "rss_before": before,
            "rss_peak": peak[0],
            "duration": facts.duration_seconds,
        }

    print(json.dumps(asyncio.run(mirror())), flush=True)


# -- the benchmark ---------------------------------------------------------------


def run(size: int, runs: int, tmp: Path) -> dict[str, Any]:
    sandbox = bl.sandbox(tmp, speed=1, heartbeat_real=15)
    try:
        renders = tmp / "sandbox" / "renders"
        renders.mkdir(parents=True, exist_ok=True)
        expected = make_mp4(renders / "big.mp4", size)
        url = f"{sandbox.url}/media/renders/big.mp4"
        results = []
        for i in range(runs):
            dest = tmp / "gateway" / "media" / f"vid_{i}.mp4"
            dest.parent.mkdir(parents=True, exist_ok=True)
            out = subprocess.run(
                [sys.executable, __file__, "--child", url, sandbox.url, str(dest)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            result = json.loads(out.strip().splitlines()[-1])
            result["intact"] = result["sha256"] == expected and result["size"] == size
            results.append(result)
            dest.unlink(missing_ok=True)
    finally:
        sandbox.stop()
    return {"size": size, "runs": results}


def report(r: dict[str, Any]) -> str:
    rows = []
    for i, x in enumerate(r["runs"], 1):
        growth = x["rss_peak"] - x["rss_before"]
        rows.append(
            f"| {i} | {x['size'] / MB:.0f} MB | {x['download_s']:.2f} s "
            f"| {x['size'] / MB / x['download_s']:.0f} MB/s | {x['probe_s'] * 1000:.0f} ms "
            f"| {x['cpu_s']:.2f} s | {bl.mib(x['rss_before'])} | {bl.mib(x['rss_peak'])} "
            f"| {growth / bl.MiB:.1f} MiB | {'yes' if x['intact'] else 'NO'} |"
        )
    worst = max(x["rss_peak"] - x["rss_before"] for x in r["runs"])
    slowest = min(x["size"] / MB / x["download_s"] for x in r["runs"])
    verdict = (
        f"RSS growth {'met' if worst <= 64 * bl.MiB else 'missed'}, "
        f"throughput {'met' if slowest >= 200 else 'missed'}"
    )
    return (
        f"{HEADING}\n\n"
        "The engine's mirror phase on a 500 MB MP4: `NemoClient.download` streams "
        "`output.url` from the sandbox (its own process, werkzeug serving the file) into a "
        "temp file with a running sha256, renames it, then `probe` reads the container. "
        "The gateway side is its own process and samples its resident memory every 10 ms; "
        "growth = peak during the mirror - resident size just before. The file is a real "
        "MP4 padded with a `free` box. Targets: growth <= 64 MiB, >= 200 MB/s.\n\n"
        "| run | size | download | MB/s | probe | CPU (gateway side) | RSS before "
        "| RSS peak | growth | sha256 and size intact |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        f"Worst growth {worst / bl.MiB:.1f} MiB, slowest {slowest:.0f} MB/s ({verdict}). "
        "The upload half of this benchmark is `bench/upload_rss.py`.\n\n" + bl.footer()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=500, help="file size in MB (10^6 bytes)")
    parser.add_argument("--runs", type=int, default=2)
    bl.add_output_flags(parser)
    parser.add_argument(
        "--child", nargs=3, metavar=("URL", "UPSTREAM", "DEST"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    if args.quick:
        args.mb, args.runs = 5, 1
    with tempfile.TemporaryDirectory(prefix="bench-mirror-") as folder:
        result = run(args.mb * MB, args.runs, Path(folder))
    bl.publish(HEADING, report(result), args, result)
    return 0 if all(x["intact"] for x in result["runs"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
