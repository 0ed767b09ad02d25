"""The bearer token: a fixed NEMO_TOKEN, or an anonymous token bound to a persisted client id.

Anonymous tokens are limited to about ten per IP per week and one per client id,
so the client id (a uuid4) is created once in the data directory and reused by
every process for ever. The token itself is cached in memory and in a 0600 file,
so other processes and restarts reuse it instead of asking again. The client id
can mint tokens, so it is handled like the token: never logged, never in a repr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from pathlib import Path

import httpx

from gateway.upstream import envelope
from gateway.upstream.errors import ProtocolError, UpstreamUnavailable
from gateway.upstream.models import Attribution

log = logging.getLogger(__name__)

CLIENT_ID_FILE = "nemo_client_id"
TOKEN_FILE = "nemo_token.json"
ANONYMOUS_TOKEN_PATH = "/api/auth/anonymous-token"


class TokenProvider:
    """Hands out the current token; ``invalidate(token)`` then ``get()`` refreshes it.

    Concurrent callers share one refresh (an asyncio lock), and invalidating a token
    that was already replaced is a no-op, so a burst of 1001 answers costs one call.
    """

    def __init__(
        self,
        base_url: str,
        data_dir: str | Path | None = None,
        *,
        token: str | None = None,
        attribution: Attribution | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        if token is None and data_dir is None:
            raise ValueError("an anonymous token needs a data_dir to persist its client id")
        self._fixed = token
        self._token = token
        self._stale: str | None = None
        self._user_id: str | None = None
        self._client_id: str | None = None
        self._dir = Path(data_dir) if data_dir is not None else None
        self._lock = asyncio.Lock()
        self._http = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            headers=(attribution or Attribution()).headers(),
            timeout=timeout,
        )

    def __repr__(self) -> str:
        return f"TokenProvider(anonymous={self.anonymous})"

    @property
    def anonymous(self) -> bool:
        return self._fixed is None

    @property
    def refreshable(self) -> bool:
        """A fixed token cannot be refreshed: a 1001 on it is final."""
        return self._fixed is None

    @property
    def bind_id(self) -> str | None:
        """The id a registration link binds (anonymous users only): the upstream's
        user id when the token answer named one, else the client id."""
        if not self.anonymous:
            return None
        return self._user_id or self.client_id()

    def client_id(self) -> str:
        """The persisted client id, created on first use."""
        if self._client_id is None:
            assert self._dir is not None
            self._client_id = _load_or_create_client_id(self._dir / CLIENT_ID_FILE)
        return self._client_id

    async def get(self) -> str:
        token = self._token
        if token is not None:
            return token
        async with self._lock:
            if self._token is None:
                self._token = self._cached() or await self._fetch()
            return self._token

    def invalidate(self, token: str | None = None) -> None:
        """Forget ``token`` (the one a 1001 answer refused); a newer token is kept."""
        if self._fixed is not None or self._token is None:
            return
        if token is None or token == self._token:
            self._stale, self._token = self._token, None

    async def aclose(self) -> None:
        await self._http.aclose()

    def _cached(self) -> str | None:
        # Another process may have refreshed already: take its token unless it is the
        # one just refused.
        assert self._dir is not None
        try:
            cache = json.loads((self._dir / TOKEN_FILE).read_text())
        except (OSError, ValueError):
            return None
        token = cache.get("token") if isinstance(cache, dict) else None
        if not isinstance(token, str) or not token or token == self._stale:
            return None
        if cache.get("client_id") != self.client_id():
            return None
        self._user_id = cache.get("user_id") or None
        return token

    async def _fetch(self) -> str:
        client_id = self.client_id()
        try:
            response = await self._http.post(
                ANONYMOUS_TOKEN_PATH, headers={"X-Client-Id": client_id}
            )
        except httpx.TransportError as exc:
            raise UpstreamUnavailable("anonymous token request failed") from exc
        if response.status_code == 400:
            # Only a missing X-Client-Id gives 400, which would be our bug.
            raise ProtocolError("anonymous token refused (HTTP 400)", upstream_code=400)
        data = envelope.unwrap(response.status_code, response.headers, response.content)
        token = data.get("token")
        if not isinstance(token, str) or not token:
            raise ProtocolError("anonymous token answer has no token")
        user_id = next((data[k] for k in ("user_id", "anonymous_id", "uid") if data.get(k)), None)
        self._user_id = str(user_id) if user_id is not None else None
        self._store(token, client_id)
        log.info("obtained a new anonymous upstream token")
        return token

    def _store(self, token: str, client_id: str) -> None:
        assert self._dir is not None
        cache = {
            "token": token,
            "client_id": client_id,
            "user_id": self._user_id,
            "obtained_at": int(time.time()),
        }
        _write_private(self._dir / TOKEN_FILE, json.dumps(cache))


def _load_or_create_client_id(path: Path) -> str:
    existing = _read_stripped(path)
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _write_temp(path, str(uuid.uuid4()))
    try:
        os.link(temp, path)  # atomic create-once: concurrent processes agree on one id
    except FileExistsError:
        if not _read_stripped(path):
            os.replace(temp, path)  # an empty leftover file: repair it
    finally:
        temp.unlink(missing_ok=True)
    return _read_stripped(path)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(_write_temp(path, text), path)


def _write_temp(path: Path, text: str) -> Path:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return temp


def _read_stripped(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""
