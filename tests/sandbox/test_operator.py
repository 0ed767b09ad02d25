"""The /_sandbox/ knobs: stats, test accounts, balances, settings, reset."""

from __future__ import annotations

import time

import httpx

from .support import ATTRIBUTION, Nemo, stats


def test_stats_count_requests_attribution_and_messages(nemo: Nemo) -> None:
    nemo.registered(credits=1000)
    nemo.new_session()
    nemo.run("hello there, what can you do?")
    s = stats(nemo.http)
    assert s["messages_posted"] == 1 and s["renders_submitted"] == 0
    assert s["sessions"][nemo.session_id]["messages_posted"] == 1
    assert s["requests"] == {"session": 1, "run_sse": 1}
    key = "/".join(ATTRIBUTION[f"X-Skill-{h}"] for h in ("Source", "Version", "Platform"))
    assert s["attribution"] == {key: 2}
    assert s["tokens_issued"] == 1
    assert s["credits_charged"] == 1000 - nemo.balance()["total"]


def test_registered_tokens_and_balances(nemo: Nemo) -> None:
    data = nemo.http.post("/_sandbox/tokens", json={"credits": 5000, "scopes": ["*"]}).json()[
        "data"
    ]
    assert data["token"].startswith("nmv_usr_") and data["credits"] == 5000
    nemo.token = data["token"]
    assert nemo.balance() == {"available": 5000, "frozen": 0, "total": 5000}
    r = nemo.http.post("/_sandbox/credits", json={"token": nemo.token, "credits": 42})
    assert r.json()["data"]["available"] == 42 and nemo.balance()["total"] == 42
    assert (
        nemo.http.post("/_sandbox/credits", json={"token": "nope", "credits": 1}).json()["code"]
        == 1001
    )


def test_config_changes_last_until_reset(http: httpx.Client) -> None:
    assert http.get("/_sandbox/config").json()["data"]["speed"] == 200
    r = http.post("/_sandbox/config", json={"speed": 50, "initial_credits": 7})
    assert r.json()["data"]["speed"] == 50
    nemo = Nemo(http)
    assert nemo.anonymous()["data"]["credits"] == 7
    assert http.post("/_sandbox/config", json={"data_dir": "/"}).status_code == 400
    http.post("/_sandbox/reset")
    assert http.get("/_sandbox/config").json()["data"]["speed"] == 200


def test_reset_forgets_tokens_sessions_and_counters(nemo: Nemo) -> None:
    nemo.anonymous()
    nemo.new_session()
    nemo.http.post("/_sandbox/reset")
    assert nemo.get("/api/credits/balance/simple").json()["code"] == 1001
    assert stats(nemo.http)["requests"] == {"credits": 1}


def test_stream_close_times_are_kept_per_session(nemo: Nemo) -> None:
    nemo.registered(credits=1000)
    nemo.new_session()
    before = time.time()
    nemo.run("hello there, what can you do?")
    closed = nemo.http.get(f"/_sandbox/sessions/{nemo.session_id}").json()["data"]
    assert len(closed["streams_closed_at"]) == 1
    assert before <= closed["streams_closed_at"][0] <= time.time()
    assert nemo.http.get("/_sandbox/sessions/nope").status_code == 404
    assert nemo.http.get("/_sandbox/renders/nope").status_code == 404
