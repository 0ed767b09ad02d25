"""What the sandbox agent does with one chat message: a plan of timed steps.

``plan_turn`` decides the intent (generate, edit or chat), the tool calls, the
drafts the session goes through and the text the agent says, all from a
``random.Random`` seeded by the turn itself: the same message in the same turn
of the same session always plays out the same way. The app turns the plan into
ADK events, waiting ``work_seconds`` (under its speed factor) before each step.

Behaviour follows the protocol doc: generation takes 100-300 s in two stages
(raw clip, then post-production), edits 10-30 s of which a share reply with no
text, chat 5-15 s; the agent talks as if a GUI existed ("click the Export
button"), and now and then adds a spurious "temporary issue" message at the end.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from gateway.draft import TRACK_AUDIO, TRACK_TEXT, decode, duration_ms, is_ready, summarize
from gateway.sandbox.prompt import (
    AddMusic,
    AddTitle,
    ChangeTitleText,
    EditOp,
    RemoveMusic,
    RemoveTitle,
    ScaleMusicVolume,
    SetDuration,
    SetMusicVolume,
    TrimEnd,
    TrimStart,
    VideoSpec,
    apply_edits,
    build_draft,
    frame_size,
    parse_edit,
    parse_prompt,
    visual_media,
    without_quotes,
)

Intent = Literal["generate", "edit", "chat"]

COSTS: dict[str, int] = {"generate": 100, "edit": 50, "chat": 0}
TRAILING_ISSUE = "I encountered a temporary issue, please try again."
TRAILING_ISSUE_SHARE = 0.1
# Simulated seconds, from the doc's "typical durations"; kept inside its ranges
# with a margin so a whole turn never lands outside them.
GENERATION_SECONDS = (110.0, 290.0)
POST_PRODUCTION_SECONDS = (20.0, 60.0)
EDIT_SECONDS = (10.5, 29.5)
CHAT_SECONDS = (5.5, 14.5)

STAGE_RAW = "raw_clip_ready"
STAGE_FINAL = "post_production_done"
STAGE_EDITED = "edit_applied"


@dataclass(frozen=True)
class Step:
    work_seconds: float  # simulated seconds of work before this step is emitted
    parts: tuple[dict[str, Any], ...] = ()  # ADK content parts
    partial: bool = False  # True for streamed text chunks
    turn_complete: bool = False  # True only on the last step
    draft: dict[str, Any] | None = None  # the session draft from this step on
    stage: str | None = None  # informational: raw_clip_ready, post_production_done...


@dataclass(frozen=True)
class Turn:
    intent: Intent
    cost: int  # credits
    steps: tuple[Step, ...]
    final_draft: dict[str, Any] | None  # None => draft unchanged
    generated_media: tuple[dict[str, Any], ...]
    silent: bool  # True when no step carries text

    @property
    def total_work_seconds(self) -> float:
        return sum(step.work_seconds for step in self.steps)


def plan_turn(
    message: str,
    draft: dict[str, Any] | None,
    *,
    session_id: str,
    turn_index: int,
    silent_edit_share: float = 0.3,
    media: Sequence[dict[str, Any]] = (),
    size: tuple[int, int] | None = None,
    trailing_issue_share: float = TRAILING_ISSUE_SHARE,
) -> Turn:
    """The whole plan of one chat turn. Pure: ``draft`` and ``media`` are not changed."""
    rng = _rng(session_id, turn_index, message)
    calls = _CallIds(turn_index)
    issue = _Issue(rng, trailing_issue_share)
    intent, ops = classify(message, draft, media)
    if intent == "generate":
        return _generate(message, rng, calls, media, size, issue)
    if intent == "edit" and draft is not None:  # classify only edits a ready draft
        return _edit(draft, ops, rng, calls, silent_edit_share, issue)
    return _chat(message, draft, rng, issue)


def silenced(turn: Turn) -> Turn:
    """The same turn with every text part left out: tool calls and results only."""
    steps = []
    for step in turn.steps:
        parts = tuple(p for p in step.parts if "text" not in p)
        if parts or step.draft is not None:
            steps.append(Step(step.work_seconds, parts, False, False, step.draft, step.stage))
    return _turn(turn.intent, steps, turn.final_draft, turn.generated_media)


class _Issue:
    """Whether a reply ends with the spurious "temporary issue" text.

    The draw always consumes the same random number, whatever the share, so a
    dialect that always adds it plays the rest of the turn the same way.
    """

    def __init__(self, rng: random.Random, share: float) -> None:
        self._rng = rng
        self._share = share

    def __call__(self) -> bool:
        return self._rng.random() < self._share


# ---------------------------------------------------------------------------
# Intent
# ---------------------------------------------------------------------------

_VIDEO_WORD = (
    r"(?:\b(?:videos?|clips?|reels?|movies?|films?|animations?|footage|slideshows?|timelapse"
    r"|time-lapse|montage|scenes?|shorts|vlog|trailer|teaser|intro|outro)\b|视频|短片)"
)
_MAKE_VERB = r"\b(?:generate|create|make|produce|render|film|shoot|animate|build)\b"
_NEW_VIDEO = re.compile(
    rf"\b(?:new|another|different|fresh|second)\s+(?:[\w-]+\s+){{0,3}}?{_VIDEO_WORD}"
    r"|\bstart\s+(?:over|again)\b|\bfrom\s+scratch\b|重新生成",
    re.IGNORECASE,
)
_GENERATION = re.compile(
    rf"{_MAKE_VERB}\s+(?:me\s+)?(?:a|an|some|one)\b.{{0,80}}?{_VIDEO_WORD}|生成|制作",
    re.IGNORECASE,
)
_ABOUT_MEDIA = re.compile(
    r"\b(?:photos?|pictures?|images?|pics|uploads?|uploaded|files?|these|them|turn|use)\b",
    re.IGNORECASE,
)
# A request that starts with a making verb and is not about "it"/"this"/"the ..."
# reads as a generation even with no video word ("generate a sunset over Paris").
_MAKE_SOMETHING = re.compile(
    rf"^\s*(?:please\s+)?{_MAKE_VERB}\s+(?!(?:it|this|that|the|them)\b)\S", re.IGNORECASE
)


def classify(
    message: str, draft: dict[str, Any] | None, media: Sequence[dict[str, Any]] = ()
) -> tuple[Intent, list[EditOp]]:
    """The intent of a message, with the edit operations when it is an edit."""
    ops = parse_edit(message)
    message = without_quotes(message)  # a title "New Intro" asks for no new video
    video_like = bool(
        re.search(_VIDEO_WORD, message, re.IGNORECASE)
        or _GENERATION.search(message)
        or _MAKE_SOMETHING.search(message)
        or (visual_media(media) and _ABOUT_MEDIA.search(message))
    )
    if not is_ready(draft):  # a fresh session may hold an empty draft: nothing to edit
        return ("generate" if video_like else "chat"), []
    if _NEW_VIDEO.search(message) and video_like:
        return "generate", []
    if ops:
        return "edit", ops
    if _GENERATION.search(message) or (media and _MAKE_SOMETHING.search(message)):
        return "generate", []
    return "chat", []


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


def _generate(
    message: str,
    rng: random.Random,
    calls: _CallIds,
    media: Sequence[dict[str, Any]],
    size: tuple[int, int] | None,
    issue: _Issue,
) -> Turn:
    spec = parse_prompt(message)
    width, height = frame_size(spec.aspect_ratio, size)
    clip_id = f"clip_{rng.getrandbits(48):012x}"
    common = {"width": width, "height": height, "prompt": message, "clip_id": clip_id}
    raw = build_draft(spec, stage="raw", media=media, **common)
    final = build_draft(spec, stage="final", media=media, **common)

    gen_call = _call(calls.next(), "generate_video", _generation_args(spec, message, media))
    post_calls = [_call(calls.next(), name, args) for name, args in _post_production(final)]
    raw_result = {"status": "ok", "clip_id": clip_id, "duration_ms": raw["d"]}
    text = _generation_text(spec, final, media, rng)
    trailing = issue()

    post_work = rng.uniform(*POST_PRODUCTION_SECONDS)
    steps = [
        Step(rng.uniform(0.5, 2.0), (gen_call,)),
        Step(0.0, (_response(gen_call, raw_result),), draft=raw, stage=STAGE_RAW),
        Step(rng.uniform(0.3, 1.0), ({"text": _raw_ready_text(final)},)),
        Step(rng.uniform(0.2, 0.8), tuple(post_calls)),
        Step(
            post_work,
            tuple(_response(c, {"status": "ok"}) for c in post_calls),
            draft=final,
            stage=STAGE_FINAL,
        ),
        *_text_steps(text, rng, trailing),
    ]
    # The raw clip takes whatever is left of the turn's sampled total.
    rest = sum(s.work_seconds for s in steps)
    raw_work = max(1.0, rng.uniform(*GENERATION_SECONDS) - rest)
    steps[1] = Step(raw_work, steps[1].parts, draft=raw, stage=STAGE_RAW)
    media_item = {"id": clip_id, "type": "video", "label": spec.subject, "duration_ms": final["d"]}
    return _turn("generate", steps, final, (media_item,))


def _generation_args(
    spec: VideoSpec, message: str, media: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    args: dict[str, Any] = {
        "prompt": message,
        "duration": spec.duration_seconds,
        "aspect_ratio": spec.aspect_ratio,
    }
    visual = visual_media(media)
    if visual:
        args["media_ids"] = [m.get("id") for m in visual]
    return args


def _post_production(final: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Tool calls of the second stage, read back from the final draft."""
    out: list[tuple[str, dict[str, Any]]] = []
    for item in decode(final):
        if item.type == "audio":
            out.append(("add_background_music", {"music": item.label, "volume": item.volume}))
        elif item.type == "text":
            span = {"start": item.start_seconds, "end": item.end_seconds}
            out.append(("add_title", {"text": item.text, **span}))
    # Post-production always happens (the backend polishes on its own).
    return out or [("apply_effects", {"effects": ["color_grade", "transitions"]})]


def _raw_ready_text(final: dict[str, Any]) -> str:
    kinds = {t.type for t in decode(final)}
    if {"audio", "text"} <= kinds:
        return "Raw clip ready, adding music and title..."
    if "audio" in kinds:
        return "Raw clip ready, adding background music..."
    if "text" in kinds:
        return "Raw clip ready, adding the title..."
    return "Raw clip ready, applying finishing touches..."


def _generation_text(
    spec: VideoSpec, final: dict[str, Any], media: Sequence[dict[str, Any]], rng: random.Random
) -> str:
    what = _describe_video(spec, final, media)
    options = (
        f"Your video is ready! I made {what}. "
        "Preview it in the timeline, then click the Export button to download the MP4.",
        f"Done! I created {what}. "
        "Open the media panel to review the clip, and click Export when you're happy with it.",
        f"All set: {what}. "
        "Drag the clip on the timeline to fine-tune it, then press the Export button to download.",
        # The backend sometimes answers in Chinese, with Chinese punctuation.
        f"视频已生成！I made {what}. 在时间线中预览后，点击导出即可下载 MP4。",  # noqa: RUF001
    )
    return rng.choice(options)


def _describe_video(spec: VideoSpec, final: dict[str, Any], media: Sequence[dict[str, Any]]) -> str:
    visual = visual_media(media)
    shape = f"a {spec.duration_seconds}-second {spec.aspect_ratio}"
    if visual and all(m.get("type") == "image" for m in visual):
        what = f"{shape} slideshow of your {_count(len(visual), 'photo')}"
    elif visual:
        what = f"{shape} video from your {_count(len(visual), 'uploaded file')}"
    else:
        what = f"{shape} video of {spec.subject}"
    extras = []
    for item in decode(final):
        if item.type == "audio":
            extras.append(f"{item.label} background music")
        elif item.type == "text":
            extras.append(f'the title "{item.text}"')
    return what + (" with " + " and ".join(extras) if extras else "")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# ---------------------------------------------------------------------------
# Edits
# ---------------------------------------------------------------------------

_TOOL_NAMES: dict[type, str] = {
    AddTitle: "add_title",
    ChangeTitleText: "update_title",
    RemoveTitle: "remove_title",
    AddMusic: "set_bgm",
    SetMusicVolume: "set_bgm_volume",
    ScaleMusicVolume: "set_bgm_volume",
    RemoveMusic: "remove_bgm",
    SetDuration: "trim_video",
    TrimEnd: "trim_video",
    TrimStart: "trim_video",
}


def _edit(
    draft: dict[str, Any],
    ops: Sequence[EditOp],
    rng: random.Random,
    calls: _CallIds,
    silent_share: float,
    issue: _Issue,
) -> Turn:
    silent = rng.random() < silent_share
    steps: list[Step] = []
    changes: list[str] = []
    current = draft
    for op in ops:
        after = apply_edits(current, [op])
        call = _call(calls.next(), _TOOL_NAMES[type(op)], _op_args(op))
        change = _describe_change(op, current, after)
        changes.append(change)
        steps.append(Step(rng.uniform(0.5, 1.5), (call,)))
        result = _response(call, {"status": "ok", "result": change})
        steps.append(Step(rng.uniform(2.0, 6.0), (result,), draft=after, stage=STAGE_EDITED))
        current = after
    if not silent:
        text = f"{rng.choice(_EDIT_OPENERS)} I {_join(changes)}. {rng.choice(_EDIT_GUI)}"
        steps.extend(_text_steps(text, rng, issue()))
    steps = _scaled(steps, rng.uniform(*EDIT_SECONDS))
    return _turn("edit", steps, current, ())


_EDIT_OPENERS = ("Done!", "All done.", "Updated!", "Got it.")
_EDIT_GUI = (
    "Preview it in the timeline, then click Export to download.",
    "Open the timeline panel to check the result.",
    "You can drag the clip on the timeline to fine-tune it.",
    "满意的话点击导出即可下载。",
)


def _op_args(op: EditOp) -> dict[str, Any]:
    args = {k: v for k, v in asdict(op).items() if v is not None}
    if isinstance(op, TrimEnd | TrimStart | SetDuration):
        args["mode"] = {TrimEnd: "cut_end", TrimStart: "cut_start"}.get(type(op), "to_length")
    return args


def _describe_change(op: EditOp, before: dict[str, Any], after: dict[str, Any]) -> str:
    if isinstance(op, AddTitle | ChangeTitleText):
        title = next((t for t in decode(after) if t.type == "text"), None)
        if title is None:
            return "could not place the title"
        span = f"{_secs(title.start_seconds)}-{_secs(title.end_seconds)}s"
        verb = "added" if isinstance(op, AddTitle) else "changed"
        return f'{verb} the title "{title.text}" ({span})'
    if isinstance(op, RemoveTitle):
        return "removed the title" if _has(before, TRACK_TEXT) else "found no title to remove"
    if isinstance(op, RemoveMusic):
        had = _has(before, TRACK_AUDIO)
        return "removed the background music" if had else "found no music to remove"
    if isinstance(op, AddMusic | SetMusicVolume | ScaleMusicVolume):
        return _describe_music(op, after)
    return _describe_length(before, after)


def _describe_music(op: EditOp, after: dict[str, Any]) -> str:
    music = next((t for t in decode(after) if t.type == "audio"), None)
    if music is None:
        return "found no music to adjust"
    volume = f"{round((music.volume or 0) * 100)}%"
    if isinstance(op, AddMusic):
        return f"added {music.label} background music at {volume}"
    return f"set the music volume to {volume}"


def _describe_length(before: dict[str, Any], after: dict[str, Any]) -> str:
    old, new = duration_ms(before), duration_ms(after)
    if new < old:
        return f"trimmed the video from {_secs(old / 1000)}s to {_secs(new / 1000)}s"
    if new > old:
        return f"extended the video from {_secs(old / 1000)}s to {_secs(new / 1000)}s"
    return f"kept the video at {_secs(new / 1000)}s"


def _has(draft: dict[str, Any], kind: int) -> bool:
    wanted = {TRACK_TEXT: "text", TRACK_AUDIO: "audio"}[kind]
    return any(t.type == wanted for t in decode(draft))


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _secs(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.1f}"


# ---------------------------------------------------------------------------
# Chat
# ---------------------------------------------------------------------------

_CREDITS = re.compile(r"\b(?:credits?|balance|billing|cost|price)\b|积分|余额", re.IGNORECASE)
_EXPORT = re.compile(r"\b(?:export|download|render)\b|导出|下载", re.IGNORECASE)


def _chat(message: str, draft: dict[str, Any] | None, rng: random.Random, issue: _Issue) -> Turn:
    text = _chat_text(message, draft, rng)
    steps = _text_steps(text, rng, issue(), chunks=(2, 3))
    return _turn("chat", _scaled(steps, rng.uniform(*CHAT_SECONDS)), None, ())


def _chat_text(message: str, draft: dict[str, Any] | None, rng: random.Random) -> str:
    if _CREDITS.search(message):
        return (
            "A new video uses about 100 credits and an editing session about 50. "
            "Check your account page under Billing to see your balance."
        )
    if _EXPORT.search(message):
        if draft is None:
            return "There is nothing to export yet. Describe a video and I'll generate it first."
        return "To get your MP4, click the Export button in the top-right corner."
    if draft is None:
        return rng.choice(
            (
                'Hi! Describe the video you want, for example "a 15-second vertical video of '
                "a sunset beach with lo-fi music\", and I'll create it.",
                "I can turn a text description into a video. Tell me the scene, the length and "
                "the format, or upload photos in the media panel to make a slideshow.",
            )
        )
    summary = summarize(draft)
    return rng.choice(
        (
            f"Here's your project so far: {summary}. Open the timeline panel to preview it.",
            f"{summary}. I can add a title, change the music or trim the clip: "
            "just tell me, or drag the clip on the timeline.",
            f"Your current timeline: {summary}. Click Export when you're ready to download.",
        )
    )


# ---------------------------------------------------------------------------
# Steps and parts
# ---------------------------------------------------------------------------


class _CallIds:
    """Function call ids unique within a turn: call_<turn>_<n>."""

    def __init__(self, turn_index: int) -> None:
        self._turn = turn_index
        self._n = 0

    def next(self) -> str:
        self._n += 1
        return f"call_{self._turn}_{self._n}"


def _rng(session_id: str, turn_index: int, message: str) -> random.Random:
    key = "\x1f".join((session_id, str(turn_index), message)).encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest(), "big"))


def _call(call_id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"functionCall": {"id": call_id, "name": name, "args": args}}


def _response(call: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    fc = call["functionCall"]
    return {"functionResponse": {"id": fc["id"], "name": fc["name"], "response": response}}


def _text_steps(
    text: str, rng: random.Random, issue: bool, chunks: tuple[int, int] = (2, 4)
) -> list[Step]:
    """Streamed chunks, then the full text (ADK sends the aggregate as non-partial),
    then optionally the spurious trailing issue message; the last one completes."""
    words = re.findall(r"\S+\s*", text)
    n = max(1, min(len(words), rng.randint(*chunks)))
    bounds = [round(i * len(words) / n) for i in range(n + 1)]
    steps = [
        Step(rng.uniform(0.3, 0.8), ({"text": "".join(words[a:b])},), partial=True)
        for a, b in itertools.pairwise(bounds)
    ]
    steps.append(Step(0.1, ({"text": text},), turn_complete=not issue))
    if issue:
        steps.append(Step(rng.uniform(0.5, 2.0), ({"text": TRAILING_ISSUE},), turn_complete=True))
    return steps


def _scaled(steps: list[Step], total: float) -> list[Step]:
    """The same steps with their work stretched to add up to ``total`` seconds."""
    current = sum(s.work_seconds for s in steps) or 1.0
    factor = total / current
    return [
        Step(s.work_seconds * factor, s.parts, s.partial, s.turn_complete, s.draft, s.stage)
        for s in steps
    ]


def _turn(
    intent: Intent,
    steps: list[Step],
    final: dict[str, Any] | None,
    generated: tuple[dict[str, Any], ...],
) -> Turn:
    steps = _completed(steps)
    silent = not any("text" in part for step in steps for part in step.parts)
    return Turn(intent, COSTS[intent], tuple(steps), final, generated, silent)


def _completed(steps: list[Step]) -> list[Step]:
    """Exactly one turn_complete, on the last step."""
    last = len(steps) - 1
    return [
        Step(s.work_seconds, s.parts, s.partial, i == last, s.draft, s.stage)
        for i, s in enumerate(steps)
    ]
