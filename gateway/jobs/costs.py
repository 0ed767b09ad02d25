"""What a chat turn costs, by the protocol's price list (section 7). No I/O.

Generation is about 100 credits, an edit about 50, a chat reply and an export
nothing. The charge is read from what the turn did, not from the balance: the
balance belongs to the whole upstream account, and turns of other sessions
running at the same time would blur a before/after reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway import draft as drafts

GENERATION = 100
EDIT = 50
_EXPECTED = {"generate": GENERATION, "edit": EDIT}
_GENERATE_TOOLS = ("generate", "create_video", "text_to_video")


def expected(kind: str) -> int:
    """The credits a video of this kind needs before its message is sent.

    A free-form message may chat (free) or generate: its cost is unknown until
    the agent acts, so it is not guarded here (the upstream refuses with 2001).
    """
    return _EXPECTED.get(kind, 0)


def charged(
    kind: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    tool_steps: Sequence[dict[str, Any]] | None = None,
) -> int:
    """The cost of a finished turn: a generation, an edit, or nothing.

    An edit is charged when the agent ran a tool on the draft even if the
    draft reads the same afterwards (a title added again, a volume set to the
    value it had): the upstream bills the edit turn, not the difference. Only
    a turn with neither a tool call nor a changed draft (a chat reply) is free.
    """
    if kind == "export":
        return 0
    names = [str(step.get("tool", "")) for step in tool_steps or ()]
    generated = any(hint in name for name in names for hint in _GENERATE_TOOLS)
    if generated or (not drafts.is_ready(before) and drafts.is_ready(after)):
        return GENERATION
    if names or drafts.diff(before, after):
        return EDIT
    return 0
