"""Every documented envelope and error answer, read from its fixture bytes."""

from __future__ import annotations

import httpx
import pytest

from gateway.upstream import envelope, turn
from gateway.upstream.errors import (
    DuplicateId,
    InsufficientCredits,
    MediaTooLarge,
    MessageMaybeDelivered,
    ProtocolError,
    SessionNotFound,
    TokenInvalid,
    UpstreamError,
    UpstreamUnavailable,
)
from gateway.upstream.models import Credits
from tests.upstream.helpers import run
from tests.upstream.shapes import files, listed, load, sse_source, status

JSON = {"content-type": "application/json"}
HTML = {"content-type": "text/html"}


def test_every_fixture_names_its_source():
    rows = listed()
    for name in files(".sse"):
        assert sse_source(load(name)), name
    for suffix in (".json", ".html", ".txt"):
        for name in files(suffix):
            assert name in rows and rows[name].source, name
    assert set(rows) <= set(files("")), "SOURCES.md lists a file that does not exist"


# (fixture, error class, upstream_code, message)
ERRORS = [
    ("envelope_code_session_not_found.json", SessionNotFound, 1002, "Session not found"),
    ("envelope_code_credits.json", InsufficientCredits, 2001, "Insufficient credits"),
    ("envelope_code_digit_string.json", TokenInvalid, 1001, "token expired"),
    ("envelope_code_duplicate_message.json", DuplicateId, 400,
     "Render id render_1763700000 already exists"),
    ("envelope_code_html_message.json", UpstreamUnavailable, 500, "500 Internal Server Error"),
    ("envelope_success_false_credits.json", InsufficientCredits, "INSUFFICIENT_CREDITS",
     "Not enough credits for this operation"),
    ("envelope_success_false_session.json", SessionNotFound, "SESSION_NOT_FOUND",
     "Session 5529798706024415232 does not exist"),
    ("envelope_success_false_token.json", TokenInvalid, "TOKEN_EXPIRED", "Token has expired"),
    ("envelope_success_false_int_code.json", MediaTooLarge, 4002, "File too large"),
    ("envelope_success_false_unknown.json", UpstreamError, "RENDER_QUEUE_FULL",
     "Render queue is full, try later"),
    ("envelope_success_false_no_error.json", UpstreamError, None,
     "the upstream reported a failure"),
    ("envelope_success_false_duplicate.json", DuplicateId, "DUPLICATE_ID",
     "Render id render_xxx is already used"),
    ("adk_404_session_not_found.json", SessionNotFound, 404, "Session not found"),
    ("fastapi_422_validation.json", ProtocolError, 422,
     "body.session_id: Field required; body.new_message.parts.0.text: "
     "Input should be a valid string"),
    ("proxy_502.html", UpstreamUnavailable, 502, "HTTP 502 Bad Gateway"),
    ("proxy_503.txt", UpstreamUnavailable, 503,
     "HTTP 503: upstream connect error or disconnect/reset before headers. "
     "reset reason: connection failure"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "cls", "code", "message"), ERRORS)
def test_error_answers_map_to_their_error(name, cls, code, message):
    with pytest.raises(UpstreamError) as info:
        envelope.unwrap(status(name), JSON, load(name))
    assert type(info.value) is cls
    assert info.value.upstream_code == code
    assert info.value.message == message


@pytest.mark.parametrize("name", [name for name, *_ in ERRORS])
def test_error_messages_are_plain_bounded_text(name):
    error = envelope.error_for(status(name), HTML, envelope.decode(load(name)), load(name))
    assert error is not None
    assert "<" not in error.message and ">" not in error.message
    assert 0 < len(error.message) <= 300


def test_named_credit_code_keeps_the_registration_details():
    with pytest.raises(InsufficientCredits) as info:
        envelope.unwrap(200, JSON, load("envelope_code_credits.json"))
    assert info.value.bind_id == "anon_abc123"


def test_duplicate_id_is_its_own_public_code():
    with pytest.raises(DuplicateId) as info:
        envelope.unwrap(409, JSON, load("envelope_success_false_duplicate.json"))
    assert (info.value.code, info.value.retryable) == ("duplicate_id", False)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("envelope_code_session.json",
         {"task_id": "task_8f1c2a", "session_id": "5529798706024415232",
          "user_id": "anon_abc123"}),
        ("envelope_success_render_submit.json",
         {"id": "render_xxx", "status": "pending", "progress": 5}),
        ("bare_object.json",
         {"token": "nmv_usr_xxxxxx", "user_id": "anon_abc123",
          "expires_at": "2026-03-18T00:00:00Z", "credits": 100}),
    ],
)  # fmt: skip
def test_success_answers_unwrap_to_their_data(name, data):
    assert envelope.unwrap(status(name), JSON, load(name)) == data


def test_success_envelope_credits():
    data = envelope.unwrap(200, JSON, load("envelope_success_credits.json"))
    credits = Credits.from_data(data)
    assert (credits.available, credits.frozen, credits.total) == (25000, 40, 25040)


@pytest.mark.parametrize(
    ("name", "cls", "refused"),
    [
        ("adk_404_session_not_found.json", SessionNotFound, True),
        ("envelope_success_false_session.json", SessionNotFound, True),
        ("envelope_code_session_not_found.json", SessionNotFound, True),
        ("fastapi_422_validation.json", ProtocolError, True),
        ("proxy_502.html", UpstreamUnavailable, False),
        ("proxy_503.txt", UpstreamUnavailable, False),
    ],
)
def test_run_sse_refusals(name, cls, refused):
    error, was_refused = turn.refusal(status(name), HTML, load(name))
    assert type(error) is cls
    assert was_refused is refused


def test_raise_refusal_adk_unknown_session_is_not_delivered():
    response = httpx.Response(404, content=load("adk_404_session_not_found.json"), headers=JSON)
    with pytest.raises(SessionNotFound) as info:
        run(turn.raise_refusal(response))
    assert not isinstance(info.value, MessageMaybeDelivered)


def test_raise_refusal_html_502_may_be_delivered():
    response = httpx.Response(502, content=load("proxy_502.html"), headers=HTML)
    with pytest.raises(MessageMaybeDelivered) as info:
        run(turn.raise_refusal(response))
    assert isinstance(info.value.__cause__, UpstreamUnavailable)
    assert info.value.__cause__.message == "HTTP 502 Bad Gateway"


@pytest.mark.parametrize(
    ("code", "expected"),
    [(0, 0), ("0", 0), ("2001", 2001), (" 1002 ", 1002), ("TOKEN_EXPIRED", "TOKEN_EXPIRED"),
     ("", None), (True, None), (None, None), (4002.0, 4002), ("success", 0), ("OK", 0)],
)  # fmt: skip
def test_envelope_code_forms(code, expected):
    assert envelope.envelope_code({"code": code}) == expected
    assert envelope.envelope_code({"success": False, "error": {"code": code}}) == expected


@pytest.mark.parametrize(
    ("name", "cls"),
    [("token-expired", TokenInvalid), ("Insufficient Credits", InsufficientCredits),
     ("session_not_found", SessionNotFound), ("already_exists", DuplicateId)],
)  # fmt: skip
def test_named_codes_are_read_whatever_their_spelling(name, cls):
    body = b'{"success": false, "error": {"code": "%s", "message": "x"}}' % name.encode()
    with pytest.raises(cls) as info:
        envelope.unwrap(200, JSON, body)
    assert info.value.upstream_code == name


@pytest.mark.parametrize(
    ("body", "failed"),
    [
        (b'{"success": true, "code": 200, "data": {}}', False),
        (b'{"success": false, "code": 0}', True),
        (b'{"code": "SUCCESS", "data": {}}', False),
        (b'{"code": 0}', False),
        (b'{"code": 7}', True),
        (b'{"status": "completed"}', False),
    ],
)
def test_the_success_flag_decides_when_present(body, failed):
    assert envelope.is_failure(envelope.decode(body)) is failed
