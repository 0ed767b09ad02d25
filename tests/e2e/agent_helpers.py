"""Shared steps of the agent-surface end-to-end tests (edits, sessions, uploads)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import Stack

WAIT = {"Prefer": "wait=60"}
GUI_WORDS = ("click", "button", "panel", "drag", "点击", "导出")


def sandbox_config(stack: Stack, **values: Any) -> None:
    httpx.post(f"{stack.upstream}/_sandbox/config", json=values).raise_for_status()


def set_balance(stack: Stack, credits: int) -> None:
    body = {"token": stack.env["NEMO_TOKEN"], "credits": credits}
    httpx.post(f"{stack.upstream}/_sandbox/credits", json=body).raise_for_status()


def generate(api: httpx.Client, prompt: str = "a paper boat on a river") -> dict[str, Any]:
    r = api.post("/v1/videos", json={"prompt": prompt, "duration_seconds": 4}, headers=WAIT)
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    return r.json()


def edit(api: httpx.Client, video_id: str, instruction: str) -> dict[str, Any]:
    r = api.post(f"/v1/videos/{video_id}/edits", json={"instruction": instruction}, headers=WAIT)
    assert r.status_code == 200, r.text
    return r.json()


def totals(stack: Stack) -> dict[str, int]:
    stats = stack.stats()
    keys = ("messages_posted", "messages_while_busy", "renders_submitted")
    return {k: stats.get(k, 0) for k in keys} | {"sessions": stats["requests"].get("session", 0)}


def no_gui_wording(text: str) -> bool:
    return not any(word in text.lower() for word in GUI_WORDS)
