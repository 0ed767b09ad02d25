import json

import pytest

from gateway.upstream.adk import (
    AgentEvent,
    EventKind,
    is_ignorable_trailer,
    parse_data,
    translate_gui,
)
from gateway.upstream.gui import classify
from gateway.upstream.sse import SSEDecoder, SSEFrame


def decode_all(*chunks: bytes) -> list[SSEFrame]:
    decoder = SSEDecoder()
    frames = []
    for chunk in chunks:
        frames += decoder.feed(chunk)
    return frames + decoder.flush()


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


# -- SSE framing ----------------------------------------------------------------


def test_one_data_event():
    assert decode_all(b'data: {"a":1}\n\n') == [SSEFrame(data='{"a":1}')]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_any_line_ending_even_split_byte_by_byte(eol):
    raw = b"event: x" + eol + b"data: one" + eol + b"data: two" + eol + eol
    assert decode_all(*bytewise(raw)) == [SSEFrame(event="x", data="one\ntwo")]


def test_crlf_split_between_chunks_is_one_line_end():
    assert decode_all(b"data: a\r", b"\n\r", b"\n") == [SSEFrame(data="a")]


def test_comment_is_reported_as_a_comment_frame():
    assert decode_all(b": heartbeat\n\n") == [SSEFrame(data="heartbeat", comment=True)]


def test_event_name_alone_dispatches():
    assert decode_all(b"event: heartbeat\n\n") == [SSEFrame(event="heartbeat")]


def test_empty_data_line_dispatches_empty_data():
    assert decode_all(b"data:\n\n") == [SSEFrame(data="")]


def test_blank_lines_alone_dispatch_nothing():
    assert decode_all(b"\n\n\n") == []


def test_utf8_split_inside_a_character_and_bom():
    raw = "\ufeffdata: 视频\n\n".encode()
    assert decode_all(*bytewise(raw)) == [SSEFrame(data="视频")]


def test_unknown_fields_ignored_and_id_kept():
    assert decode_all(b"id: 7\nretry: 10\nfoo: bar\ndata: x\n\n") == [SSEFrame(data="x", id="7")]


def test_end_of_body_dispatches_complete_lines_and_drops_a_cut_line():
    assert decode_all(b"data: whole\n") == [SSEFrame(data="whole")]
    assert decode_all(b'data: {"cut', b"") == []
    assert decode_all(b"data: a\r") == [SSEFrame(data="a")]


# -- ADK events -------------------------------------------------------------------


def event(**fields) -> str:
    return json.dumps(fields)


def content(*parts) -> dict:
    return {"role": "model", "parts": list(parts)}


@pytest.mark.parametrize(
    ("data", "name"),
    [("", ""), ("   ", ""), ("", "heartbeat"), ('{"x": 1}', "heartbeat")],
)
def test_heartbeat_forms(data, name):
    assert [e.kind for e in parse_data(data, name)] == [EventKind.HEARTBEAT]


def test_final_text_with_turn_complete():
    data = event(author="nemo_agent", content=content({"text": "Ready"}), partial=False,
                 turnComplete=True)  # fmt: skip
    (ev,) = parse_data(data)
    assert ev.kind == "text"
    assert (ev.text, ev.partial, ev.turn_complete, ev.author) == (
        "Ready",
        False,
        True,
        "nemo_agent",
    )
    assert ev.is_final_answer


def test_partial_text_and_snake_case_turn_complete():
    (ev,) = parse_data(event(content=content({"text": "Rea"}), partial=True))
    assert ev.partial and not ev.is_final_answer
    (ev,) = parse_data(event(content=content({"text": "x"}), turn_complete=True))
    assert ev.turn_complete


@pytest.mark.parametrize("key", ["functionCall", "function_call"])
def test_function_call_both_spellings(key):
    part = {key: {"id": "c1", "name": "generate_video", "args": {"prompt": "city"}}}
    (ev,) = parse_data(event(content=content(part)))
    assert ev.kind == EventKind.TOOL_CALL
    assert (ev.tool_id, ev.tool_name, ev.tool_args) == ("c1", "generate_video", {"prompt": "city"})


@pytest.mark.parametrize("key", ["functionResponse", "function_response"])
def test_function_response_both_spellings(key):
    part = {key: {"id": "c1", "name": "generate_video", "response": {"ok": True}}}
    (ev,) = parse_data(event(content=content(part)))
    assert ev.kind == EventKind.TOOL_RESULT
    assert ev.tool_response == {"ok": True}


@pytest.mark.parametrize(
    ("data", "message", "code"),
    [
        ('{"error": "model overloaded"}', "model overloaded", None),
        ('{"errorCode": "E1", "errorMessage": "bad"}', "bad", "E1"),
        ('{"error_code": "E2", "error_message": "worse"}', "worse", "E2"),
        ('{"error": {"code": 5, "message": "nested"}}', "nested", "5"),
        ('{"errorCode": "MAX_TOKENS"}', "MAX_TOKENS", "MAX_TOKENS"),
    ],
)
def test_error_forms(data, message, code):
    (ev,) = parse_data(data)
    assert ev.kind == EventKind.ERROR
    assert (ev.error, ev.error_code) == (message, code)
    assert ev.is_final_answer


def test_several_parts_give_several_events_turn_complete_on_the_last():
    parts = [
        {"text": "Working "},
        {"text": "on it"},
        {"functionCall": {"name": "edit", "args": {}}},
    ]
    events = parse_data(event(content=content(*parts), turnComplete=True))
    assert [e.kind for e in events] == ["text", "tool_call"]
    assert events[0].text == "Working on it"
    assert [e.turn_complete for e in events] == [False, True]


def test_thoughts_and_unknown_shapes_are_other():
    (ev,) = parse_data(event(content=content({"text": "hmm", "thought": True})))
    assert ev.kind == EventKind.OTHER
    assert parse_data("not json")[0].kind == EventKind.OTHER
    assert parse_data("[1]")[0].kind == EventKind.OTHER
    (ev,) = parse_data(event(turnComplete=True))
    assert ev.kind == EventKind.OTHER and ev.turn_complete


def test_event_kind_compares_with_plain_strings():
    assert AgentEvent(kind=EventKind.TEXT).kind == "text"


# -- GUI wording -------------------------------------------------------------------

TRANSLATIONS = [
    (
        "Your video is ready! Click the Export button to download it.",
        "Your video is ready! The video can be exported through the API.",
    ),
    (
        "Your video is ready, click Export to download it.",
        "Your video is ready. The video can be exported through the API.",
    ),
    (
        "I added a lo-fi track at 35% volume. You can preview it in the timeline.",
        "I added a lo-fi track at 35% volume. The track summary describes the timeline.",
    ),
    ("Open the Music panel to adjust the volume; the title runs 0-3s.", "The title runs 0-3s."),
    ("Drag the clip to reorder it.", "Further edits can be sent as a chat message."),
    (
        "Please check your account billing page for credits.",
        "The credit balance can be read through the API.",
    ),
    ("Tap the share icon.", ""),
    ("The clip is 10.5s long. Click here.", "The clip is 10.5s long."),
    (
        "Done! It shows a city timelapse and you can click Export when ready.",
        "Done! It shows a city timelapse. The video can be exported through the API.",
    ),
    ("视频已生成\uff0c点击导出按钮下载。", "视频已生成。成片可以通过 API 获取。"),
    ("已添加背景音乐。打开音乐面板可以调整音量。", "已添加背景音乐。"),
    ("拖拽片段可以调整顺序。", "如需调整请直接发送编辑指令。"),
    ("在时间轴中预览效果。", "轨道摘要描述了当前时间线。"),
    # Content descriptions stay as they are.
    (
        "I've placed the title in the timeline at 0-3s.",
        "I've placed the title in the timeline at 0-3s.",
    ),
    (
        "Timeline (2 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%)",
        "Timeline (2 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%)",
    ),
]


@pytest.mark.parametrize(("before", "after"), TRANSLATIONS)
def test_translate_gui_table(before, after):
    assert translate_gui(before) == after


@pytest.mark.parametrize("before", [b for b, _ in TRANSLATIONS])
def test_no_gui_verb_survives(before):
    out = translate_gui(before).lower()
    for word in ("click", "drag", "点击", "拖拽", "打开", "导出", "button"):
        assert word not in out


def test_replacement_phrase_appears_once_and_lines_are_kept():
    text = "Video ready.\n\nClick Export to download.\nOr press the Download button."
    out = translate_gui(text)
    assert out == "Video ready.\n\nThe video can be exported through the API."


def test_classify_names_the_rule():
    assert classify("click the Export button") == "export"
    assert classify("a calm city at night") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I encountered a temporary issue. Please try again.", True),
        ("Sorry, I encountered a temporary issue", True),
        ("遇到了临时问题", True),
        ("Your video is ready", False),
        ("I encountered a temporary issue " + "x" * 400, False),
    ],
)
def test_ignorable_trailer(text, expected):
    assert is_ignorable_trailer(text) is expected
