"""Dialects: the same protocol answered in the other shapes the public documents describe.

A real upstream may answer in any shape the protocol reference lists (its
section 10): other envelopes, other render documents, ADK's own ``run_sse``
framing. A ``Dialect`` is one combination of those wire choices; every field is
independent of the others, so a view asks one question ("which envelope?",
"which line ends?") and never which dialect it is in. Faults are armed on top of
any dialect.

Where each shape comes from (docs/sandbox.md has the table):
``default`` follows sections 1-8 of the protocol reference; ``references``
follows the public skill's references/api-reference.md; ``adk`` follows
google/adk-python's ``cli/adk_web_server.py``; ``liberal`` collects the loosest
forms section 10 allows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Envelope = Literal["code", "success"]
RenderStatusShape = Literal["inline", "data", "bare"]
SubmitAnswer = Literal["status", "brief"]
Keys = Literal["camel", "snake"]
StreamError = Literal["error_field", "system_event", "error_code"]
MissingSession = Literal["envelope", "detail"]
Heartbeat = Literal["comment", "event", "empty_data"]


@dataclass(frozen=True)
class Dialect:
    name: str
    # REST answers: {"code","message","data"} or {"success", "data" | "error"}.
    envelope: Envelope = "code"
    # HTTP status of a 1001 (token) error; 200 makes clients read the code.
    token_error_status: int = 401
    # Session ids: 32 hex digits, or long decimal strings ("5529798706024415232").
    digit_session_ids: bool = False
    # Upload answer: {"items": [...]} or {"files": [...], "session_state_applied": true}.
    upload_files_answer: bool = False
    # Where the unauthenticated file host lives: /media/... or /static/...
    file_prefix: str = "media"
    # Render status: "inline" (envelope + top-level status/output.url), "data"
    # (flat {id,status,progress,outputUrl,createdAt,completedAt} in the envelope),
    # "bare" (no envelope: {taskId,status,progress,output}).
    render_status: RenderStatusShape = "inline"
    # Whether a completed render names its file; without, clients use the fallback download.
    render_url: bool = True
    # Unit of render times: epoch seconds (float) or epoch milliseconds (int).
    render_times_ms: bool = False
    # Render submit answer: the status document, or {"id","status":"pending","progress":5}.
    submit_answer: SubmitAnswer = "status"
    # A submit with a known id: the same job again, or HTTP 409.
    duplicate_id_conflict: bool = False
    render_cancel: bool = True
    # A non-terminal state shown for the last part of processing (None: none).
    extra_render_state: str | None = None
    # Event keys: ADK's camelCase aliases or snake_case field names.
    event_keys: Keys = "camel"
    turn_complete: bool = True  # mark the last event of a turn
    multiline_data: bool = False  # spread one event's JSON over several data: lines
    line_end: str = "\n"
    heartbeats: tuple[Heartbeat, ...] = ("comment", "event", "empty_data")
    # An error inside a stream: data: {"error"}, an ADK system event, or errorCode/errorMessage.
    stream_error: StreamError = "error_field"
    # An unknown session on run_sse: the 1002 envelope, or ADK's 404 {"detail"}.
    missing_session: MissingSession = "envelope"
    # Share of normal replies followed by the spurious "temporary issue" text.
    trailing_issue_share: float = 0.1

    def public(self) -> dict[str, Any]:
        out = asdict(self)
        out["heartbeats"] = list(self.heartbeats)
        return out


DIALECTS: dict[str, Dialect] = {
    d.name: d
    for d in (
        Dialect("default"),
        Dialect(
            "references",
            envelope="success",
            digit_session_ids=True,
            upload_files_answer=True,
            file_prefix="static",
            render_status="data",
            render_times_ms=True,
            submit_answer="brief",
            duplicate_id_conflict=True,
            render_cancel=False,
        ),
        Dialect(
            "adk",
            turn_complete=False,
            multiline_data=True,
            line_end="\r\n",
            heartbeats=("comment",),
            stream_error="system_event",
            missing_session="detail",
        ),
        Dialect(
            "liberal",
            token_error_status=200,
            render_status="bare",
            render_url=False,
            extra_render_state="encoding",
            event_keys="snake",
            stream_error="error_code",
            trailing_issue_share=1.0,
        ),
    )
}


def dialect_named(name: str) -> Dialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise ValueError(f"unknown dialect {name!r}; one of {', '.join(DIALECTS)}") from None
