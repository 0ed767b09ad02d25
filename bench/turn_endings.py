"""Turn endings: how soon the gateway goes on after a silent turn or an in-stream error.

python bench/turn_endings.py [--videos 5] [--dialects default,adk,references,liberal] [--write]
python bench/turn_endings.py --quick

For each sandbox dialect: a worker with the protocol's real timings
(``GATEWAY_TIME_SCALE=1``: a 3 s settle step, the 30 s / 60 s recovery), a
sandbox whose generations are sped up and whose renders take 3 s real. First N
silent generations (fault ``silent``: tool calls only, no text, a clean close),
then N generations whose turn fails in the stream (fault ``stream_error``, in
the dialect's own error form). Figures, on the sandbox's clock:

- silent: the video's ``completed_at`` - the render's ``completed_at``, and -
  the stream's close (the whole tail: settle, render, notice, mirror);
- error: the video's ``completed_at`` - the stream's close.

Targets: a silent generation ``succeeded`` within 10 s of its render
completing; an in-stream error ``failed`` within 5 s of the stream closing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

import benchlib as bl

HEADING = "## Turn endings: silent turns and in-stream errors"
PROMPT = "a 3-second clip of a lighthouse at dusk"
RENDER_SECONDS = 3.0
SILENT_TARGET, ERROR_TARGET = 10.0, 5.0


class Stack:
    """One dialect: its sandbox, a worker with real protocol timings, its database."""

    def __init__(self, dialect: str, tmp: Path, speed: float) -> None:
        self.dialect, self.tmp = dialect, tmp / dialect
        self.tmp.mkdir(parents=True)
        render = [RENDER_SECONDS * speed, RENDER_SECONDS * speed]
        self.sandbox = bl.sandbox(self.tmp, speed, 15 / speed, dialect, render_queue_seconds=render)
        token = bl.sandbox_token(self.sandbox.url)
        self.db = bl.gateway_db(self.tmp)
        self.key_id, _, _ = bl.api_key(self.db)
        env = bl.gateway_env(self.tmp, self.sandbox.url, token, GATEWAY_TICK_SECONDS="0.2")
        self.worker = bl.worker(self.tmp, env)

    def batch(self, fault: str, n: int, timeout: float) -> list[str]:
        """Arm ``fault`` for the next n turns, make n videos, wait for all to end."""
        from gateway.videos_service import create_video

        body = {"endpoint": "run_sse", "fault": fault, "times": n}
        httpx.post(f"{self.sandbox.url}/_sandbox/faults", json=body, timeout=10).raise_for_status()
        ids = [create_video(self.db, self.key_id, {"prompt": PROMPT}).video.id for _ in range(n)]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(self._done(v) for v in ids):
            time.sleep(0.2)
        return ids

    def _done(self, video_id: str) -> bool:
        return self._row(video_id)["status"] in ("succeeded", "failed", "canceled")

    def _row(self, video_id: str) -> dict[str, Any]:
        from gateway.store.models import ChatSession, Video

        with self.db.session() as s:
            video = s.get(Video, video_id)
            chat = s.get(ChatSession, video.session_id) if video.session_id else None
            return {
                "status": video.status,
                "error": (video.error or {}).get("code"),
                "completed_at": video.completed_at.timestamp() if video.completed_at else None,
                "render_id": video.render_id,
                "upstream_session": chat.upstream_session_id if chat else None,
            }

    def measure(self, video_id: str) -> dict[str, Any]:
        row = self._row(video_id)
        out: dict[str, Any] = {"status": row["status"], "error": row["error"]}
        if row["upstream_session"] and row["completed_at"]:
            url = f"{self.sandbox.url}/_sandbox/sessions/{row['upstream_session']}"
            closed = httpx.get(url, timeout=10).json()["data"]["streams_closed_at"]
            if closed:
                out["after_close"] = row["completed_at"] - closed[-1]
        if row["render_id"] and row["completed_at"]:
            render = bl.sandbox_render(self.sandbox.url, row["render_id"])
            if render["completed_at"]:
                out["after_render"] = row["completed_at"] - render["completed_at"]
        return out

    def stop(self) -> None:
        self.worker.stop()
        self.sandbox.stop()
        self.db.dispose()


def run(dialects: list[str], n: int, speed: float, tmp: Path, timeout: float) -> dict[str, Any]:
    results = []
    for dialect in dialects:
        stack = Stack(dialect, tmp, speed)
        try:
            silent = [stack.measure(v) for v in stack.batch("silent", n, timeout)]
            errors = [stack.measure(v) for v in stack.batch("stream_error", n, timeout)]
        finally:
            stack.stop()
        results.append({"dialect": dialect, "silent": silent, "error": errors})
    return {"dialects": results, "videos": n, "speed": speed}


def _worst(rows: list[dict[str, Any]], key: str) -> float:
    values = [r[key] for r in rows if key in r]
    return max(values) if len(values) == len(rows) and values else float("nan")


def _row(result: dict[str, Any]) -> str:
    silent, errors = result["silent"], result["error"]
    ok_silent = sum(r["status"] == "succeeded" for r in silent)
    ok_error = sum(r["status"] == "failed" and r["error"] == "agent_error" for r in errors)
    after_render = _worst(silent, "after_render")
    silent_close = _worst(silent, "after_close")
    error_close = _worst(errors, "after_close")
    met = (
        ok_silent == len(silent)
        and ok_error == len(errors)
        and after_render <= SILENT_TARGET
        and error_close <= ERROR_TARGET
    )
    return (
        f"| {result['dialect']} | {ok_silent}/{len(silent)} | {after_render:.2f} "
        f"| {silent_close:.2f} | {ok_error}/{len(errors)} | {error_close:.2f} "
        f"| {'met' if met else 'missed'} |"
    )


def report(r: dict[str, Any]) -> str:
    rows = "\n".join(_row(d) for d in r["dialects"])
    return (
        f"{HEADING}\n\n"
        f"Per sandbox dialect, {r['videos']} silent generations (fault `silent`: tool calls "
        f"only, a clean close) then {r['videos']} whose turn fails in the stream (fault "
        "`stream_error`, in the dialect's error form), against a worker with the protocol's "
        f"real timings and renders of {RENDER_SECONDS:g} s. Times on the sandbox's clock, "
        "worst of each batch. Targets: a silent generation succeeded within "
        f"{SILENT_TARGET:g} s of its render completing; an in-stream error failed within "
        f"{ERROR_TARGET:g} s of the stream closing.\n\n"
        "| dialect | silent succeeded | silent: render done to succeeded, worst s "
        "| silent: stream closed to succeeded, worst s | errors failed `agent_error` "
        "| error: stream closed to failed, worst s | target |\n"
        "|---|---|---|---|---|---|---|\n" + rows + "\n\n" + bl.footer()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=5, help="per batch and dialect")
    parser.add_argument("--dialects", default="default,adk,references,liberal")
    parser.add_argument("--timeout", type=float, default=180)
    bl.add_output_flags(parser)
    args = parser.parse_args(argv)
    dialects = [d.strip() for d in args.dialects.split(",") if d.strip()]
    speed = 20.0
    if args.quick:
        args.videos, args.timeout, dialects, speed = 1, 60, dialects[:2], 100.0
    with tempfile.TemporaryDirectory(prefix="bench-turns-") as folder:
        result = run(dialects, args.videos, speed, Path(folder), args.timeout)
    bl.publish(HEADING, report(result), args, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
