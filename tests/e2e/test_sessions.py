"""Sessions and messages: the router, translated replies, one turn at a time."""

from __future__ import annotations

import time

from tests.e2e.agent_helpers import WAIT, generate, no_gui_wording, sandbox_config, totals
from tests.e2e.conftest import Stack


def test_a_session_from_scratch_generates_then_exports_by_message(stack: Stack) -> None:
    with stack.client() as api:
        created = api.post("/v1/sessions", json={"language": "en"})
        assert created.status_code == 201
        sid = created.json()["id"]
        assert created.json()["timeline"]["ready"] is False
        r = api.post(
            f"/v1/sessions/{sid}/messages",
            json={"text": "make a 4-second video of a red fox in the snow"},
            headers=WAIT,
        )
        assert r.status_code == 200, r.text
        message = r.json()
        assert (message["route"], message["status"]) == ("chat", "succeeded")
        assert message["credits_charged"] == 100 and message["timeline"].startswith("Timeline")
        assert any(c["track_type"] == "video" for c in message["changes"])
        assert message["tool_steps"][0] == {"tool": "generate_video", "status": "ok"}
        assert message["reply"] and no_gui_wording(message["reply"])
        before = totals(stack)
        exported = api.post(f"/v1/sessions/{sid}/messages", json={"text": "export it please"})
        assert exported.status_code == 200 and exported.json()["route"] == "export"
        video_id = exported.json()["export"]["id"]
        polled = api.get(exported.headers["Location"]).json()
        assert polled["export"]["id"] == video_id
        session = api.get(f"/v1/sessions/{sid}").json()
    assert totals(stack)["messages_posted"] == before["messages_posted"]  # never sent to chat
    assert session["timeline"]["ready"] and session["credits_spent"] == 100
    assert session["claim_url"]


def test_credits_and_status_requests_never_reach_the_agent(stack: Stack) -> None:
    with stack.client() as api:
        video = generate(api, "a lighthouse with calm music")
        sid = video["session_id"]
        before = totals(stack)
        credits = api.post(f"/v1/sessions/{sid}/messages", json={"text": "what is my balance?"})
        status = api.post(f"/v1/sessions/{sid}/messages", json={"text": "show tracks"})
    assert totals(stack)["messages_posted"] == before["messages_posted"]
    assert credits.status_code == 200 and credits.json()["route"] == "credits"
    assert credits.json()["credits"]["available"] > 0
    assert status.json()["route"] == "status"
    assert status.json()["reply"] == video["timeline"] == status.json()["timeline"]


def test_gui_worded_reply_is_translated(stack: Stack) -> None:
    sandbox_config(stack, silent_edit_share=0.0)
    with stack.client() as api:
        sid = generate(api)["session_id"]
        replies = []
        for text in ("what does my project look like?", "how do I render it?"):
            r = api.post(f"/v1/sessions/{sid}/messages", json={"text": text}, headers=WAIT)
            assert r.status_code == 200, r.text
            replies.append(r.json())
    for message in replies:
        assert message["route"] == "chat" and message["status"] == "succeeded"
        assert message["reply"] and no_gui_wording(message["reply"]), message["reply"]
        assert message["credits_charged"] == 0 and message["changes"] == []
    assert "Timeline (" in replies[0]["reply"]
    assert "through the API" in replies[1]["reply"]


def test_concurrent_messages_to_one_session_are_refused(stack: Stack) -> None:
    sandbox_config(stack, silent_edit_share=0.0)
    stack.fault("run_sse", "slow", seconds=1.5)
    with stack.client() as api:
        video = generate(api)
        sid = video["session_id"]
        first = api.post(f"/v1/sessions/{sid}/messages", json={"text": "add lo-fi music at 35%"})
        assert first.status_code == 202 and first.json()["status"] in {"queued", "running"}
        second = api.post(f"/v1/sessions/{sid}/messages", json={"text": "add a title 'Hi'"})
        an_edit = api.post(f"/v1/videos/{video['id']}/edits", json={"instruction": "trim to 2s"})
        an_export = api.post(f"/v1/sessions/{sid}/exports")
        busy = api.get(f"/v1/sessions/{sid}").json()
        for refused in (second, an_edit, an_export):
            assert refused.status_code == 409 and refused.json()["code"] == "session_busy"
        assert busy["status"] == "busy" and busy["busy_with"] == first.json()["id"]
        done = _wait_message(api, first.headers["Location"])
        assert done["status"] == "succeeded" and "35%" in done["timeline"]
        again = api.post(f"/v1/sessions/{sid}/messages", json={"text": "add a title 'Hi'"})
        assert again.status_code == 202
        _wait_message(api, again.headers["Location"])
    assert stack.stats().get("messages_while_busy", 0) == 0


def _wait_message(api, url: str, timeout: float = 60) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = api.get(url).json()
        if message["status"] in {"succeeded", "failed", "canceled"}:
            return message
        time.sleep(0.1)
    raise AssertionError(f"message stuck: {message}")
