"""Every fault kind, armed through /_sandbox/faults, seen from a client."""

from __future__ import annotations

import time

import httpx
import pytest

from gateway.draft import is_ready

from .support import Nemo, arm, stats
from .test_render_api import TINY, poll, submit

PROMPT = "a 2 second video of a red balloon with upbeat music"
BALANCE = "/api/credits/balance/simple"


def _ready(nemo: Nemo, credits: int = 1000) -> None:
    nemo.registered(credits=credits)
    nemo.new_session()


def test_http_429_carries_retry_after(nemo: Nemo) -> None:
    _ready(nemo)
    arm(nemo.http, "credits", "http_429", seconds=7)
    r = nemo.get(BALANCE)
    assert r.status_code == 429 and r.json()["code"] == 429 and r.headers["Retry-After"] == "7"
    assert nemo.get(BALANCE).status_code == 200  # times defaults to 1


def test_http_500_then_normal_service(nemo: Nemo) -> None:
    _ready(nemo)
    arm(nemo.http, "state", "http_500", times=2)
    for _ in range(2):
        r = nemo.get(f"/api/state/nemo_agent/me/{nemo.session_id}/latest")
        assert r.status_code == 500 and r.json()["code"] == 500
    assert nemo.get(f"/api/state/nemo_agent/me/{nemo.session_id}/latest").status_code == 200


def test_reset_drops_the_connection(nemo: Nemo) -> None:
    _ready(nemo)
    arm(nemo.http, "session", "reset")
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        nemo.post("/api/tasks/me/with-session/nemo_agent", {"task_name": "p"})
    assert nemo.get(BALANCE).status_code == 200


def test_slow_delays_the_answer(nemo: Nemo) -> None:
    _ready(nemo)
    arm(nemo.http, "credits", "slow", seconds=0.6)
    began = time.monotonic()
    assert nemo.get(BALANCE).json()["code"] == 0
    assert time.monotonic() - began >= 0.6


def test_token_expired_really_expires_the_token(nemo: Nemo) -> None:
    _ready(nemo)
    arm(nemo.http, "state", "token_expired")
    r = nemo.get(f"/api/state/nemo_agent/me/{nemo.session_id}/latest")
    assert r.status_code == 401 and r.json()["code"] == 1001
    assert nemo.get(BALANCE).json()["code"] == 1001


def test_session_lost_really_loses_the_session(nemo: Nemo) -> None:
    _ready(nemo)
    arm(nemo.http, "run_sse", "session_lost")
    assert nemo.run(PROMPT).envelope["code"] == 1002
    assert nemo.get(f"/api/state/nemo_agent/me/{nemo.session_id}/latest").json()["code"] == 1002
    assert stats(nemo.http)["messages_posted"] == 0


def test_out_of_credits(nemo: Nemo) -> None:
    _ready(nemo)
    arm(nemo.http, "run_sse", "out_of_credits")
    envelope = nemo.run(PROMPT).envelope
    assert envelope["code"] == 2001 and "topup_url" in envelope["data"]
    assert nemo.balance()["available"] == 1000


def test_export_blocked(nemo: Nemo) -> None:
    _ready(nemo)
    arm(nemo.http, "render_submit", "export_blocked")
    r = submit(nemo, "render_blocked", TINY)
    assert r.status_code == 402 and r.json()["code"] == 402
    assert stats(nemo.http)["renders_submitted"] == 0


def test_render_failed(nemo: Nemo) -> None:
    _ready(nemo)
    arm(nemo.http, "render_submit", "render_failed")
    submit(nemo, "render_bad", TINY)
    final = poll(nemo, "render_bad")[-1]
    assert final["status"] == "failed" and final["data"]["error"]
    assert "url" not in final["output"]


def test_sse_cut_leaves_the_turn_running_and_charged_once(nemo: Nemo) -> None:
    _ready(nemo)
    arm(nemo.http, "run_sse", "sse_cut")
    stream = nemo.run(PROMPT)
    assert stream.cut and 1 <= len(stream.events) <= 2
    assert not any(e.get("turnComplete") for e in stream.events)
    deadline = time.monotonic() + 10
    while nemo.balance()["frozen"] and time.monotonic() < deadline:
        time.sleep(0.05)
    draft = nemo.state()["draft"]
    assert is_ready(draft) and {t["tt"] for t in draft["t"]} == {0, 1}
    s = stats(nemo.http)
    assert s["streams_cut"] == 1 and s["messages_posted"] == 1
    assert s["credits_charged"] == 1000 - nemo.balance()["total"] > 0


def test_heartbeat_only_turn_changes_nothing_and_refunds(nemo: Nemo) -> None:
    _ready(nemo)
    arm(nemo.http, "run_sse", "heartbeat_only", seconds=0.5)
    stream = nemo.run(PROMPT)
    assert not stream.events and not stream.cut
    assert sum(stream.heartbeats.values()) >= 3
    assert nemo.state()["draft"] is None
    assert nemo.balance() == {"available": 1000, "frozen": 0, "total": 1000}
    assert stats(nemo.http)["credits_charged"] == 0


def test_wildcard_faults_fire_on_the_next_call_anywhere(nemo: Nemo) -> None:
    _ready(nemo)
    arm(nemo.http, "*", "http_500")
    assert nemo.get(BALANCE).status_code == 500
    assert nemo.get(BALANCE).status_code == 200


def test_listing_clearing_and_validation(http: httpx.Client) -> None:
    arm(http, "upload", "http_429", times=-1)
    listed = http.get("/_sandbox/faults").json()["data"]["faults"]
    assert listed == [
        {
            "endpoint": "upload",
            "kind": "http_429",
            "fault": "http_429",
            "times": -1,
            "seconds": None,
        }
    ]
    assert (
        http.post("/_sandbox/faults", json={"endpoint": "state", "fault": "sse_cut"}).status_code
        == 400
    )
    assert (
        http.post("/_sandbox/faults", json={"endpoint": "nope", "fault": "reset"}).status_code
        == 400
    )
    assert http.post("/_sandbox/faults", json={"fault": "nope"}).status_code == 400
    http.delete("/_sandbox/faults")
    assert http.get("/_sandbox/faults").json()["data"]["faults"] == []
    arm(http, "state", "http_500")
    http.post("/_sandbox/reset")
    assert http.get("/_sandbox/faults").json()["data"]["faults"] == []
    assert stats(http)["faults_fired"] == {}


def test_faults_fired_are_counted(nemo: Nemo) -> None:
    _ready(nemo)
    arm(nemo.http, "credits", "http_500")
    nemo.get(BALANCE)
    assert stats(nemo.http)["faults_fired"] == {"http_500": 1}
