"""``fetch_url_to_file`` against a real server on 127.0.0.1, and the guard's SSRF cases."""

from __future__ import annotations

import hashlib
import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from gateway.net import FetchError, TooLarge, UnsafeUrl, UrlGuard, fetch_url_to_file

CLIP = bytes(range(256)) * 100  # 25.6 KB
SSRF_CASES = [
    "http://127.0.0.1/x",
    "http://[::1]/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://10.0.0.1/x",
    "http://100.64.0.1/x",
    "http://169.254.169.254/latest/meta-data/",
    "http://2130706433/x",
    "http://localhost/x",
]
OPEN = UrlGuard(allow_private=True)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        routes = {
            "/clip.mp4": lambda: self._send(200, CLIP, {"Content-Type": "video/mp4; x=1"}),
            "/named": lambda: self._send(
                200, b"abc", {"Content-Disposition": 'attachment; filename="../My Clip.mov"'}
            ),
            "/hop": lambda: self._send(302, b"", {"Location": "/clip.mp4"}),
            "/loop": lambda: self._send(302, b"", {"Location": "/loop"}),
            "/missing": lambda: self._send(404, b"no", {}),
            "/chunked": self._chunked,
        }
        routes.get(self.path, lambda: self._send(404, b"", {}))()

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _chunked(self) -> None:
        # No Content-Length: only counting the bytes can enforce the cap.
        self.send_response(200)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(CLIP)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def fetch(url: str, dest: Path, **options: object) -> tuple[int, str, str, str]:
    defaults: dict[str, object] = {"guard": OPEN, "max_bytes": 10**6, "timeout": 5}
    return fetch_url_to_file(url, dest, **{**defaults, **options})  # type: ignore[arg-type]


def test_download_with_size_hash_type_and_name(server, tmp_path) -> None:
    dest = tmp_path / "out"
    size, sha, content_type, name = fetch(f"{server}/clip.mp4", dest)
    assert (size, sha) == (len(CLIP), hashlib.sha256(CLIP).hexdigest())
    assert (content_type, name) == ("video/mp4", "clip.mp4")
    assert dest.read_bytes() == CLIP


def test_the_server_s_filename_is_kept_but_made_safe(server, tmp_path) -> None:
    assert fetch(f"{server}/named", tmp_path / "o")[2:] == (
        "application/octet-stream",
        "My Clip.mov",
    )


def test_redirects_are_followed_by_hand(server, tmp_path) -> None:
    assert fetch(f"{server}/hop", tmp_path / "o")[0] == len(CLIP)
    with pytest.raises(FetchError, match="redirects"):
        fetch(f"{server}/loop", tmp_path / "o")


@pytest.mark.parametrize("path", ["/clip.mp4", "/chunked"])
def test_the_body_is_capped_and_the_file_removed(server, tmp_path, path) -> None:
    dest = tmp_path / "o"
    with pytest.raises(TooLarge):
        fetch(server + path, dest, max_bytes=1000)
    assert not dest.exists()


def test_an_error_status_fails(server, tmp_path) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(f"{server}/missing", tmp_path / "o")


def test_proxies_from_the_environment_are_ignored(server, tmp_path, monkeypatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    assert fetch(f"{server}/clip.mp4", tmp_path / "o")[0] == len(CLIP)


@pytest.mark.parametrize("url", SSRF_CASES)
def test_every_ssrf_case_is_refused_unless_allowed(url, tmp_path) -> None:
    with pytest.raises(UnsafeUrl):
        fetch(url, tmp_path / "o", guard=UrlGuard())


def test_the_server_itself_is_refused_unless_allowed(server, tmp_path) -> None:
    with pytest.raises(UnsafeUrl, match="loopback"):
        fetch(f"{server}/clip.mp4", tmp_path / "o", guard=UrlGuard())


def test_a_redirect_to_a_private_address_is_refused(tmp_path) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/"})

    public = "http://93.184.215.14/video.mp4"  # an address literal: no DNS involved
    for guard in (UrlGuard(), OPEN):  # metadata stays shut when private URLs are open
        seen.clear()
        with pytest.raises(UnsafeUrl, match="link-local"):
            fetch(public, tmp_path / "o", guard=guard, transport=httpx.MockTransport(handler))
        assert seen == [public]  # the metadata hop was never requested


def test_a_redirect_to_a_name_is_resolved_and_checked_again(tmp_path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://inside.example.com/x"})

    dns = {"inside.example.com": (ipaddress.ip_address("10.0.0.7"),)}
    guard = UrlGuard(resolver=lambda host, port: dns[host])
    with pytest.raises(UnsafeUrl, match="resolves to a private address"):
        fetch(
            "http://93.184.215.14/v.mp4",
            tmp_path / "o",
            guard=guard,
            transport=httpx.MockTransport(handler),
        )
