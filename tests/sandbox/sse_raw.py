"""A run_sse answer kept as raw bytes, read the way the WHATWG event-stream rules say.

Unlike ``support.Nemo.run`` (which expects the default framing), this reader
accepts every framing a dialect may use (LF, CRLF or CR line ends, one event
over several ``data:`` lines) and keeps the bytes, so tests can assert the
framing itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from .support import Nemo, parts


@dataclass
class RawStream:
    status: int
    content_type: str
    raw: bytes = b""
    body: Any = None  # the JSON answer when the response is not a stream
    events: list[dict[str, Any]] = field(default_factory=list)
    data_lines: list[int] = field(default_factory=list)  # data: lines of each event
    heartbeats: dict[str, int] = field(default_factory=dict)
    cut: bool = False

    def texts(self) -> list[str]:
        return [p["text"] for e in self.events for p in parts(e) if "text" in p]

    def part_keys(self) -> set[str]:
        return {k for e in self.events for p in parts(e) for k in p}


def run_raw(nemo: Nemo, text: str, session_id: str | None = None) -> RawStream:
    headers = {**nemo.headers, "Accept": "text/event-stream"}
    body = nemo.sse_body(text, session_id)
    with nemo.http.stream("POST", "/run_sse", json=body, headers=headers) as r:
        stream = RawStream(r.status_code, r.headers.get("content-type", ""))
        chunks: list[bytes] = []
        try:
            for chunk in r.iter_raw():
                chunks.append(chunk)
        except (httpx.RemoteProtocolError, httpx.ReadError):
            stream.cut = True
        stream.raw = b"".join(chunks)
    if not stream.content_type.startswith("text/event-stream"):
        stream.body = json.loads(stream.raw)
        return stream
    for block in blocks(stream.raw.decode("utf-8")):
        _read(stream, block)
    return stream


def blocks(text: str) -> list[list[str]]:
    """Lines grouped by the blank lines that end them (a trailing partial block is dropped)."""
    lines = re.split(r"\r\n|\r|\n", text)
    out: list[list[str]] = []
    block: list[str] = []
    for line in lines[:-1]:  # the last piece follows the final line end
        if line:
            block.append(line)
        elif block:
            out.append(block)
            block = []
    return out


def _field(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name, value[1:] if value.startswith(" ") else value


def _read(stream: RawStream, block: list[str]) -> None:
    if all(line.startswith(":") for line in block):
        kind = "comment"
    elif _field(block[0]) == ("event", "heartbeat"):
        kind = "event"
    else:
        data = [_field(line)[1] for line in block if _field(line)[0] == "data"]
        joined = "\n".join(data)
        if joined.strip():
            stream.events.append(json.loads(joined))
            stream.data_lines.append(len(data))
            return
        kind = "empty_data"
    stream.heartbeats[kind] = stream.heartbeats.get(kind, 0) + 1
