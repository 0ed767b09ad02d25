"""Pure parts of the agent surface: the router, turn costs, formats, the multipart reader."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from gateway.jobs import costs
from gateway.media import formats
from gateway.media.multipart import MultipartError, receive_file
from gateway.router import Route, route

DRAFT = {"d": 4000, "t": [{"tt": 0, "sg": [{"s": 0, "e": 4000, "lb": "boat"}]}]}
WITH_MUSIC = {
    "d": 4000,
    "t": [*DRAFT["t"], {"tt": 1, "sg": [{"s": 0, "e": 4000, "lb": "Lo-fi", "v": 0.35}]}],
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("export", Route.EXPORT),
        ("Please download the MP4", Route.EXPORT),
        ("send me the video", Route.EXPORT),
        ("导出", Route.EXPORT),
        ("how many credits are left?", Route.CREDITS),
        ("余额", Route.CREDITS),
        ("status", Route.STATUS),
        ("show tracks", Route.STATUS),
        ("add lo-fi music at 35%", Route.CHAT),
        ("put the title 'Urban Dreams' in the first 3 s", Route.CHAT),
        ("make the exporter scene brighter", Route.CHAT),
    ],
)
def test_router(text: str, expected: Route) -> None:
    assert route(text) is expected


def test_turn_costs_follow_what_the_turn_did() -> None:
    assert costs.charged("generate", None, DRAFT) == 100
    assert costs.charged("message", DRAFT, WITH_MUSIC) == 50
    assert costs.charged("message", DRAFT, DRAFT) == 0
    assert costs.charged("message", DRAFT, DRAFT, [{"tool": "generate_video"}]) == 100
    assert costs.charged("export", None, DRAFT) == 0
    # An edit tool ran but the draft reads the same (a title added again): still an edit.
    assert costs.charged("edit", DRAFT, DRAFT, [{"tool": "add_title", "status": "ok"}]) == 50
    assert (costs.expected("generate"), costs.expected("edit"), costs.expected("message")) == (
        100,
        50,
        0,
    )


def test_formats() -> None:
    assert formats.media_format("Beach.JPEG") == "jpg"
    with pytest.raises(formats.MediaRejected) as info:
        formats.media_format("notes.txt")
    assert info.value.code == "unsupported_media"
    formats.check_url("https://cdn.example/media/abc")  # no extension: decided when fetched
    with pytest.raises(formats.MediaRejected):
        formats.check_url("https://cdn.example/doc.pdf?x=1")


def _form(parts: list[tuple[str, str | None, bytes]], boundary: str = "b0undary") -> bytes:
    out = io.BytesIO()
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename:
            disposition += f'; filename="{filename}"'
        out.write(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode())
        out.write(b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


def test_multipart_streams_one_file_in_small_reads(tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    body = io.BytesIO(_form([("note", None, b"hi"), ("file", "a.mp4", data)]))
    reads: list[int] = []

    def read(n: int) -> bytes:
        reads.append(n)
        return body.read(n)

    got = receive_file(read, b"b0undary", tmp_path, max_bytes=len(data))
    assert (got.filename, got.format, got.size) == ("a.mp4", "mp4", len(data))
    assert got.sha256 == hashlib.sha256(data).hexdigest() and got.path.read_bytes() == data
    assert max(reads) <= 64 * 1024


def test_multipart_refusals_leave_no_file(tmp_path: Path) -> None:
    too_big = io.BytesIO(_form([("file", "a.mp4", b"x" * 100)]))
    with pytest.raises(formats.MediaRejected) as info:
        receive_file(too_big.read, b"b0undary", tmp_path, max_bytes=99)
    assert info.value.code == "media_too_large"
    two = io.BytesIO(_form([("a", "a.mp4", b"x"), ("b", "b.mp4", b"y")]))
    with pytest.raises(MultipartError):
        receive_file(two.read, b"b0undary", tmp_path, max_bytes=99)
    assert list(tmp_path.iterdir()) == []
