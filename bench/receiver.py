"""A fast local webhook receiver for the benchmarks (asyncio, HTTP/1.1, loopback only).

python bench/receiver.py [--port 0] [--secret whsec_...] [--status 204]

Prints ``receiver listening on http://127.0.0.1:<port>`` when it serves. Every
POST is answered ``--status`` at once and recorded as
``[arrival time (epoch s), webhook-id, type, data.id]``; with ``--secret`` its
Standard Webhooks signature is checked too (a bad one is counted, still
answered). ``GET /_arrivals`` returns ``{"arrivals": [...], "bad": n}``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import signal
import time
from typing import Any

REASONS = {200: "OK", 204: "No Content", 410: "Gone", 500: "Internal Server Error"}


class Receiver:
    def __init__(self, secret: str | None, status: int) -> None:
        self.key = base64.b64decode(secret.removeprefix("whsec_")) if secret else None
        self.status = status
        self.arrivals: list[list[Any]] = []
        self.bad = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if method == "GET" and path == "/_arrivals":
                    out = json.dumps({"arrivals": self.arrivals, "bad": self.bad}).encode()
                    writer.write(_answer(200, out, "application/json"))
                else:
                    self.record(headers, body)
                    writer.write(_answer(self.status, b""))
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    def record(self, headers: dict[str, str], body: bytes) -> None:
        now = time.time()
        msg_id = headers.get("webhook-id", "")
        if self.key is not None and not self._valid(msg_id, headers, body):
            self.bad += 1
        try:
            payload = json.loads(body)
            kind, video = payload.get("type"), (payload.get("data") or {}).get("id")
        except ValueError:
            kind = video = None
        self.arrivals.append([now, msg_id, kind, video])

    def _valid(self, msg_id: str, headers: dict[str, str], body: bytes) -> bool:
        assert self.key is not None
        signed = f"{msg_id}.{headers.get('webhook-timestamp', '')}.".encode() + body
        expected = base64.b64encode(hmac.new(self.key, signed, hashlib.sha256).digest()).decode()
        given = headers.get("webhook-signature", "").split()
        return any(hmac.compare_digest(f"v1,{expected}", sig) for sig in given)


def _answer(status: int, body: bytes, content_type: str = "text/plain") -> bytes:
    reason = REASONS.get(status, "Status")
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n"
    if body:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode() + b"\r\n" + body


async def main_async(port: int, secret: str | None, status: int) -> None:
    receiver = Receiver(secret, status)
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    print(f"receiver listening on http://127.0.0.1:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret", default=None)
    parser.add_argument("--status", type=int, default=204)
    args = parser.parse_args()
    asyncio.run(main_async(args.port, args.secret, args.status))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
