"""Which chat messages never go to the agent (the protocol's router table). No I/O.

| the user says | the gateway does |
|---|---|
| "export", "导出", "download", "send me the video" | renders the current draft (an export video) |
| "credits", "积分", "balance", "余额" | reads the credit balance |
| "status", "状态", "show tracks" | reads the state and shows the timeline |
| anything else | sends the message to the agent |

Sending "export" to the agent would only earn a "click the Export button"
reply; the render API is the real export.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Route(StrEnum):
    CHAT = "chat"
    EXPORT = "export"
    CREDITS = "credits"
    STATUS = "status"


_RULES: tuple[tuple[Route, re.Pattern[str]], ...] = (
    (Route.EXPORT, re.compile(r"\b(?:export|download)\b|\bsend me the video\b|导出", re.I)),
    (Route.CREDITS, re.compile(r"\b(?:credits?|balance)\b|积分|余额", re.I)),
    (Route.STATUS, re.compile(r"\bstatus\b|\bshow (?:the |my )?tracks\b|状态", re.I)),
)


def route(text: str) -> Route:
    """The route of a message; the first matching rule wins, in table order."""
    for name, pattern in _RULES:
        if pattern.search(text):
            return name
    return Route.CHAT
