"""The async NemoVideo client: REST calls, the chat event stream, downloads.

One ``NemoClient`` (one ``httpx.AsyncClient`` and its connection pool) serves a
whole worker process: every chat stream is a coroutine holding one pooled
connection, so thousands of turns run on one event loop without a thread each.

Retries live in ``_retrying`` alone:

* 1001 (token invalid): refresh the token, retry once (anonymous tokens only);
* 429: wait ``Retry-After`` (30 s when absent, capped by ``max_retry_wait``), retry once;
* 5xx and transport errors: retried (short backoff, twice) only for idempotent
  reads: state, credits, render status, downloads.

A render submit is not retried on 5xx: the caller retries with a *new* render id
(protocol section 8). A chat message is never re-sent once it may have been
accepted: see ``stream_message``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote

import httpx

from gateway import draft as drafts
from gateway.upstream import envelope
from gateway.upstream.adk import AgentEvent
from gateway.upstream.aionet import AsyncioTransport
from gateway.upstream.auth import TokenProvider
from gateway.upstream.errors import (
    DraftNotReady,
    InsufficientCredits,
    MessageMaybeDelivered,
    ProtocolError,
    RateLimited,
    TokenInvalid,
    UpstreamError,
    UpstreamUnavailable,
)
from gateway.upstream.models import Attribution, Credits, RenderJob, SessionRef, Timeouts
from gateway.upstream.turn import APP, Turn, raise_refusal, run_body, turn_events

log = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_RATE_LIMIT_WAIT = 30.0
DEFAULT_OUTPUT = {"format": "mp4", "quality": "high"}
# Errors raised before any byte of the request left: the message was not sent.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


# Open chat streams per connection pool (see NemoClient.__init__).
STREAMS_PER_POOL = 32


@dataclass
class _StreamPool:
    http: httpx.AsyncClient
    open: int = 0


@dataclass
class _Budget:
    """What one logical call has spent of its retries."""

    refreshed: bool = False
    waited: bool = False
    failures: int = 0


class NemoClient:
    """Async client for one upstream; share one instance per process."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenProvider,
        attribution: Attribution | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: Timeouts | None = None,
        *,
        max_connections: int = 32,  # REST calls; chat streams have pools of their own
        max_retry_wait: float = 60.0,
        retry_backoff: tuple[float, ...] = (0.5, 2.0),
        web_url: str | None = None,
    ) -> None:
        self._tokens = tokens
        self._timeouts = timeout or Timeouts()
        self._max_retry_wait = max_retry_wait
        self._backoff = retry_backoff
        self._web_url = web_url.rstrip("/") if web_url else None
        self._base = httpx.URL(base_url)
        t = self._timeouts
        # One TLS context for every pool (httpx would load the CA bundle per client).
        self._client_args: dict[str, Any] = {
            "base_url": base_url,
            "headers": (attribution or Attribution()).headers(),
            "timeout": httpx.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool),
            "verify": httpx.create_ssl_context() if transport is None else True,
        }
        self._http = self._new_client(transport, max_connections)
        # REST calls wait here, not in httpcore's queue: its pool rescans every
        # queued request against every connection on each event, so two
        # thousand videos claimed at once spent the loop there (O(queue x pool)).
        self._rest_slots = asyncio.Semaphore(max_connections)
        # Chat streams hold their connection for minutes. httpcore's pool scans
        # every connection it holds on each request and each response it hands
        # out, so thousands of streams in one pool made every call O(streams)
        # and a burst of claims O(streams^2): the loop spent whole cores there.
        # (and, per idle connection, every connection again: O(pool^2)).
        # Streams therefore get pools of their own, at most STREAMS_PER_POOL
        # open connections each, and REST calls keep the main pool small.
        self._stream_pools: list[_StreamPool] = []
        self._shared_transport = transport is not None  # tests: one transport for all

    def _new_client(
        self,
        transport: httpx.AsyncBaseTransport | None,
        connections: int,
        *,
        streams: bool = False,
    ) -> httpx.AsyncClient:
        limits = httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=30.0,
        )
        if transport is None and streams:
            # Keep-alives are most of what a waiting worker reads: a plain
            # asyncio backend reads them at about half the cost of AnyIO's.
            transport = AsyncioTransport(verify=self._client_args["verify"], limits=limits)
        return httpx.AsyncClient(transport=transport, limits=limits, **self._client_args)

    def _stream_pool(self) -> _StreamPool:
        """The least busy stream pool with room, or a new one."""
        if self._shared_transport:
            if not self._stream_pools:
                self._stream_pools.append(_StreamPool(self._http))
            return self._stream_pools[0]
        best = min(self._stream_pools, key=lambda p: p.open, default=None)
        if best is None or best.open >= STREAMS_PER_POOL:
            best = _StreamPool(self._new_client(None, STREAMS_PER_POOL, streams=True))
            self._stream_pools.append(best)
        return best

    async def aclose(self) -> None:
        """Close the connection pools (the token provider is closed by its owner)."""
        for pool in self._stream_pools:
            if pool.http is not self._http:
                await pool.http.aclose()
        await self._http.aclose()

    # -- sessions and state -------------------------------------------------

    async def create_session(self, language: str | None = None) -> SessionRef:
        body: dict[str, Any] = {"task_name": "project"}
        if language:
            body["language"] = language
        data = await self._data("POST", f"/api/tasks/me/with-session/{APP}", json=body)
        task_id, session_id = data.get("task_id"), data.get("session_id")
        if not task_id or not session_id:
            raise ProtocolError("session answer lacks task_id or session_id")
        return SessionRef(task_id=str(task_id), session_id=str(session_id))

    async def claim_url(self, task_id: str, session_id: str, web_url: str) -> str:
        body = {"task_id": task_id, "session_id": session_id}
        data = await self._data("POST", "/api/auth/claim-token", json=body)
        claim = data.get("claim_token")
        if not isinstance(claim, str) or not claim:
            raise ProtocolError("claim-token answer lacks claim_token")
        return f"{web_url.rstrip('/')}/workspace/claim?ct={quote(claim, safe='')}"

    async def get_state(self, session_id: str) -> dict[str, Any]:
        path = f"/api/state/{APP}/me/{_seg(session_id)}/latest"
        data = await self._data("GET", path, idempotent=True)
        state = data.get("state", data if "draft" in data else None)
        if not isinstance(state, dict):
            raise ProtocolError("state answer lacks data.state")
        return state

    async def credits(self) -> Credits:
        data = await self._data("GET", "/api/credits/balance/simple", idempotent=True)
        return Credits.from_data(data)

    # -- uploads ------------------------------------------------------------

    async def upload_urls(self, session_id: str, urls: list[str]) -> list[dict[str, Any]]:
        body = {"urls": list(urls), "source_type": "url"}
        return _items(await self._data("POST", _upload_path(session_id), json=body))

    async def upload_file(
        self, session_id: str, path: Path, filename: str, content_type: str
    ) -> list[dict[str, Any]]:
        """Upload one file as multipart field ``files``; httpx streams it in 64 KiB chunks."""
        timeout = self._rest_timeout(read=self._timeouts.upload_read)
        with Path(path).open("rb") as handle:
            files = {"files": (filename, handle, content_type)}
            data = await self._data("POST", _upload_path(session_id), files=files, timeout=timeout)
        return _items(data)

    # -- render -------------------------------------------------------------

    async def submit_render(
        self,
        render_id: str,
        session_id: str,
        draft: dict[str, Any],
        output: dict[str, Any] | None = None,
    ) -> RenderJob:
        """Submit a render. Not retried on 5xx or transport errors: the caller retries
        once with a new ``render_id`` (a lost answer may still have started the job)."""
        if not drafts.is_ready(draft):
            raise DraftNotReady("the draft has no track with segments: generate first")
        body = {
            "id": render_id,
            "sessionId": session_id,  # camelCase: the protocol's one exception
            "draft": draft,
            "output": output or DEFAULT_OUTPUT,
        }
        payload = await self._payload("POST", "/api/render/proxy/lambda", json=body)
        return RenderJob.from_payload(payload, render_id)

    async def render_status(self, render_id: str) -> RenderJob:
        path = f"/api/render/proxy/lambda/{_seg(render_id)}"
        payload = await self._payload("GET", path, idempotent=True)
        return RenderJob.from_payload(payload, render_id)

    async def cancel_render(self, render_id: str) -> bool:
        """Ask the upstream to stop a render; best effort, never raises.

        Only one older reference documents the endpoint: a 404 or 405 means the
        upstream does not support it (False), as does any other failure.
        """
        path = f"/api/render/proxy/lambda/{_seg(render_id)}/cancel"
        try:
            await self._payload("POST", path)
        except UpstreamError as exc:
            log.info("render cancel not taken (%s, %s)", exc.code, exc.upstream_code)
            return False
        return True

    def fallback_download_url(self, render_id: str) -> str:
        return f"{str(self._base).rstrip('/')}/api/render/proxy/{_seg(render_id)}/download"

    async def download(self, url: str, dest: Path) -> tuple[int, str]:
        """Stream ``url`` into ``dest`` (temp file + rename); return (size, sha256 hex).

        The bearer token goes only to the upstream's own origin, never to the
        storage host of ``output.url`` (a presigned URL would reject it anyway).
        """
        return await self._retrying(
            lambda token: self._download_once(url, Path(dest), token), idempotent=True
        )

    # -- chat ---------------------------------------------------------------

    async def stream_message(
        self,
        session_id: str,
        text: str,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncIterator[AgentEvent]:
        """Post one chat message and yield the agent's events until the turn completes.

        Raises, before the first event (nothing accepted, safe to call again):
        the mapped ``UpstreamError`` of a JSON error answer (after one token refresh
        or one rate-limit wait), or ``UpstreamUnavailable`` when no connection could
        be made. Raises ``MessageMaybeDelivered`` when the request left but no stream
        came back, ``StreamDropped`` when the stream ends without completing: never
        re-send then, recover through the state. Keep-alives arrive as heartbeat events.
        Iterate inside ``contextlib.aclosing`` so a consumer that stops early closes
        the connection at once.

        ``before_send`` is awaited right before the request is handed to the
        connection (the token is in hand, the request built): the caller's
        durable "sent" mark goes there, so the window in which the mark says
        sent while nothing left is as small as the protocol allows.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeouts.turn
        body = run_body(session_id, text)
        pool = self._stream_pool()
        pool.open += 1
        try:
            response = await self._retrying(
                lambda token: self._open_turn(pool.http, body, token, before_send)
            )
            turn = Turn(loop.time(), self._timeouts.stream_idle)
            try:
                # Our own pools enforce the read timeout (tests' transports may not).
                silence = None if self._shared_transport else self._timeouts.stream_silence
                events_ = turn_events(response, deadline, turn, silence)
                async with aclosing(events_) as events:
                    async for event in events:
                        yield event
            finally:
                await response.aclose()
        finally:
            pool.open -= 1

    # -- internals ------------------------------------------------------------

    async def _open_turn(
        self,
        http: httpx.AsyncClient,
        body: dict[str, Any],
        token: str,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> httpx.Response:
        t = self._timeouts
        request = http.build_request(
            "POST",
            "/run_sse",
            json=body,
            headers={
                **_bearer(token),
                "Accept": "text/event-stream",
                "Cache-Control": "no-store",
            },
            timeout=httpx.Timeout(
                connect=t.connect, read=t.stream_silence, write=t.write, pool=t.pool
            ),
        )
        if before_send is not None:
            await before_send()
        try:
            response = await http.send(request, stream=True)
        except _NOT_SENT as exc:
            raise UpstreamUnavailable("could not reach the upstream: message not sent") from exc
        except httpx.TransportError as exc:
            raise MessageMaybeDelivered("the chat request failed after it was sent") from exc
        if response.is_success and _is_event_stream(response):
            return response
        try:
            await raise_refusal(response)
        finally:
            await response.aclose()

    async def _download_once(self, url: str, dest: Path, token: str) -> tuple[int, str]:
        own = self._same_origin(url)
        headers = _bearer(token) if own else {}
        timeout = self._rest_timeout(read=self._timeouts.download_read)
        request = self._http.build_request("GET", url, headers=headers, timeout=timeout)
        dest.parent.mkdir(parents=True, exist_ok=True)
        temp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        try:
            async with self._rest_slots:
                response = await self._http.send(request, stream=True, follow_redirects=True)
                try:
                    result = await _save(response, temp, own_origin=own)
                finally:
                    await response.aclose()
            os.replace(temp, dest)
            return result
        except httpx.TransportError as exc:
            host = httpx.URL(url).host or "upstream"
            raise UpstreamUnavailable(f"download from {host} failed") from exc
        finally:
            temp.unlink(missing_ok=True)

    async def _data(
        self, method: str, path: str, *, idempotent: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        return envelope.data_of(await self._payload(method, path, idempotent=idempotent, **kwargs))

    async def _payload(
        self, method: str, path: str, *, idempotent: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        async def attempt(token: str) -> dict[str, Any]:
            try:
                async with self._rest_slots:
                    response = await self._http.request(
                        method, path, headers=_bearer(token), **kwargs
                    )
            except httpx.TransportError as exc:
                raise UpstreamUnavailable(f"{method} {path} failed") from exc
            status, body = response.status_code, response.content
            if idempotent and response.is_success and envelope.decode(body) is None:
                # A garbled read (truncated JSON, a proxy's page with HTTP 200)
                # says nothing about the job: read again, like a 5xx.
                raise UpstreamUnavailable(f"{method} {path}: the answer is not a JSON object")
            return envelope.check(status, response.headers, body)

        return await self._retrying(attempt, idempotent=idempotent)

    async def _retrying(
        self, attempt: Callable[[str], Awaitable[T]], *, idempotent: bool = False
    ) -> T:
        """Run ``attempt(token)`` under the retry policy of the module docstring."""
        budget = _Budget()
        while True:
            token: str | None = None
            try:
                token = await self._tokens.get()
                return await attempt(token)
            except UpstreamError as err:
                delay = self._retry_delay(err, budget, token, idempotent)
                if delay is None:
                    self._complete(err)
                    raise
                log.info("upstream %s: retrying in %.1fs", err.code, delay)
            await asyncio.sleep(delay)

    def _retry_delay(
        self, err: UpstreamError, budget: _Budget, token: str | None, idempotent: bool
    ) -> float | None:
        if isinstance(err, TokenInvalid) and self._tokens.refreshable and not budget.refreshed:
            budget.refreshed = True
            self._tokens.invalidate(token)
            return 0.0
        if isinstance(err, RateLimited) and not budget.waited:
            budget.waited = True
            wait = DEFAULT_RATE_LIMIT_WAIT if err.retry_after is None else err.retry_after
            return min(wait, self._max_retry_wait)
        retry_failure = isinstance(err, UpstreamUnavailable) and idempotent
        if retry_failure and budget.failures < len(self._backoff):
            budget.failures += 1
            return min(self._backoff[budget.failures - 1], self._max_retry_wait)
        return None

    def _complete(self, err: UpstreamError) -> None:
        """Give an out-of-credits error its registration link when we can build one."""
        if not isinstance(err, InsufficientCredits) or err.registration_url:
            return
        bind = err.bind_id or self._tokens.bind_id
        if self._web_url and bind and self._tokens.anonymous:
            err.registration_url = f"{self._web_url}/register?bind={quote(bind, safe='')}"

    def _rest_timeout(self, *, read: float) -> httpx.Timeout:
        t = self._timeouts
        return httpx.Timeout(connect=t.connect, read=read, write=t.write, pool=t.pool)

    def _same_origin(self, url: str) -> bool:
        target = httpx.URL(url)
        if target.is_relative_url:
            return True
        base = self._base
        return (target.scheme, target.host, target.port) == (base.scheme, base.host, base.port)


async def _save(response: httpx.Response, temp: Path, *, own_origin: bool) -> tuple[int, str]:
    if not response.is_success:
        await response.aread()
        _raise_download_error(response, own_origin)
    digest, size = hashlib.sha256(), 0
    block: list[bytes] = []
    held = 0
    pending: list[concurrent.futures.Future[Any]] = []
    with temp.open("wb") as handle:
        try:
            async for chunk in response.aiter_bytes():
                block.append(chunk)
                held += len(chunk)
                size += len(chunk)
                if held >= _BLOCK_BYTES:
                    # Writing and hashing run on threads, a block behind the
                    # network (both release the GIL): the loop only gathers
                    # chunks, and stays free for the other streams. At most two
                    # blocks of one download are in memory.
                    # One buffer, so each thread takes the GIL back once a block.
                    data = b"".join(block)
                    await asyncio.gather(*map(asyncio.wrap_future, pending))
                    pending = [_SINK.submit(handle.write, data), _SINK.submit(digest.update, data)]
                    block, held = [], 0
            await asyncio.gather(*map(asyncio.wrap_future, pending))
        finally:
            concurrent.futures.wait(pending)  # never close the file under a writer
        data = b"".join(block)
        handle.write(data)
        digest.update(data)
    return size, digest.hexdigest()


# Downloads hand 1 MiB blocks to these threads (the file write and the sha256).
_BLOCK_BYTES = 1 << 20
_SINK = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="gateway-mirror")


def _raise_download_error(response: httpx.Response, own_origin: bool) -> NoReturn:
    status = response.status_code
    if own_origin:
        envelope.check(status, response.headers, response.content)
    # A storage host's 401/403 (say, an expired presigned URL) says nothing about
    # our token: it must not trigger a token refresh.
    if status >= 500:
        raise UpstreamUnavailable(f"download answered HTTP {status}", upstream_code=status)
    raise ProtocolError(f"download answered HTTP {status}", upstream_code=status)


def _items(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Upload answers are unspecified: find the list of media records, liberally."""
    for key in ("items", "files", "uploads", "media", "video_infos", "results"):
        value = data.get(key)
        if isinstance(value, list):
            return [item for item in value if isinstance(item, dict)]
    return [data] if data else []


def _is_event_stream(response: httpx.Response) -> bool:
    return "text/event-stream" in response.headers.get("content-type", "")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _seg(value: str) -> str:
    return quote(value, safe="")


def _upload_path(session_id: str) -> str:
    return f"/api/upload-video/{APP}/me/{_seg(session_id)}"
