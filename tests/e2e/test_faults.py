"""Every sandbox fault ends in its documented outcome, and nothing is left running.

The table is the contract written in docs/architecture.md ("Upstream faults"):
recovered faults end `succeeded`; the others end `failed` with a stable code.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Stack
from tests.processes import wait_status

TERMINAL = {"succeeded", "failed", "canceled"}

CASES = [
    # endpoint, fault, times, extra, status, error code
    ("run_sse", "sse_cut", 1, {}, "succeeded", None),
    ("run_sse", "http_429", 1, {"seconds": 0.2}, "succeeded", None),
    ("run_sse", "session_lost", 1, {}, "succeeded", None),
    ("run_sse", "out_of_credits", 1, {}, "failed", "insufficient_credits"),
    ("run_sse", "heartbeat_only", 1, {}, "failed", "generation_lost"),
    # A JSON error answer means the message was refused, so it may be sent again.
    ("run_sse", "http_500", 1, {}, "succeeded", None),
    ("run_sse", "reset", 1, {}, "failed", "generation_lost"),
    ("session", "http_500", 2, {}, "succeeded", None),
    ("session", "reset", 1, {}, "succeeded", None),
    ("claim_token", "http_500", 1, {}, "succeeded", None),
    ("state", "http_500", 2, {}, "succeeded", None),
    ("state", "slow", 1, {"seconds": 0.5}, "succeeded", None),
    ("render_submit", "render_failed", 1, {}, "succeeded", None),
    ("render_submit", "render_failed", 2, {}, "failed", "render_failed"),
    ("render_submit", "export_blocked", 1, {}, "failed", "export_blocked"),
    ("render_submit", "http_429", 1, {"seconds": 0.2}, "succeeded", None),
    ("render_status", "http_500", 2, {}, "succeeded", None),
    ("render_status", "reset", 1, {}, "succeeded", None),
    ("download", "http_500", 1, {}, "succeeded", None),
]


@pytest.mark.parametrize(
    ("endpoint", "fault", "times", "extra", "status", "code"),
    CASES,
    ids=[f"{c[0]}-{c[1]}-x{c[2]}" for c in CASES],
)
def test_fault_has_its_documented_outcome(
    stack: Stack,
    endpoint: str,
    fault: str,
    times: int,
    extra: dict,
    status: str,
    code: str | None,
) -> None:
    httpx_reset(stack)
    stack.fault(endpoint, fault, times, **extra)
    before = stack.stats()
    with stack.client() as api:
        video = api.post("/v1/videos", json={"prompt": "waves at night", "duration_seconds": 2})
        final = wait_status(api, video.json()["id"], TERMINAL, timeout=90)
    assert final["status"] == status, final["error"]
    if code is None:
        assert final["error"] is None
        assert final["output"]["size_bytes"] > 0
    else:
        assert final["error"]["code"] == code
        assert final["output"] is None
    # Never twice: whatever happened, the prompt reached the agent at most once.
    after = stack.stats()
    assert after["messages_posted"] - before["messages_posted"] <= 1


def test_no_video_is_left_unfinished(stack: Stack) -> None:
    with stack.client() as api:
        listed = api.get("/v1/videos", params={"limit": 100}).json()["data"]
    assert listed, "the fault tests above made videos"
    assert {v["status"] for v in listed} <= TERMINAL


def httpx_reset(stack: Stack) -> None:
    """Clear armed faults left by an earlier case (its video may not have used them)."""
    import httpx

    httpx.delete(f"{stack.upstream}/_sandbox/faults").raise_for_status()
