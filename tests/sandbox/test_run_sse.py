"""POST /run_sse: the ADK wire format, two-stage generation, credits, errors."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from gateway.draft import TRACK_AUDIO, TRACK_TEXT, TRACK_VIDEO, is_ready, tracks_of

from .support import Nemo, parts, stats

PROMPT = "a 3 second video of a city at night with lo-fi music and the title 'Neon'"
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def _no_nulls(value: Any) -> bool:
    if isinstance(value, dict):
        return all(v is not None and _no_nulls(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_nulls(v) for v in value)
    return True


def _track_types(draft: dict[str, Any] | None) -> set[int]:
    return {t.get("tt") for t in tracks_of(draft)}


def test_generation_stream_speaks_adk(nemo: Nemo) -> None:
    nemo.anonymous()
    nemo.new_session()
    stream = nemo.run(PROMPT)

    assert stream.status == 200 and stream.content_type.startswith("text/event-stream")
    assert stream.events, stream.raw
    for event in stream.events:
        assert all(CAMEL.match(k) for k in event), event
        assert _no_nulls(event), event
        assert event["author"] == "nemo_agent"
        assert event["invocationId"].startswith("e-")
        assert isinstance(event["timestamp"], float)
        assert event["content"]["role"] == "model"
    assert len({e["invocationId"] for e in stream.events}) == 1
    assert stream.events[-1]["turnComplete"] is True
    assert all("turnComplete" not in e for e in stream.events[:-1])
    calls, results = stream.parts_named("functionCall"), stream.parts_named("functionResponse")
    assert calls and results
    assert {c["id"] for c in calls} >= {r["id"] for r in results}
    assert any(e["partial"] for e in stream.events if any("text" in p for p in parts(e)))
    assert stream.texts()


def test_heartbeats_fill_the_gaps_in_at_least_two_forms(nemo: Nemo) -> None:
    nemo.anonymous()
    nemo.new_session()
    stream = nemo.run(PROMPT)
    assert len(stream.heartbeats) >= 2, stream.heartbeats
    assert stats(nemo.http)["heartbeats_sent"] == sum(stream.heartbeats.values())


def test_two_stage_generation_is_visible_in_state(nemo: Nemo) -> None:
    nemo.anonymous()
    nemo.new_session()
    drafts: list[dict[str, Any] | None] = []
    stream = nemo.run(PROMPT, on_event=lambda e: drafts.append(nemo.state()["draft"]))

    raw = [d for d in drafts[:-1] if is_ready(d) and _track_types(d) == {TRACK_VIDEO}]
    assert raw, "a raw clip (video track only) shows in state before the end"
    final = nemo.state()
    assert _track_types(final["draft"]) == {TRACK_VIDEO, TRACK_AUDIO, TRACK_TEXT}
    assert final["draft"]["d"] == 3000
    assert final["canvas_config"]["ratio"] == "16:9"
    assert final["generated_media"]
    assert stream.events[-1]["turnComplete"]


def test_credits_are_frozen_during_a_turn_and_charged_after(nemo: Nemo) -> None:
    nemo.registered(credits=500)
    nemo.new_session()
    seen: list[dict[str, int]] = []
    nemo.run(PROMPT, on_event=lambda e: seen.append(nemo.balance()))

    cost = 500 - nemo.balance()["total"]
    assert cost > 0
    assert seen[0] == {"available": 500 - cost, "frozen": cost, "total": 500}
    assert nemo.balance() == {"available": 500 - cost, "frozen": 0, "total": 500 - cost}
    s = stats(nemo.http)
    assert s["credits_charged"] == cost
    assert s["sessions"][nemo.session_id]["credits_charged"] == cost
    assert s["sessions"][nemo.session_id]["messages_posted"] == 1


def test_edit_after_generation_changes_the_draft(nemo: Nemo) -> None:
    nemo.registered(credits=1000)
    nemo.new_session()
    nemo.run(PROMPT)
    before = nemo.state()["draft"]
    stream = nemo.run("remove the title")
    after = nemo.state()["draft"]
    assert stream.events[-1]["turnComplete"]
    assert TRACK_TEXT in _track_types(before) and TRACK_TEXT not in _track_types(after)
    assert stats(nemo.http)["messages_posted"] == 2


def test_silent_edits_carry_no_text(nemo: Nemo) -> None:
    nemo.http.post("/_sandbox/config", json={"silent_edit_share": 1.0}).raise_for_status()
    nemo.registered(credits=1000)
    nemo.new_session()
    nemo.run(PROMPT)
    stream = nemo.run("make the music quieter")
    assert stream.events and not stream.texts()
    assert stream.parts_named("functionCall")


def test_out_of_credits_is_an_envelope_with_a_registration_link(nemo: Nemo) -> None:
    body = nemo.anonymous()
    nemo.new_session()
    user = nemo.http.post("/_sandbox/credits", json={"token": nemo.token, "credits": 10})
    assert user.json()["data"]["available"] == 10
    stream = nemo.run(PROMPT)
    assert stream.envelope is not None and stream.envelope["code"] == 2001
    link = stream.envelope["data"]["register_url"]
    assert link.startswith("https://nemovideo.com/register?bind=")
    assert body["data"]["user_id"] in link
    assert nemo.balance() == {"available": 10, "frozen": 0, "total": 10}
    assert stats(nemo.http)["messages_posted"] == 0


def test_unknown_session_is_1002_not_a_stream(nemo: Nemo) -> None:
    nemo.anonymous()
    stream = nemo.run("hello", session_id="nope")
    assert stream.envelope is not None and stream.envelope["code"] == 1002


def test_another_users_session_is_not_found(nemo: Nemo) -> None:
    nemo.anonymous()
    sid = nemo.new_session()
    nemo.anonymous()
    assert nemo.run("hello", session_id=sid).envelope["code"] == 1002
    assert nemo.get(f"/api/state/nemo_agent/me/{sid}/latest").json()["code"] == 1002


def test_a_second_message_during_a_turn_runs_after_it_and_is_charged_too(nemo: Nemo) -> None:
    nemo.registered(credits=1000)
    nemo.new_session()
    first = threading.Thread(target=nemo.run, args=(PROMPT,))
    first.start()
    time.sleep(0.1)
    second = Nemo(nemo.http, nemo.token)
    second.session_id = nemo.session_id
    stream = second.run(PROMPT)
    first.join()
    assert stream.events[-1]["turnComplete"]
    s = stats(nemo.http)["sessions"][nemo.session_id]
    assert s["messages_posted"] == 2 and s["messages_while_busy"] == 1
    assert nemo.balance()["frozen"] == 0
    assert s["credits_charged"] == 1000 - nemo.balance()["total"]
