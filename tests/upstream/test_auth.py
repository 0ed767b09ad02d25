import asyncio
import json
import stat
import uuid

import httpx
import pytest

from gateway.upstream.auth import CLIENT_ID_FILE, TOKEN_FILE, TokenProvider
from gateway.upstream.errors import ProtocolError, RateLimited
from gateway.upstream.models import Attribution
from tests.upstream.helpers import FAKE_TOKEN, Recorder, fail, ok, run

BASE = "https://nemo.test"


class TokenServer:
    """Issues nmv_usr_1, nmv_usr_2, ... per anonymous-token call."""

    def __init__(self, delay: float = 0.0) -> None:
        self.issued = 0
        self.delay = delay
        self.recorder = Recorder(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/auth/anonymous-token"
        await asyncio.sleep(self.delay)
        self.issued += 1
        return ok({"token": f"nmv_usr_{self.issued}", "credits": 100})

    def provider(self, data_dir) -> TokenProvider:
        return TokenProvider(BASE, data_dir, transport=self.recorder.transport())


def test_fixed_token_makes_no_call():
    recorder = Recorder(lambda request: pytest.fail("no call expected"))
    tokens = TokenProvider(BASE, token=FAKE_TOKEN, transport=recorder.transport())

    async def scenario():
        first = await tokens.get()
        tokens.invalidate(first)
        return first, await tokens.get()

    assert run(scenario()) == (FAKE_TOKEN, FAKE_TOKEN)
    assert not tokens.refreshable and not tokens.anonymous and tokens.bind_id is None


def test_anonymous_token_is_fetched_with_a_persisted_client_id(tmp_path):
    server = TokenServer()
    tokens = server.provider(tmp_path)
    assert run(tokens.get()) == "nmv_usr_1"
    (request,) = server.recorder.requests
    client_id = (tmp_path / CLIENT_ID_FILE).read_text().strip()
    assert request.method == "POST"
    assert request.headers["X-Client-Id"] == client_id
    assert uuid.UUID(client_id).version == 4
    assert request.headers["X-Skill-Source"] == "nemo-gateway"
    assert "authorization" not in request.headers


def test_secret_files_are_private(tmp_path):
    run(TokenServer().provider(tmp_path).get())
    for name in (CLIENT_ID_FILE, TOKEN_FILE):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert json.loads((tmp_path / TOKEN_FILE).read_text())["token"] == "nmv_usr_1"


def test_a_new_provider_reuses_the_cached_token_and_client_id(tmp_path):
    server = TokenServer()
    run(server.provider(tmp_path).get())
    again = server.provider(tmp_path)
    assert run(again.get()) == "nmv_usr_1"
    assert server.issued == 1


def test_refresh_after_invalidate_keeps_the_client_id(tmp_path):
    server = TokenServer()
    first = server.provider(tmp_path)
    run(first.get())
    second = server.provider(tmp_path)  # e.g. after a restart

    async def refresh():
        stale = await second.get()
        second.invalidate(stale)
        return await second.get()

    assert run(refresh()) == "nmv_usr_2"
    ids = {r.headers["X-Client-Id"] for r in server.recorder.requests}
    assert len(ids) == 1
    assert json.loads((tmp_path / TOKEN_FILE).read_text())["token"] == "nmv_usr_2"


def test_concurrent_refresh_is_shared(tmp_path):
    server = TokenServer(delay=0.05)
    tokens = server.provider(tmp_path)

    async def caller(stale: str) -> str:
        tokens.invalidate(stale)  # this caller's request was answered 1001
        return await tokens.get()

    async def scenario():
        stale = await tokens.get()
        return await asyncio.gather(*(caller(stale) for _ in range(20)))

    assert set(run(scenario())) == {"nmv_usr_2"}
    assert server.issued == 2


def test_invalidating_an_already_replaced_token_is_a_no_op(tmp_path):
    server = TokenServer()
    tokens = server.provider(tmp_path)

    async def scenario():
        old = await tokens.get()
        tokens.invalidate(old)
        new = await tokens.get()
        tokens.invalidate(old)  # a late caller still holding the old token
        return new, await tokens.get()

    assert run(scenario()) == ("nmv_usr_2", "nmv_usr_2")


def test_token_refreshed_by_another_process_is_picked_up(tmp_path):
    server = TokenServer()
    mine, other = server.provider(tmp_path), server.provider(tmp_path)

    async def scenario():
        stale = await mine.get()
        await other.get()
        other.invalidate(stale)
        await other.get()  # the other process refreshes first: nmv_usr_2 on disk
        mine.invalidate(stale)
        return await mine.get()

    assert run(scenario()) == "nmv_usr_2"
    assert server.issued == 2


def test_http_400_on_anonymous_token_is_a_protocol_error(tmp_path):
    recorder = Recorder(lambda r: httpx.Response(400, json={"code": 400, "message": "no id"}))
    tokens = TokenProvider(BASE, tmp_path, transport=recorder.transport())
    with pytest.raises(ProtocolError):
        run(tokens.get())


def test_other_errors_are_mapped(tmp_path):
    recorder = Recorder(lambda r: fail(429, status=429, headers={"Retry-After": "3"}))
    tokens = TokenProvider(BASE, tmp_path, transport=recorder.transport())
    with pytest.raises(RateLimited):
        run(tokens.get())
    recorder = Recorder(lambda r: ok({"credits": 100}))
    tokens = TokenProvider(BASE, tmp_path, transport=recorder.transport())
    with pytest.raises(ProtocolError):
        run(tokens.get())


def test_bind_id_prefers_the_upstream_user_id(tmp_path):
    recorder = Recorder(lambda r: ok({"token": "nmv_usr_x", "user_id": "anon_42"}))
    tokens = TokenProvider(BASE, tmp_path, transport=recorder.transport())
    run(tokens.get())
    assert tokens.bind_id == "anon_42"
    assert (
        TokenProvider(BASE, tmp_path / "other").bind_id
        == TokenProvider(BASE, tmp_path / "other").client_id()
    )


def test_anonymous_mode_needs_a_data_dir():
    with pytest.raises(ValueError):
        TokenProvider(BASE)


def test_repr_reveals_no_secret(tmp_path):
    assert FAKE_TOKEN not in repr(TokenProvider(BASE, token=FAKE_TOKEN))
    tokens = TokenProvider(BASE, tmp_path)
    assert tokens.client_id() not in repr(tokens)


def test_custom_attribution_headers(tmp_path):
    server = TokenServer()
    tokens = TokenProvider(
        BASE, tmp_path, attribution=Attribution("zapier", "9", "zapier"),
        transport=server.recorder.transport(),
    )  # fmt: skip
    run(tokens.get())
    headers = server.recorder.requests[0].headers
    assert (headers["X-Skill-Source"], headers["X-Skill-Platform"]) == ("zapier", "zapier")
