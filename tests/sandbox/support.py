"""Test-side helpers: the protocol calls and a line-by-line SSE reader."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

ATTRIBUTION = {
    "X-Skill-Source": "nemo-gateway-tests",
    "X-Skill-Version": "0.1.0",
    "X-Skill-Platform": "api",
}


@dataclass
class Stream:
    """A run_sse response read line by line: ADK events and the keep-alives between them."""

    status: int
    content_type: str
    events: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: dict[str, int] = field(default_factory=dict)
    raw: list[str] = field(default_factory=list)
    envelope: dict[str, Any] | None = None
    cut: bool = False

    def texts(self) -> list[str]:
        return [p["text"] for e in self.events for p in parts(e) if "text" in p]

    def parts_named(self, key: str) -> list[dict[str, Any]]:
        return [p[key] for e in self.events for p in parts(e) if key in p]


def parts(event: dict[str, Any]) -> list[dict[str, Any]]:
    return (event.get("content") or {}).get("parts") or []


def read_block(stream: Stream, block: list[str]) -> dict[str, Any] | None:
    if not block:
        return None
    if all(line.startswith(":") for line in block):
        kind = "comment"
    elif block[0].startswith("event: heartbeat"):
        kind = "event"
    elif block == ["data:"] or block == ["data: "]:
        kind = "empty_data"
    else:
        assert len(block) == 1 and block[0].startswith("data: "), block
        return json.loads(block[0][len("data: ") :])
    stream.heartbeats[kind] = stream.heartbeats.get(kind, 0) + 1
    return None


class Nemo:
    """The protocol calls the tests make, with the raw responses kept."""

    def __init__(self, http: httpx.Client, token: str | None = None) -> None:
        self.http = http
        self.token = token
        self.session_id = ""
        self.task_id = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **ATTRIBUTION}

    def anonymous(self, client_id: str | None = None) -> dict[str, Any]:
        r = self.http.post(
            "/api/auth/anonymous-token", headers={"X-Client-Id": client_id or str(uuid.uuid4())}
        )
        body = r.json()
        self.token = body["data"]["token"]
        return body

    def registered(self, credits: int = 1000, **extra: Any) -> str:
        r = self.http.post("/_sandbox/tokens", json={"credits": credits, **extra})
        self.token = r.json()["data"]["token"]
        return self.token

    def new_session(self) -> str:
        r = self.post(
            "/api/tasks/me/with-session/nemo_agent", {"task_name": "project", "language": "en"}
        )
        data = r.json()["data"]
        self.session_id, self.task_id = data["session_id"], data["task_id"]
        return self.session_id

    def post(self, path: str, body: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        return self.http.post(
            path, json=body, headers={**self.headers, **kw.pop("headers", {})}, **kw
        )

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def sse_body(self, text: str, session_id: str | None = None) -> dict[str, Any]:
        return {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": session_id or self.session_id,
            "new_message": {"role": "user", "parts": [{"text": text}]},
        }

    def run(self, text: str, on_event: Any = None, session_id: str | None = None) -> Stream:
        """Post one message and read the whole answer; ``on_event(event)`` runs mid-stream."""
        headers = {**self.headers, "Accept": "text/event-stream"}
        body = self.sse_body(text, session_id)
        with self.http.stream("POST", "/run_sse", json=body, headers=headers) as r:
            stream = Stream(r.status_code, r.headers.get("content-type", ""))
            if not stream.content_type.startswith("text/event-stream"):
                r.read()
                stream.envelope = r.json()
                return stream
            self._read(r, stream, on_event)
        return stream

    def _read(self, r: httpx.Response, stream: Stream, on_event: Any) -> None:
        block: list[str] = []
        try:
            for line in r.iter_lines():
                stream.raw.append(line)
                if line:
                    block.append(line)
                    continue
                event = read_block(stream, block)
                block = []
                if event is not None:
                    stream.events.append(event)
                    if on_event:
                        on_event(event)
        except (httpx.RemoteProtocolError, httpx.ReadError):
            stream.cut = True

    def state(self, session_id: str | None = None) -> dict[str, Any]:
        r = self.get(f"/api/state/nemo_agent/me/{session_id or self.session_id}/latest")
        return r.json()["data"]["state"]

    def balance(self) -> dict[str, int]:
        return self.get("/api/credits/balance/simple").json()["data"]


def stats(http: httpx.Client) -> dict[str, Any]:
    return http.get("/_sandbox/stats").json()["data"]


def arm(http: httpx.Client, endpoint: str, fault: str, **extra: Any) -> None:
    r = http.post("/_sandbox/faults", json={"endpoint": endpoint, "fault": fault, **extra})
    assert r.status_code == 201, r.text
