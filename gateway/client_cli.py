"""`nemo-gateway generate`: a prompt in, an MP4 out, through a running gateway.

A client for people: it uses only the public API (create, poll, download),
shows a progress bar, and keeps the API key in the Authorization header.
"""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

TERMINAL = {"succeeded", "failed", "canceled"}


def generate(args: argparse.Namespace, api_key: str) -> int:
    console = Console(stderr=True)
    body: dict[str, Any] = {"prompt": args.prompt}
    for field, value in (
        ("duration_seconds", args.duration),
        ("aspect_ratio", args.aspect_ratio),
        ("resolution", args.resolution),
    ):
        if value is not None:
            body[field] = value
    headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": str(uuid.uuid4())}
    with httpx.Client(base_url=args.url, headers=headers, timeout=60) as http:
        created = http.post("/v1/videos", json=body)
        if created.status_code >= 400:
            console.print(f"[red]refused:[/red] {created.json().get('detail', created.text)}")
            return 1
        video = _follow(http, created.json(), args.timeout, console)
        if video["status"] != "succeeded":
            error = video.get("error") or {}
            console.print(
                f"[red]{video['status']}:[/red] {error.get('code')} {error.get('message')}"
            )
            return 1
        out = Path(args.out)
        _download(video["output"]["url"], out)
    o = video["output"]
    console.print(
        f"[green]saved[/green] {out} ({o['size_bytes']} bytes, {o['width']}x{o['height']}, "
        f"{o['duration_seconds']:.1f} s)"
    )
    console.print(f"timeline: {video.get('timeline')}")
    return 0


def _follow(http: httpx.Client, video: dict[str, Any], timeout: float, console: Console) -> dict:
    deadline = time.monotonic() + timeout
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
    )
    with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task(video["status"], total=100)
        while video["status"] not in TERMINAL and time.monotonic() < deadline:
            video = http.get(f"/v1/videos/{video['id']}").json()
            bar.update(task, completed=video["progress"], description=_label(video))
            if video["status"] not in TERMINAL:
                time.sleep(1.0)
        bar.update(task, completed=video["progress"], description=_label(video))
    return video


def _label(video: dict[str, Any]) -> str:
    return f"{video['status']:<10} {video.get('stage') or '':<16}"


def _download(url: str, out: Path) -> None:
    # The signed link works without the API key, like any shared URL.
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".part")
    with httpx.stream("GET", url, timeout=120) as response, tmp.open("wb") as fh:
        response.raise_for_status()
        for chunk in response.iter_bytes(1 << 16):
            fh.write(chunk)
    tmp.replace(out)
