"""Peak server memory during a 500 MB multipart upload (a benchmark, not a test).

Starts ``nemo-gateway serve`` on 127.0.0.1 with a fresh data dir, warms the
upload path with a small file, then streams a 500 MiB multipart body (made on
the fly: the client holds no copy either) to ``POST /v1/uploads`` and reads
the server's peak resident set (``VmHWM`` in ``/proc/<pid>/status``, Linux)
before and after, and the throughput of each upload. Targets: the uploads
raise the peak by less than 64 MB; >= 200 MB/s (10^6 bytes) on loopback.

python bench/upload_rss.py               # print a markdown table
python bench/upload_rss.py --write       # also update docs/benchmarks.md
python bench/upload_rss.py --mb 100      # a smaller file
python bench/upload_rss.py --runs 3      # three uploads on one server (default 2)
python bench/upload_rss.py --quick       # tiny run (CI smoke)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

import benchlib as bl

HEADING = "## Upload memory"
BOUNDARY = "bench-boundary-7d2c"
CHUNK = 1024 * 1024
LIMIT_MB = 64
TARGET_MB_S = 200


def start_gateway(tmp: Path) -> tuple[bl.Child, str]:
    """``nemo-gateway serve`` (web + worker) on a fresh data dir, and an API key for it."""
    db = bl.gateway_db(tmp)
    _, key, _ = bl.api_key(db)
    db.dispose()
    env = bl.gateway_env(tmp, "http://127.0.0.1:9", "nmv_bench_unused")
    args = bl.gateway_cli("serve", "--host", "127.0.0.1", "--port", "0")
    return bl.Child(args, tmp / "gateway.log", "gateway listening on", env=env).start(), key


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def multipart(size: int, name: str) -> tuple[Iterator[bytes], int]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    # An MP4's first box, then noise: uploads are judged by their first bytes too.
    block = (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + os.urandom(CHUNK))[:CHUNK]

    def body() -> Iterator[bytes]:
        yield head
        left = size
        while left > 0:
            yield block[: min(CHUNK, left)]
            left -= CHUNK
        yield tail

    return body(), len(head) + size + len(tail)


def upload(url: str, key: str, size: int, name: str) -> dict[str, Any]:
    body, length = multipart(size, name)
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(length),
    }
    r = httpx.post(f"{url}/v1/uploads", content=body, headers=headers, timeout=600)
    r.raise_for_status()
    return r.json()


def sample_rss(pid: int, stop: threading.Event, peak: list[int]) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], status_kb(pid, "VmRSS"))
        time.sleep(0.05)


def measure(megabytes: int, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server, key = start_gateway(Path(tmp))
        url, pid = server.url, server.serving_pid
        try:
            upload(url, key, 1024 * 1024, "warm.mp4")  # load every code path first
            before_hwm, before_rss = status_kb(pid, "VmHWM"), status_kb(pid, "VmRSS")
            stop, peak = threading.Event(), [before_rss]
            sampler = threading.Thread(target=sample_rss, args=(pid, stop, peak))
            sampler.start()
            seconds, sizes = [], []
            for i in range(runs):
                started = time.perf_counter()
                result = upload(url, key, megabytes * 1024 * 1024, f"big{i}.mp4")
                seconds.append(time.perf_counter() - started)
                sizes.append(result["size_bytes"])
            stop.set()
            sampler.join()
            after_hwm = status_kb(pid, "VmHWM")
        finally:
            server.stop(timeout=30)
    return {
        "mb": megabytes,
        "sizes": sizes,
        "seconds": seconds,
        "mb_s": [size / 1e6 / t for size, t in zip(sizes, seconds, strict=True)],
        "rss_before": before_rss / 1024,
        "hwm_before": before_hwm / 1024,
        "hwm_after": after_hwm / 1024,
        "rss_peak": peak[0] / 1024,
        "rise": (after_hwm - before_hwm) / 1024,
    }


def report(r: dict[str, Any]) -> str:
    verdict = "yes" if r["rise"] < LIMIT_MB else "**no**"
    slowest = min(r["mb_s"])
    speed = "met" if slowest >= TARGET_MB_S else "missed"
    return "\n".join(
        [
            HEADING,
            "",
            "Peak resident memory of `nemo-gateway serve` (web + worker in its one gunicorn "
            "worker process) while "
            f"`POST /v1/uploads` receives a {r['mb']} MiB multipart file. The body is read from "
            "`request.stream` in 64 KiB chunks and written to disk as it arrives; the target is "
            f"a rise of the peak below {LIMIT_MB} MB over all uploads, and >= {TARGET_MB_S} MB/s "
            "(10^6 bytes) for each.",
            "",
            "| upload | file | upload time s | MB/s |",
            "|---|---|---|---|",
            *(
                f"| {i} | {r['mb']} MiB | {t:.2f} | {mb_s:.0f} |"
                for i, (t, mb_s) in enumerate(zip(r["seconds"], r["mb_s"], strict=True), 1)
            ),
            "",
            "| RSS before MB | peak before MB | peak after MB "
            f"| peak rise MB | below {LIMIT_MB} MB |",
            "|---|---|---|---|---|",
            f"| {r['rss_before']:.1f} | "
            f"{r['hwm_before']:.1f} | {r['hwm_after']:.1f} | {r['rise']:.1f} | {verdict} |",
            "",
            f"Slowest upload {slowest:.0f} MB/s (throughput {speed}).",
            "",
            bl.footer(
                "; httpx client on the same machine over loopback. Peak = `VmHWM` of the "
                f"server process; RSS sampled every 50 ms peaked at {r['rss_peak']:.1f} MB"
            ),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=500, help="file size in MiB (default 500)")
    parser.add_argument("--runs", type=int, default=2, help="uploads on one server (default 2)")
    bl.add_output_flags(parser)
    args = parser.parse_args()
    if args.quick:
        args.mb, args.runs = 2, 1
    result = measure(args.mb, args.runs)
    bl.publish(HEADING, report(result), args)
    sys.exit(0 if result["rise"] < LIMIT_MB else 1)


if __name__ == "__main__":
    main()
