"""Shared pieces of the gateway benchmarks: processes, /proc readings, the docs section.

Every benchmark runs the gateway side as a separate process and reads that
process alone from /proc (no psutil needed): resident memory (VmRSS, and the
peak VmHWM) and CPU time (utime + stime). Servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
MiB = 1024 * 1024


# -- the machine -------------------------------------------------------------


def machine() -> str:
    """Cores, memory, CPU model, load and Python, for the docs."""
    model = "unknown CPU"
    mem_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0))
    return (
        f"{cores} cores ({model}), {mem_kb / MiB:.0f} GiB memory, "
        f"load average {os.getloadavg()[0]:.1f} at the end of the run, "
        f"Python {platform.python_version()}"
    )


def today() -> str:
    return datetime.date.today().isoformat()


def write_section(heading: str, text: str, path: Path = DOC) -> None:
    """Replace the section that starts with ``heading`` (up to the next ``## ``) or append it."""
    doc = path.read_text() if path.exists() else "# Benchmarks\n"
    start = doc.find(heading + "\n")
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        end = doc.find("\n## ", start + len(heading))
        rest = doc[end + 1 :] if end >= 0 else ""
        doc = doc[:start] + text.rstrip("\n") + "\n" + ("\n" + rest if rest else "")
    path.write_text(doc)


def footer(note: str = "") -> str:
    """The end of every report: when, on what (``note`` after it), and the command."""
    return (
        f"Measured {today()} on {machine()}{note}.\n\n"
        f"Command: `{command_line()}` (add `--write` to update this section).\n"
    )


def add_output_flags(parser: argparse.ArgumentParser) -> None:
    """``--quick`` (a tiny run that keeps the benchmark working in CI) and ``--write``."""
    parser.add_argument("--quick", action="store_true", help="tiny run (CI smoke)")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")


def publish(heading: str, text: str, args: argparse.Namespace, figures: Any = None) -> None:
    """Print the raw figures and the report; ``--write`` puts the report in the docs.

    A ``--quick`` run never writes: its figures are too small to mean anything.
    """
    if figures is not None:
        print(dump(figures))
    print(text)
    if args.write and not args.quick:
        write_section(heading, text)


def command_line() -> str:
    """The command that ran this benchmark, as the docs quote it."""
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(ROOT)
    args = [a for a in sys.argv[1:] if a != "--write"]
    return " ".join(["python", str(script), *args])


# -- one process, read from /proc ----------------------------------------------


@dataclass
class ProcReading:
    at: float
    rss: int  # bytes
    hwm: int  # bytes, peak resident
    cpu: float  # seconds, user + system, all threads
    threads: int


def read_proc(pid: int) -> ProcReading:
    status = Path(f"/proc/{pid}/status").read_text()
    values: dict[str, int] = {}
    for line in status.splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM", "Threads"):
            values[name] = int(rest.split()[0])
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
    return ProcReading(
        time.monotonic(),
        values["VmRSS"] * 1024,
        values["VmHWM"] * 1024,
        cpu,
        values.get("Threads", 0),
    )


def cpu_share(a: ProcReading, b: ProcReading) -> float:
    """Share of one core used between two readings (1.0 = a whole core)."""
    return (b.cpu - a.cpu) / max(b.at - a.at, 1e-9)


class Sampler:
    """Reads a process every ``every`` seconds on a thread; keeps every reading."""

    def __init__(self, pid: int, every: float = 1.0) -> None:
        self.pid, self.every = pid, every
        self.readings: list[ProcReading] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.readings.append(read_proc(self.pid))
            except (OSError, ValueError, KeyError):
                return
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    @property
    def peak_rss(self) -> int:
        return max((r.rss for r in self.readings), default=0)


# -- child processes -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Child:
    """A child process that prints a line starting with ``ready`` when it serves."""

    args: Sequence[str]
    log_path: Path
    ready: str
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    line: str = ""

    def start(self, timeout: float = 60) -> Child:
        log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            list(self.args),
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
        log.close()
        _CHILDREN.append(self)
        if not self.ready:
            return self  # a server that prints nothing: the caller waits for its port
        found = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                if not found.is_set() and line.startswith(self.ready):
                    self.line = line.strip()
                    found.set()
            # keep draining so the child never blocks on a full pipe

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(timeout):
            self.stop()
            tail = self.log_path.read_text()[-3000:] if self.log_path.exists() else ""
            raise RuntimeError(f"{self.args[:4]} did not start:\n{tail}")
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def url(self) -> str:
        return self.line.split()[-1]

    @property
    def serving_pid(self) -> int:
        """``nemo-gateway serve``'s one gunicorn worker: the process that serves and works."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        assert len(children) == 1, children
        return int(children[0])

    def stop(self, timeout: float = 20) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_CHILDREN: list[Child] = []


@atexit.register
def _stop_children() -> None:
    for child in reversed(_CHILDREN):
        with contextlib.suppress(Exception):
            child.stop(timeout=5)


def gateway_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "gateway.cli", *args]


def sandbox(
    tmp: Path, speed: float, heartbeat_real: float, dialect: str = "default", **config: Any
) -> Child:
    """The sandbox upstream as its own process; ``heartbeat_real`` seconds between keep-alives."""
    port = free_port()
    child = Child(
        gateway_cli(
            "sandbox",
            "--port",
            str(port),
            "--speed",
            str(speed),
            "--data-dir",
            str(tmp / "sandbox"),
            "--heartbeat-seconds",
            str(heartbeat_real * speed),
            "--dialect",
            dialect,
        ),
        tmp / "sandbox.log",
        "sandbox listening on",
    ).start()
    if config:
        httpx.post(f"{child.url}/_sandbox/config", json=config, timeout=10).raise_for_status()
    return child


def sandbox_token(base_url: str, credits: int = 10**9) -> str:
    """A registered-user token with plenty of credits (plays NEMO_TOKEN)."""
    body = {"credits": credits, "scopes": ["*"]}
    answer = httpx.post(f"{base_url}/_sandbox/tokens", json=body, timeout=10)
    answer.raise_for_status()
    return str(answer.json()["data"]["token"])


def sandbox_stats(base_url: str) -> dict[str, Any]:
    return httpx.get(f"{base_url}/_sandbox/stats", timeout=30).json()["data"]


def sandbox_render(base_url: str, render_id: str) -> dict[str, Any]:
    """A render's ``submitted_at``/``completed_at`` (epoch s), whatever the dialect."""
    answer = httpx.get(f"{base_url}/_sandbox/renders/{render_id}", timeout=30)
    answer.raise_for_status()
    return answer.json()["data"]


def gateway_env(tmp: Path, upstream: str, token: str, **extra: str) -> dict[str, str]:
    return {
        "GATEWAY_DATA_DIR": str(tmp / "gateway"),
        "NEMO_API_URL": upstream,
        "NEMO_TOKEN": token,
        "GATEWAY_ALLOW_PRIVATE_URLS": "1",
        "GATEWAY_PUBLIC_URL": "http://127.0.0.1:9",
        **extra,
    }


def worker(tmp: Path, env: dict[str, str]) -> Child:
    return Child(gateway_cli("worker"), tmp / "worker.log", "worker running", env=env).start()


def receiver(tmp: Path, secret: str | None = None, status: int = 204) -> Child:
    """The local webhook receiver (``bench/receiver.py``) as its own process."""
    args = [sys.executable, str(ROOT / "bench" / "receiver.py"), "--status", str(status)]
    if secret:
        args += ["--secret", secret]
    return Child(args, tmp / "receiver.log", "receiver listening on").start()


def arrivals(receiver_url: str) -> dict[str, Any]:
    """What the receiver saw: ``{"arrivals": [[t, id, type, video_id], ...], "bad": n}``."""
    return httpx.get(f"{receiver_url}/_arrivals", timeout=60).json()


# -- the gateway database ------------------------------------------------------


def gateway_db(tmp: Path) -> Any:
    from gateway.store.db import Database

    data = tmp / "gateway"
    data.mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{(data / 'gateway.db').resolve()}")
    db.upgrade()
    return db


def api_key(db: Any, name: str = "bench") -> tuple[str, str, str]:
    """(key id, plaintext, webhook secret) of a new API key."""
    from gateway.store.keys import create_key, webhook_secret

    key, plaintext = create_key(db, name)
    return key.id, plaintext, webhook_secret(db, key)


# -- figures -------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def mib(n: float) -> str:
    return f"{n / MiB:.0f} MiB"


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)


def read_proc_self_rss() -> int:
    """This process's resident bytes now (VmRSS), cheap enough to sample every 10 ms."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


PAGE = os.sysconf("SC_PAGE_SIZE")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # so the finally blocks stop the child processes


signal.signal(signal.SIGTERM, _interrupt)
