"""Accept rate: ``POST /v1/videos`` answered 202 under gunicorn, next to a bare Flask endpoint.

python bench/accept_rate.py [--seconds 15] [--connections 8,16,32] [--rounds 2]
                            [--without-commit] [--write]
python bench/accept_rate.py --quick

Both apps run under the Procfile's gunicorn settings (``--workers 3 --threads
16``, gthread) on 127.0.0.1, one after the other, alternating which goes first
for ``--rounds`` rounds so the machine's noise hits both alike, each loaded at
every level of concurrency in ``--connections``. The load comes from ``wrk``
(a Lua script POSTs the JSON body with the API key) in its own process; it
competes with the server for the same 2 cores. Without wrk on the PATH a Python
asyncio generator (httpx) stands in (slower: it needs more of the CPU).
``--without-commit`` adds a third app to every round for diagnosis: the gateway
with its durable insert removed (``bench/nocommit_app.py``).
Targets: >= 1,000 requests/s with p99 <= 50 ms, gateway/bare ratio >= 0.5."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

import benchlib as bl

HEADING = "## Accept rate"
# The diagnosis app (--without-commit): the gateway with its durable insert removed.
NO_COMMIT = "gateway without the commit"
# The Procfile's settings (WEB_CONCURRENCY defaults to 3); --workers/--threads override.
GUNICORN = ["--workers", "3", "--threads", "16", "--worker-class", "gthread"]
BODY = {
    "prompt": "a 10-second vertical clip of waves at dusk with lo-fi music",
    "aspect_ratio": "9:16",
    "metadata": {"order": "bench"},
}
LUA = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
"""


def gunicorn_args() -> list[str]:
    return GUNICORN


def gunicorn(app: str, tmp: Path, name: str, env: dict[str, str]) -> bl.Child:
    port = bl.free_port()
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        *gunicorn_args(),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        app,
    ]
    # gunicorn prints nothing on stdout: wait until the port answers instead.
    child = bl.Child(args, tmp / f"{name}.log", "", env=env).start()
    child.line = f"listening on http://127.0.0.1:{port}"
    _wait_ready(child.url)
    return child


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) of gunicorn's master and its workers so far."""
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        kids = []
    total = 0.0
    for p in [pid, *map(int, kids)]:
        with contextlib.suppress(OSError, ValueError, KeyError):  # a worker that just exited
            total += bl.read_proc(p).cpu
    return total


def _wait_ready(url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def run_wrk(url: str, key: str, seconds: float, connections: int, tmp: Path) -> dict[str, Any]:
    script = tmp / "post.lua"
    script.write_text(LUA.format(body=json.dumps(json.dumps(BODY)), key=key))
    args = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        str(script),
        f"{url}/v1/videos",
    ]
    import subprocess

    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return _parse_wrk(out)


def _parse_wrk(out: str) -> dict[str, Any]:
    def ms(text: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s)", text)
        assert m, text
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = {p: ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.MULTILINE)}
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rate": rate,
        "p50_ms": pct.get("50", float("nan")),
        "p99_ms": pct.get("99", float("nan")),
        "requests": total,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
        "generator": "wrk",
    }


def run_python(url: str, key: str, seconds: float, connections: int) -> dict[str, Any]:
    """An asyncio generator for machines without wrk: ``connections`` loops, keep-alive."""
    import httpx

    async def go() -> dict[str, Any]:
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        headers = {"Authorization": f"Bearer {key}"}
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:
            end = time.monotonic() + seconds

            async def loop() -> None:
                while time.monotonic() < end:
                    t = time.monotonic()
                    r = await client.post("/v1/videos", json=BODY)
                    latencies.append((time.monotonic() - t) * 1000)
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

            began = time.monotonic()
            await asyncio.gather(*(loop() for _ in range(connections)))
            took = time.monotonic() - began
        non_2xx = sum(n for s, n in statuses.items() if not 200 <= s < 300)
        return {
            "rate": len(latencies) / took,
            "p50_ms": bl.percentile(latencies, 50),
            "p99_ms": bl.percentile(latencies, 99),
            "requests": len(latencies),
            "non_2xx": non_2xx,
            "socket_errors": "",
            "generator": "python-httpx",
        }

    return asyncio.run(go())


def load(url: str, key: str, seconds: float, connections: int, tmp: Path) -> dict[str, Any]:
    if shutil.which("wrk"):
        return run_wrk(url, key, seconds, connections, tmp)
    return run_python(url, key, seconds, connections)


def open_db(tmp: Path, database_url: str | None) -> Any:
    if not database_url:
        return bl.gateway_db(tmp)
    from gateway.store.db import Database

    db = Database(database_url)
    db.upgrade()
    return db


def run(
    seconds: float,
    levels: list[int],
    rounds: int,
    tmp: Path,
    database_url: str | None = None,
    without_commit: bool = False,
) -> dict[str, Any]:
    """``rounds`` rounds; in each, both apps (alternating which goes first) at every level.

    A level is a number of keep-alive connections. Each server is started once
    per round and warmed up, then loaded at every level in turn, so a round's
    gateway and bare figures at one level are a pair measured minutes apart.
    """
    db = open_db(tmp, database_url)
    _, key, _ = bl.api_key(db)
    db.dispose()
    extra = {"DATABASE_URL": database_url} if database_url else {}
    env = bl.gateway_env(tmp, "http://127.0.0.1:9", "nmv_bench_unused", **extra)
    apps = [("bare", "bench.bare_app:create_app()"), ("gateway", "gateway.app:create_app()")]
    if without_commit:
        apps.append((NO_COMMIT, "bench.nocommit_app:create_app()"))
    results: dict[int, dict[str, list[dict[str, Any]]]] = {
        c: {name: [] for name, _ in apps} for c in levels
    }
    for round_no in range(rounds):
        for name, app in apps if round_no % 2 == 0 else apps[::-1]:
            server = gunicorn(app, tmp, name, env)
            try:
                load(server.url, key, min(2.0, seconds), max(levels), tmp)  # warm-up
                for connections in levels:
                    results[connections][name].append(
                        measure(server, key, seconds, connections, tmp)
                    )
            finally:
                server.stop()
    db = open_db(tmp, database_url)
    with db.session() as s:
        from sqlalchemy import func, select

        from gateway.store.models import Video

        rows = int(s.execute(select(func.count()).select_from(Video)).scalar_one())
    db.dispose()
    return {"levels": results, "videos_created": rows}


def measure(server: bl.Child, key: str, seconds: float, connections: int, tmp: Path) -> dict:
    first, cpu = bl.read_proc(server.pid), server_cpu(server.pid)
    result = load(server.url, key, seconds, connections, tmp)
    result["master_cpu"] = bl.cpu_share(first, bl.read_proc(server.pid))
    # Server CPU per request: what the machine's noise does not change much.
    used = server_cpu(server.pid) - cpu
    result["cpu_ms"] = 1000 * used / max(result["requests"], 1)
    return result


def summary(r: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Per level: medians over rounds, the worst p99, and the paired gateway/bare ratios."""
    out: dict[int, dict[str, Any]] = {}
    for connections, runs in r["levels"].items():
        level: dict[str, Any] = {}
        for name, xs in runs.items():
            level[name] = {
                "rate": statistics.median(x["rate"] for x in xs),
                "p50_ms": statistics.median(x["p50_ms"] for x in xs),
                "p99_ms": statistics.median(x["p99_ms"] for x in xs),
                "worst_p99_ms": max(x["p99_ms"] for x in xs),
                "cpu_ms": statistics.median(x["cpu_ms"] for x in xs),
                "non_2xx": sum(x["non_2xx"] for x in xs),
                "generator": xs[0]["generator"],
            }
        for name in runs:
            if name != "bare":
                paired = zip(runs[name], runs["bare"], strict=True)
                level[name]["ratios"] = [x["rate"] / b["rate"] for x, b in paired]
                level[name]["ratio"] = statistics.median(level[name]["ratios"])
        g = level["gateway"]
        level["met"] = {
            "rate": g["rate"] >= 1000,
            "p99": g["worst_p99_ms"] <= 50,
            "ratio": g["ratio"] >= 0.5,
        }
        out[connections] = level
    return out


def _verdict(met: dict[str, bool]) -> str:
    return ", ".join(f"{k} {'met' if ok else 'missed'}" for k, ok in met.items())


def report(r: dict[str, Any], s: dict[int, dict[str, Any]], args: argparse.Namespace) -> str:
    rows = []
    for connections, level in s.items():
        g, b = level["gateway"], level["bare"]
        runs = r["levels"][connections]
        rates = " / ".join(f"{x['rate']:.0f}" for x in runs["gateway"])
        bare_rates = " / ".join(f"{x['rate']:.0f}" for x in runs["bare"])
        ratios = " / ".join(f"{x:.2f}" for x in g["ratios"])
        rows.append(
            f"| {connections} | {rates} | {g['p50_ms']:.1f} | {g['p99_ms']:.1f} "
            f"({g['worst_p99_ms']:.1f}) | {g['cpu_ms']:.2f} | {bare_rates} "
            f"| {b['p99_ms']:.1f} | {b['cpu_ms']:.2f} | {ratios} (**{g['ratio']:.2f}**) "
            f"| {_verdict(level['met'])} |"
        )
    all_met = [c for c, level in s.items() if all(level["met"].values())]
    latency_met = [c for c, level in s.items() if level["met"]["rate"] and level["met"]["p99"]]
    generator = next(iter(s.values()))["gateway"]["generator"]
    loads = [x for level in r["levels"].values() for runs in level.values() for x in runs]
    total, bad = len(loads), sum(x["non_2xx"] for x in loads)
    return (
        f"{HEADING}\n\n"
        "`POST /v1/videos` (API key check through the per-process 5 s key cache, marshmallow "
        f"validation, the session + video rows inserted into {r.get('database', 'SQLite')} "
        "by the per-process group commit and durable before the answer, 202 with the Video) "
        "under gunicorn with the Procfile's "
        f"settings (`{' '.join(gunicorn_args())}`) on 127.0.0.1, and in the same run a bare Flask "
        "endpoint (`bench/bare_app.py`: parse the JSON, answer 202) under the same settings. "
        f"{args.rounds} round{'s' if args.rounds > 1 else ''}; in each, both servers "
        "(alternating which goes first) are started, warmed up for 2 s and loaded for "
        f"{args.seconds:g} s at each level of concurrency in turn. Load: `{generator}` with "
        "N keep-alive connections, in its own process but on the same 2 cores as the server "
        "(it takes a share of them, so the figures are a floor). A closed loop: each "
        "connection sends its next request when the answer arrives, so past the point "
        "where the server's cores are full, more connections add queueing (latency) and "
        "no throughput. Targets: >= 1,000 requests/s with p99 <= 50 ms; gateway/bare "
        ">= 0.5, the ratio taken per round (a pair measured close in time) and its "
        "median reported.\n\n"
        "| connections | gateway requests/s (rounds) | p50 ms | p99 ms median (worst) "
        "| gateway CPU ms/request | bare requests/s (rounds) | bare p99 ms "
        "| bare CPU ms/request | gateway/bare per round (median) | targets |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n\n"
        + _without_commit(r, s)
        + "Throughput with p99 <= 50 ms at or above 1,000 requests/s: "
        f"{_levels(latency_met)}. All three targets at once: {_levels(all_met)}. "
        f"{total} load runs, {bad} non-2xx answers; {r['videos_created']} videos were "
        "created. Server CPU per request is gunicorn's master + workers (/proc), the figure "
        "the machine's noise moves least.\n\n" + bl.footer()
    )


def _without_commit(r: dict[str, Any], s: dict[int, dict[str, Any]]) -> str:
    """The diagnosis table (``--without-commit``), or nothing."""
    if NO_COMMIT not in next(iter(s.values())):
        return ""
    rows = []
    for connections, level in s.items():
        x, g = level[NO_COMMIT], level["gateway"]
        rates = " / ".join(f"{run['rate']:.0f}" for run in r["levels"][connections][NO_COMMIT])
        ratios = " / ".join(f"{v:.2f}" for v in x["ratios"])
        rows.append(
            f"| {connections} | {rates} | {x['p99_ms']:.1f} | {x['cpu_ms']:.2f} "
            f"| {g['cpu_ms'] - x['cpu_ms']:.2f} | {ratios} (**{x['ratio']:.2f}**) |"
        )
    return (
        "Diagnosis in the same rounds (`--without-commit`): the gateway app with its durable "
        "insert removed (`bench/nocommit_app.py`: authenticated, validated and answered as "
        "usual, nothing stored), under the same settings. What it saves is what the "
        "commit costs the web processes, waiting included; its ratio to bare Flask bounds "
        "what any cheaper commit could reach with these handler layers.\n\n"
        "| connections | requests/s (rounds) | p99 ms | CPU ms/request "
        "| the commit's CPU ms/request (gateway - this) | ratio to bare per round "
        "(median) |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
    )


def _levels(levels: list[int]) -> str:
    return ", ".join(f"{c} connections" for c in levels) if levels else "at no level measured"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument(
        "--connections",
        default="8,16,32",
        help="levels of concurrency, comma-separated (default 8,16,32)",
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--without-commit",
        action="store_true",
        help="also load the gateway with its insert removed (diagnosis: bench/nocommit_app.py)",
    )
    bl.add_output_flags(parser)
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="PostgreSQL (tests/pgserver.py: TEST_DATABASE_URL or a throwaway server)",
    )
    parser.add_argument("--workers", type=int, help="gunicorn --workers (default: the Procfile's)")
    parser.add_argument("--threads", type=int, help="gunicorn --threads (default: the Procfile's)")
    args = parser.parse_args(argv)
    if args.workers:
        GUNICORN[GUNICORN.index("--workers") + 1] = str(args.workers)
    if args.threads:
        GUNICORN[GUNICORN.index("--threads") + 1] = str(args.threads)
    if args.quick:
        args.seconds, args.rounds, args.connections = 1, 1, "4"
    levels = [int(c) for c in args.connections.split(",")]
    server = None
    database_url = None
    if args.postgres:
        from tests.pgserver import PostgresServer

        server = PostgresServer.from_env()
        database_url = server.create_database()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-accept-") as folder:
            result = run(
                args.seconds, levels, args.rounds, Path(folder), database_url, args.without_commit
            )
    finally:
        if server is not None:
            server.stop()
    result["database"] = "PostgreSQL" if args.postgres else "SQLite"
    s = summary(result)
    bl.publish(HEADING, report(result, s, args), args, {"levels": result["levels"], "summary": s})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
