import pytest

from gateway.upstream import errors
from gateway.upstream.envelope import check, retry_after, unwrap
from gateway.upstream.errors import (
    ACCEPTED_FORMATS,
    ExportBlocked,
    InsufficientCredits,
    MediaTooLarge,
    MessageMaybeDelivered,
    ProtocolError,
    RateLimited,
    SessionNotFound,
    StreamDropped,
    TokenInvalid,
    UnsupportedMedia,
    UpstreamError,
    UpstreamUnavailable,
)

JSON = {"content-type": "application/json"}


def body(code, data=None, message="msg"):
    import json

    return json.dumps({"code": code, "message": message, "data": data}).encode()


def test_code_zero_returns_data():
    assert unwrap(200, JSON, body(0, {"task_id": "t"})) == {"task_id": "t"}


def test_missing_or_list_data_is_still_a_dict():
    assert unwrap(200, JSON, body(0, None)) == {}
    assert unwrap(200, JSON, body(0, [{"id": 1}])) == {"items": [{"id": 1}]}


def test_bare_object_without_envelope_is_returned_whole():
    assert unwrap(200, JSON, b'{"status": "completed"}') == {"status": "completed"}


@pytest.mark.parametrize(
    ("code", "cls", "public"),
    [
        (1001, TokenInvalid, "upstream_auth"),
        (1002, SessionNotFound, "session_lost"),
        (2001, InsufficientCredits, "insufficient_credits"),
        (4001, UnsupportedMedia, "unsupported_media"),
        (4002, MediaTooLarge, "media_too_large"),
        (429, RateLimited, "rate_limited"),
        (402, ExportBlocked, "export_blocked"),
        (503, UpstreamUnavailable, "upstream_unavailable"),
    ],
)
@pytest.mark.parametrize("status", [200, 400])
def test_every_envelope_code_maps_to_its_error(code, cls, public, status):
    with pytest.raises(cls) as info:
        unwrap(status, JSON, body(code, message="upstream says no"))
    assert info.value.code == public
    assert info.value.upstream_code in (code, status)
    assert info.value.message == "upstream says no"


def test_http_200_with_non_zero_code_raises():
    with pytest.raises(SessionNotFound):
        unwrap(200, JSON, body(1002))


def test_string_code_is_understood():
    with pytest.raises(TokenInvalid):
        unwrap(200, JSON, b'{"code": "1001", "message": "expired"}')


def test_unknown_code_is_the_base_error():
    with pytest.raises(UpstreamError) as info:
        unwrap(200, JSON, body(7777))
    assert type(info.value) is UpstreamError
    assert info.value.upstream_code == 7777
    assert not info.value.retryable


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, TokenInvalid),
        (402, ExportBlocked),
        (413, MediaTooLarge),
        (415, UnsupportedMedia),
        (429, RateLimited),
        (500, UpstreamUnavailable),
        (502, UpstreamUnavailable),
        (503, UpstreamUnavailable),
        (400, ProtocolError),
        (404, ProtocolError),
    ],
)
def test_http_status_without_envelope(status, cls):
    with pytest.raises(cls) as info:
        unwrap(status, {"content-type": "text/html"}, b"<html>Bad Gateway</html>")
    assert info.value.upstream_code == status
    assert "<html>" not in info.value.message


def test_http_error_with_success_envelope_still_raises():
    with pytest.raises(UpstreamUnavailable):
        unwrap(503, JSON, body(0, {}))


def test_non_json_success_is_a_protocol_error():
    with pytest.raises(ProtocolError):
        unwrap(200, {"content-type": "text/html"}, b"<html>ok</html>")
    with pytest.raises(ProtocolError):
        unwrap(200, JSON, b"[1, 2]")


def test_rate_limit_reads_retry_after_header_case_insensitively():
    with pytest.raises(RateLimited) as info:
        unwrap(429, {"Retry-After": "7"}, b"")
    assert info.value.retry_after == 7
    assert info.value.retryable


def test_retry_after_forms():
    assert retry_after({"retry-after": "0.5"}) == 0.5
    assert retry_after({}) is None
    assert retry_after({}, {"code": 429, "data": {"retry_after": 3}}) == 3
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0
    assert retry_after({"retry-after": "soon"}) is None


def test_credits_error_carries_upstream_registration_details():
    data = {"registration_url": "https://web/register?bind=u1", "user_id": "u1"}
    with pytest.raises(InsufficientCredits) as info:
        unwrap(200, JSON, body(2001, data))
    assert info.value.registration_url == "https://web/register?bind=u1"
    assert info.value.bind_id == "u1"
    assert not info.value.retryable


def test_unsupported_media_lists_formats():
    with pytest.raises(UnsupportedMedia) as info:
        unwrap(200, JSON, body(4001))
    assert info.value.accepted_formats == ACCEPTED_FORMATS
    assert "mp4" in info.value.accepted_formats
    with pytest.raises(UnsupportedMedia) as info:
        unwrap(200, JSON, body(4001, {"accepted_formats": ["mp4"]}))
    assert info.value.accepted_formats == ("mp4",)


def test_check_returns_the_whole_envelope():
    assert check(200, JSON, body(0, {"a": 1})) == {"code": 0, "message": "msg", "data": {"a": 1}}


def test_tree_and_retry_flags():
    assert issubclass(StreamDropped, MessageMaybeDelivered)
    assert issubclass(MessageMaybeDelivered, UpstreamError)
    assert not MessageMaybeDelivered("x").retryable
    assert not StreamDropped("x").retryable
    assert UpstreamUnavailable("x").retryable
    assert errors.DraftNotReady("x").code == "draft_not_ready"
    assert StreamDropped("x").code == "stream_dropped"


def test_repr_shows_codes_only():
    err = TokenInvalid("token nmv_usr_abc expired", upstream_code=1001)
    assert "nmv_usr" not in repr(err)
