"""Edits through the chat: same session, changes found by diffing the draft, then a render."""

from __future__ import annotations

import pytest

from tests.e2e.agent_helpers import (
    WAIT,
    edit,
    generate,
    no_gui_wording,
    sandbox_config,
    set_balance,
    totals,
)
from tests.e2e.conftest import Stack


@pytest.mark.parametrize("silent", [False, True], ids=["with-text", "silent"])
def test_edit_reports_the_change_with_or_without_text(stack: Stack, silent: bool) -> None:
    sandbox_config(stack, silent_edit_share=1.0 if silent else 0.0)
    with stack.client() as api:
        parent = generate(api)
        before = totals(stack)
        video = edit(api, parent["id"], "add lo-fi music at 35%")
    after = totals(stack)
    assert video["status"] == "succeeded", video
    assert (video["kind"], video["parent_id"]) == ("edit", parent["id"])
    assert video["session_id"] == parent["session_id"]
    audio = [c for c in video["changes"] if c["track_type"] == "audio"]
    assert audio and audio[0]["before"] is None and "35%" in audio[0]["after"], video["changes"]
    assert "35%" in video["timeline"] and video["output"]["sha256"]
    if silent:
        assert video["reply"] is None
    else:
        assert video["reply"] and "35%" in video["reply"] and no_gui_wording(video["reply"])
    # One message on the parent's upstream session: no new session, one new render.
    assert after["sessions"] == before["sessions"]
    assert after["messages_posted"] == before["messages_posted"] + 1
    assert after["renders_submitted"] == before["renders_submitted"] + 1


def test_title_edit_then_export_of_the_edited_session(stack: Stack) -> None:
    sandbox_config(stack, silent_edit_share=1.0)
    with stack.client() as api:
        parent = generate(api)
        titled = edit(api, parent["id"], "put the title 'Urban Dreams' in the first 3 s")
        text = [c for c in titled["changes"] if c["track_type"] == "text"]
        assert text and text[0]["after"] == 'Title: "Urban Dreams" (0-3s)', titled["changes"]
        before = totals(stack)
        r = api.post(f"/v1/sessions/{parent['session_id']}/exports", headers=WAIT)
        assert r.status_code == 200, r.text
        exported = r.json()
        session = api.get(f"/v1/sessions/{parent['session_id']}").json()
    assert exported["kind"] == "export" and exported["status"] == "succeeded"
    assert "Urban Dreams" in exported["timeline"] and exported["output"]["url"]
    assert exported["parent_id"] == titled["id"]
    assert totals(stack)["messages_posted"] == before["messages_posted"]  # no chat, no credits
    titles = [t for t in session["timeline"]["tracks"] if t["type"] == "text"]
    assert [(t["text"], t["start_seconds"], t["end_seconds"]) for t in titles] == [
        ("Urban Dreams", 0.0, 3.0)
    ]
    assert session["credits_spent"] == 150 and session["status"] == "idle"
    assert session["claim_url"].startswith("https://")


def test_only_a_succeeded_video_can_be_edited(stack: Stack) -> None:
    stack.fault("run_sse", "slow", seconds=3)
    with stack.client() as api:
        running = api.post("/v1/videos", json={"prompt": "a slow tide"}).json()
        r = api.post(f"/v1/videos/{running['id']}/edits", json={"instruction": "add a title"})
        assert r.status_code == 409 and r.json()["code"] == "parent_not_succeeded"
        missing = api.post("/v1/videos/vid_nope/edits", json={"instruction": "x"})
        assert missing.status_code == 404


def test_an_edit_the_balance_cannot_pay_for_is_never_sent(stack: Stack) -> None:
    with stack.client() as api:
        parent = generate(api)
        set_balance(stack, 10)
        try:
            before = totals(stack)
            video = edit(api, parent["id"], "add lo-fi music at 35%")
            fresh = api.post("/v1/videos", json={"prompt": "a fox"}, headers=WAIT).json()
            after = totals(stack)
        finally:
            set_balance(stack, 100_000)
        credits = api.get("/v1/credits").json()
    for refused in (video, fresh):
        assert refused["status"] == "failed"
        assert refused["error"]["code"] == "insufficient_credits", refused["error"]
    assert after["messages_posted"] == before["messages_posted"]
    assert credits["available"] == 100_000 and credits["object"] == "credits"


def test_edit_honours_idempotency_key(stack: Stack) -> None:
    sandbox_config(stack, silent_edit_share=0.0)
    with stack.client() as api:
        parent = generate(api)
        headers = {"Idempotency-Key": f"edit-{parent['id']}"}
        body = {"instruction": "make the music quieter"}
        first = api.post(f"/v1/videos/{parent['id']}/edits", json=body, headers=headers)
        again = api.post(f"/v1/videos/{parent['id']}/edits", json=body, headers=headers)
    assert first.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
