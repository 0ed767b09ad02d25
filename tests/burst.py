"""A burst of concurrent creates against a running gateway, over raw sockets.

Every connection is opened at once (the kernel completes each handshake into
the listen queue before the server accepts it: the queue must hold them all),
then every connection sends its ``POST /v1/videos`` (a distinct
``Idempotency-Key`` each) and reads the answer to the end. Any failure to
connect, a reset, a timeout or a short answer is counted by its kind.

A client alone does not see every overflow of the listen queue: Linux drops a
SYN the full queue cannot take, and the client's retry a second later often
gets in. The kernel counts each one (``TcpExt ListenOverflows`` in
``/proc/net/netstat``, per network namespace), so the burst reads that too.

Used by ``tests/e2e/test_burst.py`` (CI, 1,000 creates) and ``bench/burst.py``.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class Result:
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    video_ids: list[str] = field(default_factory=list)
    connect_seconds: float = 0.0  # until every handshake was done (or failed)
    seconds: float = 0.0  # until every answer was in
    # Connections the listen queue could not hold during the burst, machine-wide:
    # another busy listener on this machine would add its own.
    listen_overflows: int = 0


def listen_overflows() -> int:
    """The kernel's count of connections dropped for a full listen queue (Linux; else 0)."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return 0
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            counters = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            return int(counters.get("ListenOverflows", 0))
    return 0


def allow_sockets(count: int) -> None:
    """Raise this process's descriptor limit to hold ``count`` sockets (and its children's)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = count * 2 + 256
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def request(host: str, port: int, key: str, n: int, prefix: str) -> bytes:
    body = json.dumps({"prompt": f"burst {n}: a short clip"}).encode()
    head = (
        "POST /v1/videos HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        f"Authorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\n"
        f"Idempotency-Key: {prefix}-{n}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


def parse(raw: bytes) -> tuple[int, str | None]:
    """The status code and, for a complete JSON answer, the video id."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(body).get("id")
    except ValueError:
        return status, None


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _connect(host: str, port: int, timeout: float) -> Conn:
    return await asyncio.wait_for(asyncio.open_connection(host, port), timeout)


async def _exchange(conn: Conn, payload: bytes, timeout: float) -> bytes:
    reader, writer = conn
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)  # to EOF: Connection: close
    finally:
        writer.close()


async def _burst(host: str, port: int, key: str, count: int, prefix: str, timeout: float) -> Result:
    result = Result()
    start = time.monotonic()
    conns = await asyncio.gather(
        *(_connect(host, port, timeout) for _ in range(count)), return_exceptions=True
    )
    result.connect_seconds = time.monotonic() - start
    exchanges = []
    for n, conn in enumerate(conns):
        if isinstance(conn, BaseException):
            result.errors[f"connect: {type(conn).__name__}"] += 1
        else:
            exchanges.append(_exchange(conn, request(host, port, key, n, prefix), timeout))
    answers = await asyncio.gather(*exchanges, return_exceptions=True)
    result.seconds = time.monotonic() - start
    for answer in answers:
        if isinstance(answer, BaseException):
            result.errors[f"exchange: {type(answer).__name__}"] += 1
        elif not answer:
            result.errors["exchange: empty answer"] += 1
        else:
            status, video_id = parse(answer)
            result.statuses[status] += 1
            if video_id:
                result.video_ids.append(video_id)
    return result


def burst(
    url: str, key: str, count: int, *, prefix: str = "burst", timeout: float = 60.0
) -> Result:
    """``count`` concurrent creates against the gateway at ``url`` (http://host:port)."""
    parsed = httpx.URL(url)
    assert parsed.host and parsed.port, url
    allow_sockets(count)
    before = listen_overflows()
    result = asyncio.run(_burst(parsed.host, parsed.port, key, count, prefix, timeout))
    result.listen_overflows = listen_overflows() - before
    return result


def listed_ids(url: str, key: str) -> set[str]:
    """Every video id the gateway lists for ``key``."""
    ids: set[str] = set()
    cursor: str | None = None
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = api.get("/v1/videos", params=params).json()
            ids.update(video["id"] for video in page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                return ids
