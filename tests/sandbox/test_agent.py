"""One chat turn of the sandbox agent: intent, steps, drafts, timing, wording."""

from __future__ import annotations

import copy
import re

import pytest

from gateway.draft import is_ready, summarize
from gateway.sandbox.agent import (
    STAGE_FINAL,
    STAGE_RAW,
    TRAILING_ISSUE,
    Step,
    Turn,
    classify,
    plan_turn,
)

GUI_WORDING = re.compile(
    r"click|export|open the \w+ panel|drag|preview it in the timeline|点击|导出|打开|拖拽",
    re.IGNORECASE,
)
GEN_PROMPT = (
    "generate a 30-second vertical video of a city timelapse with lo-fi music at 35% "
    'and the title "Urban Dreams"'
)


def _draft(d: int = 10000) -> dict:
    return {
        "d": d,
        "m": {"ratio": "16:9", "w": 1280, "h": 720, "fps": 24, "prompt": "p", "stage": "final"},
        "t": [
            {"tt": 0, "n": "Video", "sg": [{"s": 0, "e": d, "lb": "city timelapse"}]},
            {"tt": 1, "n": "BGM", "sg": [{"s": 0, "e": d, "lb": "Lo-fi", "v": 0.35}]},
            {"tt": 7, "n": "Title", "sg": [{"s": 0, "e": 3000, "tx": "Urban Dreams"}]},
        ],
    }


def _plan(message: str, draft: dict | None = None, **kw) -> Turn:
    kw.setdefault("session_id", "sess-1")
    kw.setdefault("turn_index", 0)
    return plan_turn(message, draft, **kw)


def _texts(turn: Turn, *, partial: bool | None = None) -> list[str]:
    return [
        p["text"]
        for s in turn.steps
        if partial is None or s.partial == partial
        for p in s.parts
        if "text" in p
    ]


def _parts(turn: Turn, kind: str) -> list[dict]:
    return [p[kind] for s in turn.steps for p in s.parts if kind in p]


def _final_text(turn: Turn) -> str:
    """The agent's answer: the last full text that is not the trailing issue message."""
    return [t for t in _texts(turn, partial=False) if t != TRAILING_ISSUE][-1]


def _total(turn: Turn) -> float:
    return sum(s.work_seconds for s in turn.steps)


# ---------------------------------------------------------------------------
# Intent
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "has_draft", "intent"),
    [
        ("generate a 30-second video of a sunset", False, "generate"),
        ("a city timelapse clip", False, "generate"),
        ("make a sunset over Paris", False, "generate"),
        ("生成一个30秒的视频", False, "generate"),
        ("hi", False, "chat"),
        ("what can you do?", False, "chat"),
        ("how many credits do I have?", False, "chat"),
        ("add lo-fi music at 35%", True, "edit"),
        ("trim to 8 seconds", True, "edit"),
        ("remove the title", True, "edit"),
        ("make a new video of dogs", True, "generate"),
        ("create another clip, this time of cats", True, "generate"),
        ("start over with a video of the sea", True, "generate"),
        ("generate a 10 second video of cats", True, "generate"),
        ("make the video 15 seconds", True, "edit"),
        ("what's in my timeline?", True, "chat"),
        ("looks great, thanks", True, "chat"),
        ("export it", True, "chat"),
        ("change the title to 'A New Intro Video'", True, "edit"),
        ("make a 'new video' sticker", True, "chat"),
    ],
)
def test_intent(message: str, has_draft: bool, intent: str) -> None:
    draft = _draft() if has_draft else None
    assert classify(message, draft)[0] == intent
    assert _plan(message, draft).intent == intent


@pytest.mark.parametrize(
    ("message", "media", "intent"),
    [
        ("use these photos", [{"id": "m1", "type": "image", "name": "a.jpg"}], "generate"),
        ("use these photos", [], "chat"),
        (
            "turn them into something nice",
            [{"id": "v", "type": "video", "name": "v.mp4"}],
            "generate",
        ),
        ("use this song", [{"id": "a", "type": "audio", "name": "a.mp3"}], "chat"),
    ],
)
def test_intent_with_uploads(message: str, media: list, intent: str) -> None:
    assert _plan(message, None, media=media).intent == intent


@pytest.mark.parametrize("empty", [{}, {"d": 0, "t": []}, {"t": [{"tt": 0, "sg": []}]}])
def test_empty_draft_counts_as_no_draft(empty: dict) -> None:
    assert _plan("a city timelapse clip", empty).intent == "generate"
    assert _plan("add lo-fi music", empty).intent == "chat"


@pytest.mark.parametrize(("intent", "message", "has_draft", "cost"), [
    ("generate", "generate a video of a cat", False, 100),
    ("edit", "add a title 'X'", True, 50),
    ("chat", "hello", False, 0),
    ("chat", "what is in my timeline?", True, 0),
])  # fmt: skip
def test_cost(intent: str, message: str, has_draft: bool, cost: int) -> None:
    turn = _plan(message, _draft() if has_draft else None)
    assert (turn.intent, turn.cost) == (intent, cost)


# ---------------------------------------------------------------------------
# Structure common to every turn
# ---------------------------------------------------------------------------

SAMPLE_TURNS = [
    (GEN_PROMPT, None),
    ("make a new video of dogs", _draft()),
    ("add a title 'Hello' and trim to 8 seconds", _draft()),
    ("remove the music", _draft()),
    ("hello", None),
    ("what's in my timeline?", _draft()),
]


@pytest.mark.parametrize(("message", "draft"), SAMPLE_TURNS)
@pytest.mark.parametrize("turn_index", range(12))
def test_turn_complete_only_on_last_step(message: str, draft: dict | None, turn_index: int) -> None:
    turn = _plan(message, draft, turn_index=turn_index)
    assert [s.turn_complete for s in turn.steps] == [False] * (len(turn.steps) - 1) + [True]
    assert all(s.work_seconds >= 0 for s in turn.steps)
    assert all(isinstance(s, Step) for s in turn.steps)


@pytest.mark.parametrize(("message", "draft"), SAMPLE_TURNS)
@pytest.mark.parametrize("turn_index", range(12))
def test_function_ids_unique_and_answered(
    message: str, draft: dict | None, turn_index: int
) -> None:
    turn = _plan(message, draft, turn_index=turn_index)
    calls = _parts(turn, "functionCall")
    responses = _parts(turn, "functionResponse")
    ids = [c["id"] for c in calls]
    assert len(ids) == len(set(ids))
    assert all(i.startswith(f"call_{turn_index}_") for i in ids)
    assert sorted(r["id"] for r in responses) == sorted(ids)
    names = {c["id"]: c["name"] for c in calls}
    assert all(names[r["id"]] == r["name"] for r in responses)
    # every call comes in an earlier step than its response
    step_of = {}
    for n, step in enumerate(turn.steps):
        for p in step.parts:
            for kind in ("functionCall", "functionResponse"):
                if kind in p:
                    step_of[(kind, p[kind]["id"])] = n
    assert all(step_of[("functionCall", i)] < step_of[("functionResponse", i)] for i in ids)


@pytest.mark.parametrize(("message", "draft"), SAMPLE_TURNS)
def test_deterministic(message: str, draft: dict | None) -> None:
    a = _plan(message, draft, turn_index=3)
    b = _plan(message, copy.deepcopy(draft), turn_index=3)
    assert a == b


def test_inputs_vary_the_plan() -> None:
    turns = [_plan(GEN_PROMPT, None, turn_index=i) for i in range(5)]
    assert len({round(_total(t), 6) for t in turns}) == 5
    other = _plan(GEN_PROMPT, None, session_id="sess-2", turn_index=0)
    assert other != turns[0]


@pytest.mark.parametrize(("message", "draft"), SAMPLE_TURNS)
def test_inputs_not_mutated(message: str, draft: dict | None) -> None:
    media = [{"id": "m1", "type": "image", "name": "a.jpg"}]
    before = (copy.deepcopy(draft), copy.deepcopy(media))
    _plan(message, draft, media=media)
    assert (draft, media) == before


@pytest.mark.parametrize(("message", "draft"), SAMPLE_TURNS)
@pytest.mark.parametrize("turn_index", range(20))
def test_partial_chunks_rebuild_the_full_text(
    message: str, draft: dict | None, turn_index: int
) -> None:
    turn = _plan(message, draft, turn_index=turn_index)
    steps = list(turn.steps)
    i = 0
    while i < len(steps):
        if steps[i].partial:
            chunks = []
            while steps[i].partial:
                chunks.extend(p["text"] for p in steps[i].parts)
                i += 1
            assert "".join(chunks) == steps[i].parts[0]["text"]
        i += 1


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


def test_generation_two_stages_in_order() -> None:
    turn = _plan(GEN_PROMPT, None)
    staged = [(s.stage, s.draft) for s in turn.steps if s.draft is not None]
    assert [stage for stage, _ in staged] == [STAGE_RAW, STAGE_FINAL]
    raw, final = staged[0][1], staged[1][1]
    assert raw != final
    assert [t["tt"] for t in raw["t"]] == [0]
    assert [t["tt"] for t in final["t"]] == [0, 1, 7]
    assert is_ready(raw) and is_ready(final)
    assert turn.final_draft == final
    assert summarize(final) == (
        "Timeline (3 tracks): 1. Video: city timelapse (0-30s) 2. BGM: Lo-fi (0-30s, 35%) "
        '3. Title: "Urban Dreams" (0-3s)'
    )
    assert final["m"]["ratio"] == "9:16"
    assert (final["m"]["w"], final["m"]["h"]) == (720, 1280)
    assert final["m"]["prompt"] == GEN_PROMPT


def test_generation_step_sequence() -> None:
    turn = _plan(GEN_PROMPT, None)
    steps = turn.steps
    call = steps[0].parts[0]["functionCall"]
    assert call["name"] == "generate_video"
    assert call["args"] == {"prompt": GEN_PROMPT, "duration": 30, "aspect_ratio": "9:16"}
    resp = steps[1].parts[0]["functionResponse"]
    assert resp["response"]["status"] == "ok"
    assert resp["response"]["clip_id"] == turn.generated_media[0]["id"]
    assert steps[1].stage == STAGE_RAW
    assert steps[2].parts == ({"text": "Raw clip ready, adding music and title..."},)
    post = [p["functionCall"]["name"] for p in steps[3].parts]
    assert post == ["add_background_music", "add_title"]
    assert steps[4].stage == STAGE_FINAL
    assert 20 <= steps[4].work_seconds <= 60
    assert steps[1].work_seconds > steps[4].work_seconds  # the raw clip is the long part


@pytest.mark.parametrize(
    ("message", "raw_text", "post_calls"),
    [
        ("a video of rain with calm music", "adding background music", ["add_background_music"]),
        ("a video of rain titled 'Rain'", "adding the title", ["add_title"]),
        ("a video of rain", "applying finishing touches", ["apply_effects"]),
    ],
)
def test_post_production_follows_the_request(
    message: str, raw_text: str, post_calls: list[str]
) -> None:
    turn = _plan(message, None)
    assert raw_text in _texts(turn)[0]
    calls = [c["name"] for c in _parts(turn, "functionCall")]
    assert calls == ["generate_video", *post_calls]


def test_generated_media_item() -> None:
    turn = _plan(GEN_PROMPT, None)
    (item,) = turn.generated_media
    assert item["type"] == "video"
    assert item["label"] == "city timelapse"
    assert item["duration_ms"] == 30000
    assert turn.final_draft["t"][0]["sg"][0]["src"] == item["id"]


@pytest.mark.parametrize("turn_index", range(40))
def test_generation_timing(turn_index: int) -> None:
    turn = _plan(GEN_PROMPT, None, turn_index=turn_index)
    assert 100 <= _total(turn) <= 300


@pytest.mark.parametrize("turn_index", range(40))
def test_generation_text_has_gui_wording(turn_index: int) -> None:
    turn = _plan(f"generate a video of a forest, take {turn_index}", None, turn_index=turn_index)
    assert not turn.silent
    assert GUI_WORDING.search(_final_text(turn))
    assert "forest" in _final_text(turn)


def test_generation_phrasings_vary() -> None:
    finals = {_final_text(_plan("a video of a forest", None, turn_index=i)) for i in range(60)}
    assert len(finals) >= 3
    assert any("点击导出" in t for t in finals)


def test_generation_replaces_existing_draft() -> None:
    turn = _plan("make a new 12 second video of dogs", _draft())
    assert turn.intent == "generate"
    assert turn.final_draft["d"] == 12000
    assert turn.final_draft["t"][0]["sg"][0]["lb"] == "dogs"


def test_generation_size_override() -> None:
    turn = _plan("a vertical video of rain", None, size=(1920, 1080))
    assert (turn.final_draft["m"]["w"], turn.final_draft["m"]["h"]) == (1080, 1920)


def test_generation_with_photos_makes_a_slideshow() -> None:
    media = [
        {"id": "m1", "type": "image", "name": "beach.jpg"},
        {"id": "m2", "type": "image", "name": "sunset.png"},
        {"id": "m3", "type": "audio", "name": "waves.mp3"},
    ]
    turn = _plan("make a 10 second slideshow of my trip", None, media=media)
    video = turn.final_draft["t"][0]["sg"]
    assert [(s["lb"], s["src"]) for s in video] == [("beach.jpg", "m1"), ("sunset.png", "m2")]
    assert [s["e"] for s in video] == [5000, 10000]
    call = _parts(turn, "functionCall")[0]
    assert call["args"]["media_ids"] == ["m1", "m2"]
    assert "slideshow of your 2 photos" in _final_text(turn)
    assert turn.final_draft["t"][1]["sg"][0]["src"] == "m3"


def test_generation_with_video_upload() -> None:
    media = [{"id": "v1", "type": "video", "name": "drone.mp4"}]
    turn = _plan("make a video from my footage", None, media=media)
    assert turn.final_draft["t"][0]["sg"] == [{"s": 0, "e": 10000, "lb": "drone.mp4", "src": "v1"}]


# ---------------------------------------------------------------------------
# Edits
# ---------------------------------------------------------------------------


def test_edit_steps_and_drafts() -> None:
    turn = _plan("add a title 'Hello' and trim to 8 seconds", _draft(), silent_edit_share=0.0)
    calls = _parts(turn, "functionCall")
    assert [c["name"] for c in calls] == ["add_title", "trim_video"]
    drafts = [s.draft for s in turn.steps if s.draft is not None]
    assert len(drafts) == 2
    assert drafts[0]["t"][2]["sg"] == [{"s": 0, "e": 3000, "tx": "Hello"}]
    assert drafts[1]["d"] == 8000
    assert turn.final_draft == drafts[1]
    text = _final_text(turn)
    assert 'added the title "Hello" (0-3s)' in text
    assert "trimmed the video from 10s to 8s" in text
    assert GUI_WORDING.search(text)


@pytest.mark.parametrize(
    ("message", "wording"),
    [
        ("add lo-fi music at 35%", "added Lo-fi background music at 35%"),
        ("set the music volume to 20%", "set the music volume to 20%"),
        ("remove the music", "removed the background music"),
        ("remove the title", "removed the title"),
        ("change the title to 'Y'", 'changed the title "Y" (0-3s)'),
        ("make it 15 seconds long", "extended the video from 10s to 15s"),
        ("cut the last 2 seconds", "trimmed the video from 10s to 8s"),
    ],
)
def test_edit_text_describes_the_change(message: str, wording: str) -> None:
    turn = _plan(message, _draft(), silent_edit_share=0.0)
    assert turn.intent == "edit"
    assert any(wording in t for t in _texts(turn, partial=False))


def test_edit_of_missing_track_says_so() -> None:
    draft = _draft()
    draft["t"] = draft["t"][:1]
    turn = _plan("remove the title", draft, silent_edit_share=0.0)
    assert any("found no title to remove" in t for t in _texts(turn))


@pytest.mark.parametrize("turn_index", range(30))
def test_silent_edit_has_no_text_but_changes_the_draft(turn_index: int) -> None:
    draft = _draft()
    turn = _plan("add lo-fi music at 50%", draft, turn_index=turn_index, silent_edit_share=1.0)
    assert turn.silent
    assert _texts(turn) == []
    assert turn.final_draft != draft
    assert turn.final_draft["t"][1]["sg"][0]["v"] == 0.5
    last = turn.steps[-1]
    assert last.turn_complete and "functionResponse" in last.parts[0]
    assert last.draft == turn.final_draft
    assert turn.cost == 50


def _silent_share(share: float, n: int = 200) -> float:
    messages = ["add lo-fi music at 35%", "trim to 8 seconds", "remove the title",
                "add a title 'Hi'", "set the music volume to 20%"]  # fmt: skip
    silent = 0
    for i in range(n):
        turn = _plan(messages[i % len(messages)], _draft(), turn_index=i, silent_edit_share=share)
        assert turn.intent == "edit"
        silent += turn.silent
    return silent / n


def test_silent_share_is_about_as_asked() -> None:
    assert 0.2 <= _silent_share(0.3) <= 0.4


@pytest.mark.parametrize(("share", "expected"), [(0.0, 0.0), (1.0, 1.0)])
def test_silent_share_extremes(share: float, expected: float) -> None:
    assert _silent_share(share) == expected


@pytest.mark.parametrize("turn_index", range(40))
@pytest.mark.parametrize("share", [0.0, 1.0])
def test_edit_timing(turn_index: int, share: float) -> None:
    turn = _plan(
        "add a title 'A', add jazz music and trim to 5 seconds",
        _draft(),
        turn_index=turn_index,
        silent_edit_share=share,
    )
    assert 10 <= _total(turn) <= 30


def test_edit_has_no_generated_media() -> None:
    assert _plan("trim to 8 seconds", _draft()).generated_media == ()


# ---------------------------------------------------------------------------
# Chat
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("turn_index", range(30))
@pytest.mark.parametrize("has_draft", [False, True])
def test_chat_is_text_only_and_short(turn_index: int, has_draft: bool) -> None:
    draft = _draft() if has_draft else None
    turn = _plan("what's in my timeline?", draft, turn_index=turn_index)
    assert turn.intent == "chat"
    assert turn.final_draft is None
    assert turn.generated_media == ()
    assert not turn.silent
    assert all(set(p) == {"text"} for s in turn.steps for p in s.parts)
    assert all(s.draft is None for s in turn.steps)
    assert 5 <= _total(turn) <= 15


def test_chat_describes_the_timeline() -> None:
    texts = {
        _texts(_plan("what's in my timeline?", _draft(), turn_index=i), partial=False)[0]
        for i in range(20)
    }
    assert all(summarize(_draft()) in t for t in texts)
    assert all(GUI_WORDING.search(t) for t in texts)


@pytest.mark.parametrize(
    ("message", "wording"),
    [
        ("how many credits do I have?", "Billing"),
        ("export it", "Export button"),
    ],
)
def test_chat_topics(message: str, wording: str) -> None:
    turn = _plan(message, _draft())
    assert wording in _texts(turn, partial=False)[0]


# ---------------------------------------------------------------------------
# Trailing "temporary issue"
# ---------------------------------------------------------------------------


def test_trailing_issue_sometimes_after_the_final_text() -> None:
    with_issue = 0
    for i in range(300):
        turn = _plan("hello", None, turn_index=i)
        texts = _texts(turn, partial=False)
        if texts[-1] == TRAILING_ISSUE:
            with_issue += 1
            last = turn.steps[-1]
            assert last.turn_complete and not last.partial
            assert texts[-2] != TRAILING_ISSUE  # a real answer came first
        assert TRAILING_ISSUE not in texts[:-1]
    assert 10 <= with_issue <= 55  # about 10% of 300


def test_silent_edits_never_have_the_trailing_issue() -> None:
    for i in range(50):
        turn = _plan("remove the title", _draft(), turn_index=i, silent_edit_share=1.0)
        assert _texts(turn) == []
