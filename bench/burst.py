"""Burst: N concurrent creates over fresh connections to ``nemo-gateway serve``, per backlog.

python bench/burst.py [--requests 1000] [--backlogs 128,4096] [--rounds 3] [--write]
python bench/burst.py --quick

The long version of ``tests/e2e/test_burst.py`` (``tests/burst.py`` does the
work): ``serve --sandbox`` on 127.0.0.1 with each listen backlog in turn, every
connection opened at once, then every ``POST /v1/videos`` sent; counted are the
answers, the client-side errors and the kernel's ``ListenOverflows`` (SYNs
dropped for a full queue, which a client's retry a second later hides).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

import benchlib as bl

from gateway import gunicorn_conf
from tests import burst, processes

HEADING = "## Burst: concurrent creates on fresh connections"


def one_round(requests: int, backlog: int, in_flight: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="burst-") as tmp:
        tmp_path = Path(tmp)
        key = processes.create_key(tmp_path / "gateway-data")
        burst.allow_sockets(requests)
        args = ("--sandbox-speed", "1", "--backlog", str(backlog))
        proc = processes.serve_with_sandbox(
            tmp_path, *args, GATEWAY_MAX_IN_FLIGHT=str(in_flight)
        ).start()
        try:
            result = burst.burst(proc.url, key, requests)
            listed = len(set(result.video_ids) & burst.listed_ids(proc.url, key))
        finally:
            proc.stop()
    return {
        "backlog": backlog,
        "statuses": dict(result.statuses),
        "errors": dict(result.errors),
        "listen_overflows": result.listen_overflows,
        "connect_s": round(result.connect_seconds, 2),
        "all_answered_s": round(result.seconds, 2),
        "videos_listed": listed,
    }


def report(requests: int, in_flight: int, rows: list[dict[str, Any]]) -> str:
    lines = [
        "| backlog | 202 answers | client errors | ListenOverflows | every handshake done | "
        "every answer in | videos listed |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        errors = ", ".join(f"{k} {v}" for k, v in sorted(r["errors"].items())) or "0"
        lines.append(
            f"| {r['backlog']} | {r['statuses'].get(202, 0)} / {requests} | {errors} | "
            f"{r['listen_overflows']} | {r['connect_s']:.2f} s | {r['all_answered_s']:.1f} s | "
            f"{r['videos_listed']} |"
        )
    return (
        f"{HEADING}\n\n"
        f"{requests} `POST /v1/videos` (distinct `Idempotency-Key`s) from one asyncio client "
        "over raw sockets: every connection opened at once (the listen queue must hold each "
        "handshake until the server accepts it), then every request sent. `nemo-gateway serve "
        f"--sandbox` on 127.0.0.1 (one gunicorn gthread worker, 32 threads; the worker runs "
        f"{in_flight} videos at a time at the sandbox's real speed). ListenOverflows: the "
        "kernel's count of SYNs dropped for a full queue during the burst (machine-wide). "
        "Targets: every answer a 202, 0 client errors, 0 overflows at the default backlog "
        "(4096).\n\n" + "\n".join(lines) + "\n\n" + bl.footer()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--backlogs", default="128,4096", help="comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-flight", type=int, default=20, help="GATEWAY_MAX_IN_FLIGHT")
    bl.add_output_flags(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.rounds, args.backlogs = 100, 1, str(gunicorn_conf.backlog)
    backlogs = [int(b) for b in args.backlogs.split(",")]
    rows = [
        one_round(args.requests, backlog, args.in_flight)
        for _ in range(args.rounds)
        for backlog in backlogs
    ]
    bl.publish(HEADING, report(args.requests, args.in_flight, rows), args, rows)
    default = [r for r in rows if r["backlog"] == gunicorn_conf.backlog]
    clean = all(
        not r["errors"] and r["statuses"] == {202: args.requests} and r["listen_overflows"] == 0
        for r in default
    )
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
