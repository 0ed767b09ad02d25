"""Download a user-supplied URL to a file, through the SSRF guard at every hop.

``fetch_url_to_file`` is for media URLs (``POST /v1/uploads {url}`` and the
like). It never trusts a redirect: each ``Location`` is resolved and checked
like the first URL, and the connection goes to the checked address (``pin``),
so neither a redirect nor a DNS answer that changes can lead into the private
network. Proxies from the environment are ignored (a proxy would connect
somewhere other than the address the guard approved), and the body is capped.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from gateway.net.guard import UnsafeUrl, UrlGuard, pin

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
_DEFAULT_TYPE = "application/octet-stream"
_FILENAME = re.compile(r"""filename\*?=(?:UTF-8'')?"?([^";]+)"?""", re.IGNORECASE)
USER_AGENT = "nemo-gateway-fetch"


class FetchError(Exception):
    """The download failed (HTTP status, transport error, too many redirects)."""


class TooLarge(FetchError):
    """The body is larger than ``max_bytes``."""


@dataclass(frozen=True)
class Fetched:
    size: int
    sha256: str
    content_type: str
    filename: str

    def as_tuple(self) -> tuple[int, str, str, str]:
        return self.size, self.sha256, self.content_type, self.filename


def fetch_url_to_file(
    url: str,
    dest: Path,
    *,
    guard: UrlGuard,
    max_bytes: int,
    timeout: float,
    total_timeout: float | None = None,
    transport: httpx.BaseTransport | None = None,
) -> tuple[int, str, str, str]:
    """GET ``url`` into ``dest``; return ``(size, sha256, content_type, filename)``.

    ``timeout`` bounds each network step (connect, each read); ``total_timeout``
    (default ``10 * timeout``) bounds the whole download, so a server that
    drips bytes cannot hold a thread forever. Raises ``UnsafeUrl`` for a
    refused URL (first or redirected), ``TooLarge`` or ``FetchError``; ``dest``
    is removed on any failure.
    """
    deadline = time.monotonic() + (total_timeout or 10 * timeout)
    owned = transport is None
    transport = transport or httpx.HTTPTransport()
    try:
        return _follow(url, dest, transport, _Limits(guard, max_bytes, timeout, deadline))
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    finally:
        if owned:
            transport.close()


@dataclass(frozen=True)
class _Limits:
    guard: UrlGuard
    max_bytes: int
    timeout: float
    deadline: float


def _follow(
    url: str, dest: Path, transport: httpx.BaseTransport, limits: _Limits
) -> tuple[int, str, str, str]:
    for _ in range(MAX_REDIRECTS + 1):
        response = _get(url, transport, limits)
        try:
            location = response.headers.get("Location")
            if response.status_code in _REDIRECTS and location:
                url = urljoin(url, location)  # checked again on the next turn
                continue
            if not 200 <= response.status_code < 300:
                raise FetchError(f"HTTP {response.status_code}")
            return _save(response, url, dest, limits).as_tuple()
        finally:
            response.close()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _get(url: str, transport: httpx.BaseTransport, limits: _Limits) -> httpx.Response:
    target = pin(limits.guard.resolve(url))
    request = httpx.Request(
        "GET",
        target.url,
        headers={"User-Agent": USER_AGENT, "Accept": "*/*", **target.headers},
        extensions={**target.extensions, "timeout": httpx.Timeout(limits.timeout).as_dict()},
    )
    try:
        return transport.handle_request(request)
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc


def _save(response: httpx.Response, url: str, dest: Path, limits: _Limits) -> Fetched:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise TooLarge(f"the body is {declared} bytes; the limit is {limits.max_bytes}")
    digest, size = hashlib.sha256(), 0
    with dest.open("wb") as out:
        for chunk in _chunks(response):
            size += len(chunk)
            if size > limits.max_bytes:
                raise TooLarge(f"the body exceeds {limits.max_bytes} bytes")
            if time.monotonic() > limits.deadline:
                raise FetchError("the download took too long")
            digest.update(chunk)
            out.write(chunk)
    return Fetched(size, digest.hexdigest(), _content_type(response), _filename(response, url))


def _chunks(response: httpx.Response) -> Iterator[bytes]:
    stream = response.stream
    if not isinstance(stream, httpx.SyncByteStream):
        raise FetchError("the transport returned an async stream")
    try:
        yield from stream
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc


def _content_type(response: httpx.Response) -> str:
    value = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    return value or _DEFAULT_TYPE


def _filename(response: httpx.Response, url: str) -> str:
    """The server's name for the file, else the last path segment, made safe to store."""
    match = _FILENAME.search(response.headers.get("Content-Disposition", ""))
    raw = match.group(1) if match else unquote(urlsplit(url).path)
    name = PurePosixPath(raw.replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '/\\"')[:200].strip()
    return name or "download"


__all__ = ["FetchError", "Fetched", "TooLarge", "UnsafeUrl", "fetch_url_to_file"]
