"""Uploads: multipart files streamed to disk, URL references, format and size checks."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from .support import Nemo

PATH = "/api/upload-video/nemo_agent/me/{sid}"


def _session(nemo: Nemo) -> str:
    nemo.anonymous()
    return nemo.new_session()


def test_files_land_in_state(nemo: Nemo) -> None:
    sid = _session(nemo)
    files = [
        ("files", ("clip.mp4", b"\x00" * 2048, "video/mp4")),
        ("files", ("song.mp3", b"ID3", "audio/mpeg")),
    ]
    r = nemo.http.post(PATH.format(sid=sid), files=files, headers=nemo.headers)
    assert r.json()["code"] == 0, r.text
    items = r.json()["data"]["items"]
    assert [(i["name"], i["type"], i["size"]) for i in items] == [
        ("clip.mp4", "video", 2048),
        ("song.mp3", "audio", 3),
    ]
    assert nemo.state()["video_infos"] == items
    assert httpx.get(items[0]["url"]).content == b"\x00" * 2048


def test_urls_are_recorded_not_fetched(nemo: Nemo) -> None:
    sid = _session(nemo)
    body = {"urls": ["https://example.invalid/media/beach.JPG?x=1"], "source_type": "url"}
    item = nemo.post(PATH.format(sid=sid), body).json()["data"]["items"][0]
    assert item["name"] == "beach.JPG" and item["type"] == "image" and item["source"] == "url"
    assert item["url"] == body["urls"][0]
    assert nemo.state()["video_infos"] == [item]


def test_unsupported_formats_are_4001_with_the_accepted_list(nemo: Nemo) -> None:
    sid = _session(nemo)
    r = nemo.http.post(
        PATH.format(sid=sid), files={"files": ("notes.txt", b"hi")}, headers=nemo.headers
    )
    assert r.json()["code"] == 4001
    assert "mp4" in r.json()["message"] and "m4a" in r.json()["data"]["accepted_formats"]
    r = nemo.post(
        PATH.format(sid=sid), {"urls": ["https://example.invalid/a.exe"], "source_type": "url"}
    )
    assert r.json()["code"] == 4001
    assert nemo.state()["video_infos"] == []


def test_too_large_is_4002_by_length_and_while_streaming(nemo: Nemo) -> None:
    nemo.http.post("/_sandbox/config", json={"max_upload_bytes": 10_000}).raise_for_status()
    sid = _session(nemo)
    big = ("files", ("big.mp4", b"\x00" * 20_000, "video/mp4"))
    r = nemo.http.post(PATH.format(sid=sid), files=[big], headers=nemo.headers)
    assert r.json()["code"] == 4002 and r.json()["data"]["max_bytes"] == 10_000

    # Chunked: no Content-Length, so only counting the bytes can catch it.
    boundary = "sandboxboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(20):
            yield b"\x00" * 1000
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {**nemo.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    r = nemo.http.post(PATH.format(sid=sid), content=body(), headers=headers)
    assert r.json()["code"] == 4002
    assert nemo.state()["video_infos"] == []


def test_upload_to_an_unknown_session_is_1002(nemo: Nemo) -> None:
    _session(nemo)
    r = nemo.http.post(
        PATH.format(sid="nope"), files={"files": ("a.mp4", b"x")}, headers=nemo.headers
    )
    assert r.json()["code"] == 1002


def test_uploaded_media_feed_the_next_generation(nemo: Nemo) -> None:
    sid = _session(nemo)
    nemo.post(
        PATH.format(sid=sid), {"urls": ["https://example.invalid/song.mp3"], "source_type": "url"}
    )
    nemo.run("make a 2 second video of a sunset")
    tracks = nemo.state()["draft"]["t"]
    assert any(t["tt"] == 1 for t in tracks), "the uploaded audio became the BGM"
