"""The asyncio network backend of the chat stream pools, against local servers."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from gateway.upstream.aionet import AsyncioTransport

SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _serve(handler, ssl_context=None):
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ssl_context)
    return server, server.sockets[0].getsockname()[1]


async def _stream(reader, writer, parts, hang=0.0):
    await reader.readuntil(b"\r\n\r\n")
    writer.write(SSE_HEAD)
    for part in parts:
        writer.write(_chunk(part))
        await writer.drain()
        await asyncio.sleep(0.01)
    await asyncio.sleep(hang)
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    writer.close()


def test_streams_a_chunked_body_and_reuses_the_connection() -> None:
    async def main():
        parts = [b": heartbeat\n\n", b"data: {}\n\n", b"x" * 100_000]
        server, port = await _serve(lambda r, w: _stream(r, w, parts))
        http = httpx.AsyncClient(transport=AsyncioTransport())
        url = f"http://127.0.0.1:{port}/run_sse"
        async with server, http, http.stream("POST", url) as response:
            got = b"".join([chunk async for chunk in response.aiter_bytes()])
        assert got == b"".join(parts)

    asyncio.run(main())


def test_a_silent_stream_times_out_and_a_refused_connect_fails() -> None:
    async def main():
        server, port = await _serve(lambda r, w: _stream(r, w, [b": hi\n\n"], hang=5))
        timeout = httpx.Timeout(5, read=0.2)
        async with server, httpx.AsyncClient(transport=AsyncioTransport(), timeout=timeout) as http:
            with pytest.raises(httpx.ReadTimeout):
                async with http.stream("POST", f"http://127.0.0.1:{port}/") as response:
                    async for _ in response.aiter_bytes():
                        pass
            closed = server.sockets[0].getsockname()[1]
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient(transport=AsyncioTransport()) as http:
                await http.get(f"http://127.0.0.1:{closed}/")

    asyncio.run(main())


def test_a_cut_stream_is_a_read_error() -> None:
    async def cut(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(SSE_HEAD + _chunk(b": hi\n\n"))
        await writer.drain()
        writer.transport.abort()

    async def main():
        server, port = await _serve(cut)
        async with server, httpx.AsyncClient(transport=AsyncioTransport()) as http:
            with pytest.raises(httpx.TransportError):
                async with http.stream("POST", f"http://127.0.0.1:{port}/") as response:
                    async for _ in response.aiter_bytes():
                        pass

    asyncio.run(main())


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_with_the_host_name_checked(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))

    async def main():
        server, port = await _serve(lambda r, w: _stream(r, w, [b"data: {}\n\n"]), server_ctx)
        async with server:
            http = httpx.AsyncClient(transport=AsyncioTransport(verify=client_ctx))
            url = f"https://localhost:{port}/run_sse"
            async with http, http.stream("POST", url) as response:
                assert await response.aread() == b"data: {}\n\n"
            # A certificate for another name is refused (the server still listens).
            async with httpx.AsyncClient(transport=AsyncioTransport(verify=client_ctx)) as http:
                with pytest.raises(httpx.ConnectError, match=r"(?i)certificate|hostname|match"):
                    await http.get(f"https://127.0.0.1:{port}/")

    asyncio.run(main())
