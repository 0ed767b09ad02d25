"""End-to-end: webhook subscriptions against the real gateway process and receivers on 127.0.0.1.

Events come from canceling a fresh video (``video.canceled``): quick, and no
credits are spent waiting for a render.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import Stack, start_stack, stop_stack

Reply = tuple[int, dict[str, str]]


@dataclass
class Hook:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedReceiver:
    """Answers the n-th POST with ``reply_for(n)``: a status and extra headers."""

    reply_for: Callable[[int], Reply] = lambda n: (200, {})
    hooks: list[Hook] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        receiver, cond = self, threading.Condition()
        self._cond = cond

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with cond:
                    n = len(receiver.hooks)
                    receiver.hooks.append(Hook(self.path, dict(self.headers), body))
                    cond.notify_all()
                status, headers = receiver.reply_for(n)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def wait_for(self, count: int, timeout: float = 30) -> list[Hook]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.hooks) >= count, timeout)
            return list(self.hooks)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., ScriptedReceiver]]:
    made: list[ScriptedReceiver] = []

    def make(reply_for: Callable[[int], Reply] = lambda n: (200, {})) -> ScriptedReceiver:
        made.append(ScriptedReceiver(reply_for))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def subscribe(api: httpx.Client, url: str, events: tuple[str, ...] = ("video.canceled",)) -> dict:
    response = api.post("/v1/webhooks", json={"url": url, "events": list(events)})
    assert response.status_code == 201, response.text
    return response.json()


def canceled_video(api: httpx.Client) -> str:
    video_id = api.post("/v1/videos", json={"prompt": "a heron", "duration_seconds": 2}).json()[
        "id"
    ]
    assert api.post(f"/v1/videos/{video_id}/cancel").status_code in (200, 202)
    return video_id


def wait_log(api: httpx.Client, path: str, done: Callable[[list[dict]], bool], timeout=30) -> list:
    deadline = time.monotonic() + timeout
    while True:
        data = api.get(path).json()["data"]
        if done(data) or time.monotonic() > deadline:
            return data
        time.sleep(0.1)


def test_signed_with_the_subscription_secret_also_during_rotation(stack: Stack, make_receiver):
    receiver = make_receiver()
    with stack.client() as api:
        sub = subscribe(api, receiver.url)
        canceled_video(api)
        (first,) = receiver.wait_for(1)
        assert Webhook(sub["secret"]).verify(first.body, first.headers)["type"] == "video.canceled"
        rotated = api.post(f"/v1/webhooks/{sub['id']}/rotate-secret").json()
        canceled_video(api)
        second = receiver.wait_for(2)[1]
    assert len(second.headers["webhook-signature"].split(" ")) == 2
    for secret in (sub["secret"], rotated["secret"]):
        assert Webhook(secret).verify(second.body, second.headers)["type"] == "video.canceled"


def test_fails_twice_then_succeeds_one_webhook_id_and_the_log_shows_it(stack, make_receiver):
    receiver = make_receiver(lambda n: (500, {}) if n < 2 else (200, {}))
    with stack.client() as api:
        sub = subscribe(api, receiver.url)
        video_id = canceled_video(api)
        hooks = receiver.wait_for(3)
        path = f"/v1/webhooks/{sub['id']}/deliveries"
        (delivery,) = wait_log(api, path, lambda d: bool(d) and d[0]["status"] == "succeeded")
        by_video = api.get(f"/v1/videos/{video_id}/deliveries").json()["data"]
    assert len(hooks) == 3
    assert len({hook.headers["webhook-id"] for hook in hooks}) == 1
    assert delivery["event_id"] == hooks[0].headers["webhook-id"]
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
    assert all("response_body" not in a for a in delivery["attempts"])  # no bodies kept
    assert delivery["attempts"][0]["next_retry_at"] is not None
    assert delivery["attempts"][-1]["next_retry_at"] is None
    # Other tests' subscriptions on this stack may have deliveries for the video too.
    assert [d["id"] for d in by_video if d["webhook_id"] == sub["id"]] == [delivery["id"]]


def test_410_disables_and_patch_reenables(stack, make_receiver):
    receiver = make_receiver(lambda n: (410, {}))
    with stack.client() as api:
        sub = subscribe(api, receiver.url)
        canceled_video(api)
        receiver.wait_for(1)
        path = f"/v1/webhooks/{sub['id']}"
        deadline = time.monotonic() + 10
        while api.get(path).json()["status"] != "disabled" and time.monotonic() < deadline:
            time.sleep(0.1)
        disabled = api.get(path).json()
        enabled = api.patch(path, json={"status": "active"}).json()
    assert (disabled["status"], disabled["disabled_reason"]) == (
        "disabled",
        "the receiver answered 410 Gone",
    )
    assert (enabled["status"], enabled["disabled_reason"]) == ("active", None)


def test_a_redirect_is_not_followed(stack, make_receiver):
    target = make_receiver()
    receiver = make_receiver(lambda n: (302, {"Location": target.url}))
    with stack.client() as api:
        sub = subscribe(api, receiver.url)
        canceled_video(api)
        receiver.wait_for(1)
        path = f"/v1/webhooks/{sub['id']}/deliveries"
        (delivery,) = wait_log(api, path, lambda d: bool(d) and bool(d[0]["attempts"]))
    assert delivery["attempts"][0]["status_code"] == 302
    assert delivery["attempts"][0]["error"] == "HTTP 302"
    assert target.hooks == []


def test_pending_deliveries_survive_kill_9(tmp_path: Path, make_receiver):
    # The third attempt is due 5 min x 0.01 = 3 s after the second: time to kill.
    stack = start_stack(tmp_path, 200, GATEWAY_WEBHOOK_BACKOFF="0.01")
    try:
        # Two failures, then the gateway dies with the retry pending.
        receiver = make_receiver(lambda n: (503, {}) if n < 2 else (200, {}))
        with stack.client() as api:
            sub = subscribe(api, receiver.url)
            canceled_video(api)
        receiver.wait_for(2)
        time.sleep(0.3)  # let the second outcome be recorded
        stack.gateway.kill9()
        stack.restart_gateway()
        hooks = receiver.wait_for(3, timeout=60)
        with stack.client() as api:
            path = f"/v1/webhooks/{sub['id']}/deliveries"
            (delivery,) = wait_log(api, path, lambda d: d[0]["status"] == "succeeded")
    finally:
        stop_stack(stack)
    assert len(hooks) == 3
    assert len({hook.headers["webhook-id"] for hook in hooks}) == 1
    assert delivery["status"] == "succeeded"
    for hook in hooks:
        Webhook(sub["secret"]).verify(hook.body, hook.headers)


SSRF_LITERALS = [
    "http://127.0.0.1/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://10.0.0.1/hook",
    "http://100.64.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://2130706433/hook",
    "http://127.0.0.1./hook",
    "http://0x7f.1/hook",
    "http://localhost/hook",
    "http://0.0.0.0/hook",
    "http://metadata.google.internal/computeMetadata/v1/",
]


def _inside_name() -> str | None:
    """This machine's host name, when it resolves to non-public addresses only."""
    name = socket.gethostname()
    try:
        found = {info[4][0] for info in socket.getaddrinfo(name, 80)}
    except OSError:
        return None
    inside = all(not ipaddress.ip_address(a.split("%")[0]).is_global for a in found)
    return name if found and inside else None


def test_every_ssrf_case_is_refused_when_private_urls_are_not_allowed(tmp_path, make_receiver):
    stack = start_stack(tmp_path, 200, GATEWAY_ALLOW_PRIVATE_URLS="0")
    receiver = make_receiver()
    port = receiver.url.split(":")[2].split("/")[0]
    try:
        with stack.client() as api:
            for url in SSRF_LITERALS:
                response = api.post("/v1/webhooks", json={"url": url, "events": ["video.canceled"]})
                assert response.status_code == 422, url
                video = api.post("/v1/videos", json={"prompt": "x", "webhook_url": url})
                assert video.status_code == 422, url
                errors = video.json()["errors"] + response.json()["errors"]
                messages = [error["message"] for error in errors]
                assert len(messages) == 2 and len(set(messages)) == 1, url
            name = _inside_name()
            if name is None:
                return  # no name to test the delivery-time check with on this machine
            # Any other name is judged after resolving it, at delivery time: for good.
            sub = subscribe(api, f"http://{name}:{port}/hook")
            canceled_video(api)
            path = f"/v1/webhooks/{sub['id']}/deliveries"
            (delivery,) = wait_log(api, path, lambda d: bool(d) and d[0]["status"] == "dead")
    finally:
        stop_stack(stack)
    assert delivery["attempt_count"] == 1
    assert delivery["attempts"][0]["error"].startswith("refused: host resolves to a")
    assert receiver.hooks == []
