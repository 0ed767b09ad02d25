"""Accept rate: ``POST /v1/videos`` answered 202 under gunicorn, next to a bare Flask endpoint.

python bench/accept_rate.py [--seconds 15] [--connections 32] [--rounds 2] [--write]
python bench/accept_rate.py --quick

Both apps run under the Procfile's gunicorn settings (``--workers 3 --threads
16``, gthread) on 127.0.0.1, one after the other, alternating for ``--rounds``
rounds so the machine's noise hits both alike. The load comes from ``wrk``
(a Lua script POSTs the JSON body with the API key) in its own process; it
competes with the server for the same 2 cores. Without wrk on the PATH a Python
asyncio generator (httpx) stands in (slower: it needs more of the CPU).
Targets: >= 1,000 requests/s, p99 <= 50 ms, gateway/bare ratio >= 0.5.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

import benchlib as bl

HEADING = "## Accept rate"
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
    seconds: float, connections: int, rounds: int, tmp: Path, database_url: str | None = None
) -> dict[str, Any]:
    db = open_db(tmp, database_url)
    _, key, _ = bl.api_key(db)
    db.dispose()
    extra = {"DATABASE_URL": database_url} if database_url else {}
    env = bl.gateway_env(tmp, "http://127.0.0.1:9", "nmv_bench_unused", **extra)
    results: dict[str, list[dict[str, Any]]] = {"bare": [], "gateway": []}
    apps = {"bare": "bench.bare_app:create_app()", "gateway": "gateway.app:create_app()"}
    for _ in range(rounds):
        for name, app in apps.items():
            server = gunicorn(app, tmp, name, env)
            try:
                load(server.url, key, min(2.0, seconds), connections, tmp)  # warm-up
                first, cpu = bl.read_proc(server.pid), server_cpu(server.pid)
                result = load(server.url, key, seconds, connections, tmp)
                result["master_cpu"] = bl.cpu_share(first, bl.read_proc(server.pid))
                # Server CPU per request: what the machine's noise does not change much.
                used = server_cpu(server.pid) - cpu
                result["cpu_ms"] = 1000 * used / max(result["requests"], 1)
                results[name].append(result)
            finally:
                server.stop()
    db = open_db(tmp, database_url)
    with db.session() as s:
        from sqlalchemy import func, select

        from gateway.store.models import Video

        rows = int(s.execute(select(func.count()).select_from(Video)).scalar_one())
    db.dispose()
    return {"rounds": results, "videos_created": rows}


def summary(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, runs in r["rounds"].items():
        out[name] = {
            "rate": sum(x["rate"] for x in runs) / len(runs),
            "p50_ms": max(x["p50_ms"] for x in runs),
            "p99_ms": max(x["p99_ms"] for x in runs),
            "requests": sum(x["requests"] for x in runs),
            "non_2xx": sum(x["non_2xx"] for x in runs),
            "cpu_ms": sum(x["cpu_ms"] for x in runs) / len(runs),
            "generator": runs[0]["generator"],
        }
    out["ratio"] = out["gateway"]["rate"] / out["bare"]["rate"]
    out["cpu_ratio"] = out["bare"]["cpu_ms"] / out["gateway"]["cpu_ms"]
    return out


def report(r: dict[str, Any], s: dict[str, Any], args: argparse.Namespace) -> str:
    g, b = s["gateway"], s["bare"]
    verdict = ", ".join(
        [
            f"rate {'met' if g['rate'] >= 1000 else 'missed'}",
            f"p99 {'met' if g['p99_ms'] <= 50 else 'missed'}",
            f"ratio {'met' if s['ratio'] >= 0.5 else 'missed'}",
        ]
    )
    rows = []
    for name, label in (("gateway", "`POST /v1/videos` (gateway)"), ("bare", "bare Flask")):
        for i, x in enumerate(r["rounds"][name], 1):
            rows.append(
                f"| {label} | {i} | {x['rate']:.0f} | {x['p50_ms']:.1f} | {x['p99_ms']:.1f} "
                f"| {x['cpu_ms']:.2f} | {x['requests']} | {x['non_2xx']} |"
            )
    return (
        f"{HEADING}\n\n"
        "`POST /v1/videos` (API key check through the per-process 5 s key cache, marshmallow "
        f"validation, the session + video rows inserted into {r.get('database', 'SQLite')} "
        "by the per-process group commit and durable before the answer, 202 with the Video) "
        "under gunicorn with the Procfile's "
        f"settings (`{' '.join(gunicorn_args())}`) on 127.0.0.1, and in the same run a bare Flask "
        "endpoint (`bench/bare_app.py`: parse the JSON, answer 202) under the same settings, "
        f"alternating for {args.rounds} rounds of {args.seconds:g} s each (after a 2 s "
        f"warm-up). Load: `{g['generator']}` with {args.connections} keep-alive connections, "
        "in its own process but on the same 2 cores as the server (it takes a share of "
        "them, so the figures are a floor). Targets: >= 1,000 requests/s with p99 <= 50 ms, "
        "gateway/bare >= 0.5.\n\n"
        "| endpoint | round | requests/s | p50 ms | p99 ms | server CPU ms/request "
        "| requests | non-2xx |\n"
        "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        f"Gateway: {g['rate']:.0f} requests/s (mean of rounds), worst p99 {g['p99_ms']:.1f} ms; "
        f"bare Flask: {b['rate']:.0f} requests/s; ratio **{s['ratio']:.2f}** ({verdict}). "
        f"Server CPU per request (gunicorn master + workers, /proc): gateway "
        f"{g['cpu_ms']:.2f} ms, bare {b['cpu_ms']:.2f} ms, so on a machine where the "
        f"server has the cores to itself the ratio would be about {s['cpu_ratio']:.2f}. "
        f"{r['videos_created']} videos were created.\n\n"
        f"Measured {bl.today()} on {bl.machine()}.\n\n"
        f"Command: `{bl.command_line()}` (add `--write` to update this section).\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny run (CI smoke)")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
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
        args.seconds, args.rounds, args.connections = 1, 1, 4
    server = None
    database_url = None
    if args.postgres:
        from tests.pgserver import PostgresServer

        server = PostgresServer.from_env()
        database_url = server.create_database()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-accept-") as folder:
            result = run(args.seconds, args.connections, args.rounds, Path(folder), database_url)
    finally:
        if server is not None:
            server.stop()
    result["database"] = "PostgreSQL" if args.postgres else "SQLite"
    s = summary(result)
    print(bl.dump({"rounds": result["rounds"], "summary": s}))
    text = report(result, s, args)
    print(text)
    if args.write and not args.quick:
        bl.write_section(HEADING, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
