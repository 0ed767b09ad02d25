"""Every documented run_sse stream, read from its fixture bytes: SSE framing, then events."""

from __future__ import annotations

import json

import pytest

from gateway.upstream.adk import AgentEvent, EventKind, parse_data
from gateway.upstream.sse import SSEDecoder, SSEFrame
from gateway.upstream.turn import Turn, frame_events
from tests.upstream.shapes import files, load

HB, TEXT, CALL, RESULT, ERROR, OTHER = (
    EventKind.HEARTBEAT,
    EventKind.TEXT,
    EventKind.TOOL_CALL,
    EventKind.TOOL_RESULT,
    EventKind.ERROR,
    EventKind.OTHER,
)
STREAMS = files(".sse")


def frames_of(*chunks: bytes) -> list[SSEFrame]:
    decoder = SSEDecoder()
    frames = [frame for chunk in chunks for frame in decoder.feed(chunk)]
    return frames + decoder.flush()


def events_of(raw: bytes) -> list[AgentEvent]:
    """The stream's events after its first frame (the ``: source:`` comment)."""
    frames = frames_of(raw)
    assert frames[0].comment and frames[0].data.startswith("source: ")
    return [event for frame in frames[1:] for event in frame_events(frame)]


def finished(events: list[AgentEvent]) -> bool:
    turn = Turn(0.0, 600.0)
    for event in events:
        turn.note(event, 0.0)
    return turn.finished


# -- framing -------------------------------------------------------------------------


@pytest.mark.parametrize("name", STREAMS)
def test_every_split_point_gives_the_same_frames(name):
    raw = load(name)
    whole = frames_of(raw)
    for cut in range(len(raw) + 1):
        assert frames_of(raw[:cut], raw[cut:]) == whole, f"split at byte {cut}"


@pytest.mark.parametrize("name", STREAMS)
def test_byte_by_byte_gives_the_same_frames(name):
    raw = load(name)
    assert frames_of(*(raw[i : i + 1] for i in range(len(raw)))) == frames_of(raw)


@pytest.mark.parametrize("name", ["whatwg_crlf.sse", "whatwg_cr.sse"])
def test_crlf_and_cr_read_as_lf(name):
    lf = load(name).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    assert frames_of(load(name)) == frames_of(lf)
    (text, hb) = events_of(load(name))
    assert (text.kind, text.text, hb.kind) == (TEXT, "Your video is ready.", HB)


def test_data_lines_join_with_lf_into_one_event():
    (frame,) = frames_of(load("whatwg_multiline_data.sse"))[1:]
    assert frame.data.count("\n") == 2
    (event,) = parse_data(frame.data)
    assert (event.kind, event.text) == (TEXT, "Your video is ready.")


def test_bom_id_retry_comments_and_bare_fields():
    decoder = SSEDecoder()
    raw = load("whatwg_fields.sse")
    frames = decoder.feed(raw) + decoder.flush()
    source, event, comment, empty, named = frames
    assert source.comment and source.data.startswith("source: WHATWG")  # BOM dropped
    assert (event.id, json.loads(event.data)["author"]) == ("5529798706024415232", "nemo_agent")
    assert comment == SSEFrame(data="a comment between events", comment=True)
    assert empty == SSEFrame(data="", id="5529798706024415232")  # "data" alone: empty value
    assert named == SSEFrame(event="heartbeat")  # "id" alone resets the last event id
    assert decoder.retry == 15000  # "retry: 5s" is not digits only: ignored
    assert decoder.last_event_id == ""
    assert [e.kind for f in frames for e in frame_events(f)] == [HB, TEXT, HB, HB, HB]


def test_retry_survives_repeated_keep_alive_chunks():
    decoder = SSEDecoder()
    for chunk in (b": x\n\n", b"retry: 10\n\n", b"retry: 20\n\n", b"retry: 10\n\n"):
        decoder.feed(chunk)
    assert decoder.retry == 10


def test_bom_split_across_reads():
    raw = load("whatwg_fields.sse")
    assert frames_of(raw[:1], raw[1:2], raw[2:]) == frames_of(raw)
    assert frames_of(raw[:1], raw[1:])[0].data.startswith("source: ")


def test_an_endless_stream_of_keep_alives():
    decoder = SSEDecoder()
    chunks = (b": heartbeat\n\n", b"event: heartbeat\n\n", b"data:\n\n", b":\r\n\r\n")
    kinds: set[EventKind] = set()
    for i in range(40_000):
        for frame in decoder.feed(chunks[i % len(chunks)]):
            kinds.update(event.kind for event in frame_events(frame))
    assert kinds == {HB}
    (frame,) = decoder.feed(b'data: {"content": {"parts": [{"text": "ok"}]}}\n\n')
    assert frame_events(frame)[0].text == "ok"


def test_a_stream_of_non_json_data():
    decoder = SSEDecoder()
    frames = [f for _ in range(5_000) for f in decoder.feed(b"data: not json {\n\n")]
    events = [event for frame in frames for event in frame_events(frame)]
    assert len(events) == 5_000
    assert {event.kind for event in events} == {OTHER}
    assert events[0].raw == "not json {"


# -- events ----------------------------------------------------------------------------

# (fixture, event kinds after the source line, turn finished)
KINDS = [
    ("adk_text_reply.sse", [TEXT], True),
    ("adk_tool_calls_silent.sse", [CALL, RESULT], False),
    ("adk_partial_streaming.sse", [TEXT, TEXT, TEXT], True),
    ("adk_snake_case.sse", [CALL, RESULT, TEXT], True),
    ("adk_system_error.sse", [TEXT, ERROR], True),
    ("adk14_error.sse", [TEXT, ERROR], True),
    ("adk14_error_object.sse", [ERROR], True),
    ("adk_error_code.sse", [ERROR], True),
    ("adk_finish_reason_error.sse", [TEXT, ERROR], True),
    ("adk_thought.sse", [OTHER, TEXT], True),
    ("keepalives.sse", [HB, HB, HB, TEXT], True),
    ("flat_typed_events.sse", [TEXT, CALL, RESULT, HB], False),
    ("non_json_data.sse", [OTHER, OTHER, TEXT], True),
    ("whatwg_crlf.sse", [TEXT, HB], True),
    ("whatwg_cr.sse", [TEXT, HB], True),
    ("whatwg_multiline_data.sse", [TEXT], True),
    ("whatwg_fields.sse", [TEXT, HB, HB, HB], True),
]


def test_every_stream_fixture_is_in_the_table():
    assert sorted(name for name, *_ in KINDS) == STREAMS


@pytest.mark.parametrize(("name", "kinds", "done"), KINDS)
def test_stream_event_kinds_and_completion(name, kinds, done):
    events = events_of(load(name))
    assert [event.kind for event in events] == kinds
    assert finished(events) is done


def test_camel_case_adk_reply():
    (event,) = events_of(load("adk_text_reply.sse"))
    assert event.text.startswith("Your video is ready!")
    assert (event.author, event.invocation_id) == (
        "nemo_agent",
        "e-2c1f7a9e-5b7d-4b43-9a57-0c3f1f6f3b21",
    )
    assert not event.partial and not event.turn_complete and event.is_final_answer


def test_tool_calls_keep_ids_names_args_and_responses():
    call, result = events_of(load("adk_tool_calls_silent.sse"))
    assert (call.tool_name, call.tool_id) == (
        "generate_video_with_seedance",
        "adk-5f0c6c2e-8a1b-4d7e-9a55-1f2e3d4c5b6a",
    )
    assert call.tool_args == {"prompt": "city timelapse at dusk", "duration": 10}
    assert result.tool_id == call.tool_id
    assert result.tool_response == {"status": "success", "video_id": 5529798706024415232}


def test_partial_chunks_then_the_whole_message():
    events = events_of(load("adk_partial_streaming.sse"))
    assert [(e.text, e.partial) for e in events] == [
        ("Your video ", True),
        ("is ready.", True),
        ("Your video is ready.", False),
    ]
    assert [e.is_final_answer for e in events] == [False, False, True]


def test_snake_case_keys():
    call, result, text = events_of(load("adk_snake_case.sse"))
    assert (call.tool_name, call.tool_id, call.tool_args["text"]) == (
        "edit_multitrack",
        "call-1",
        "Urban Dreams",
    )
    assert result.tool_response == {"ok": True}
    assert text.turn_complete and text.invocation_id == "e-2c1f7a9e-5b7d-4b43-9a57-0c3f1f6f3b21"


# (fixture, error, error_code): the upstream's words, "Error:" framing dropped.
ERRORS = [
    ("adk_system_error.sse",
     "429 RESOURCE_EXHAUSTED. {'error': {'code': 429, 'message': 'Resource has been exhausted "
     "(e.g. check quota).', 'status': 'RESOURCE_EXHAUSTED'}}", None),
    ("adk14_error.sse", "Session not found: 5529798706024415232", None),
    ("adk14_error_object.sse", "The model is overloaded. Please try again later.", "503"),
    ("adk_error_code.sse", "Malformed function call: generate_video_with_seedance",
     "MALFORMED_FUNCTION_CALL"),
    ("adk_finish_reason_error.sse", "The response was blocked for safety reasons.", "SAFETY"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "message", "code"), ERRORS)
def test_in_stream_errors(name, message, code):
    error = events_of(load(name))[-1]
    assert error.kind is ERROR and error.is_final_answer
    assert (error.error, error.error_code) == (message, code)


def test_system_error_keeps_author_and_is_not_text():
    error = events_of(load("adk_system_error.sse"))[-1]
    assert (error.author, error.text) == ("system", "")


@pytest.mark.parametrize(
    ("text", "kind", "error"),
    [
        ("Error: boom", ERROR, "boom"),
        ("error:  spaced out ", ERROR, "spaced out"),
        ("Error:", ERROR, "Error:"),  # nothing after the prefix: keep what was said
        ("Errors happen", TEXT, None),
        ("All good", TEXT, None),
    ],
)
def test_system_author_error_prefix(text, kind, error):
    data = json.dumps({"author": "system", "content": {"parts": [{"text": text}]}})
    (event,) = parse_data(data)
    assert (event.kind, event.error) == (kind, error)


def test_error_prefix_from_another_author_is_ordinary_text():
    data = json.dumps({"author": "nemo_agent", "content": {"parts": [{"text": "Error: x"}]}})
    assert parse_data(data)[0].kind is TEXT


def test_finish_reason_alone_is_no_error():
    data = json.dumps({"content": {"parts": [{"text": "Long"}]}, "finishReason": "MAX_TOKENS"})
    assert [e.kind for e in parse_data(data)] == [TEXT]
    data = json.dumps({"errorMessage": "odd", "finishReason": "STOP"})
    assert [(e.kind, e.error_code) for e in parse_data(data)] == [(ERROR, None)]


def test_thought_text_stays_hidden():
    thought, answer = events_of(load("adk_thought.sse"))
    assert (thought.kind, thought.text) == (OTHER, "")
    assert answer.text == "Your video is ready."


def test_flat_events_of_the_api_reference():
    text, call, result, heartbeat = events_of(load("flat_typed_events.sse"))
    assert text.text == "I'll generate your video now..."
    assert (call.tool_name, call.tool_args) == ("generate_video_with_seedance", {"prompt": "city"})
    assert result.tool_response == {"ok": True}
    assert heartbeat.kind is HB


def test_numeric_ids_become_strings():
    part = {"functionCall": {"id": 5529798706024415232, "name": "edit", "args": {}}}
    data = json.dumps({"invocationId": 42, "content": {"parts": [part]}})
    (event,) = parse_data(data)
    assert (event.tool_id, event.invocation_id) == ("5529798706024415232", "42")
