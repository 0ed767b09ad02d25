"""In-memory state of the sandbox: tokens, sessions, credits, renders, stats.

One lock guards everything: the sandbox serves a handful of clients, and one
lock makes every read-modify-write (freeze credits, charge, count) atomic
without reasoning about lock order. Nothing is persisted: a restart (or
``POST /_sandbox/reset``) starts from scratch, like a fresh cloud account.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from gateway.sandbox.config import SandboxConfig
from gateway.sandbox.dialects import dialect_named
from gateway.sandbox.envelope import (
    OUT_OF_CREDITS,
    ApiError,
    session_not_found,
    token_invalid,
)

ANONYMOUS_SCOPES = ("read", "write", "upload")


@dataclass
class Token:
    value: str
    user_id: str
    anonymous: bool
    scopes: tuple[str, ...]
    expires_at: float
    client_id: str | None = None

    def allows(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes


@dataclass
class Credits:
    available: int
    frozen: int = 0

    def public(self) -> dict[str, int]:
        return {
            "available": self.available,
            "frozen": self.frozen,
            "total": self.available + self.frozen,
        }


@dataclass
class Session:
    id: str
    task_id: str
    user_id: str
    task_name: str
    language: str
    draft: dict[str, Any] | None = None
    video_infos: list[dict[str, Any]] = field(default_factory=list)
    generated_media: list[dict[str, Any]] = field(default_factory=list)
    turns_started: int = 0
    turns_running: int = 0
    # Epoch seconds at which each turn's stream was closed (operators, benchmarks).
    streams_closed_at: list[float] = field(default_factory=list)
    # Turns of one session run one after the other, like one agent conversation.
    turn_lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Stats:
    totals: Counter[str] = field(default_factory=Counter)
    sessions: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    requests: Counter[str] = field(default_factory=Counter)
    attribution: Counter[str] = field(default_factory=Counter)
    missing_attribution: Counter[str] = field(default_factory=Counter)
    faults_fired: Counter[str] = field(default_factory=Counter)

    def public(self) -> dict[str, Any]:
        keys = ("messages_posted", "renders_submitted", "credits_charged")
        zeros = ("tokens_issued", "heartbeats_sent", "streams_cut", "stream_errors")
        totals = {k: 0 for k in (*keys, *zeros, "renders_cancelled")}
        totals.update(self.totals)
        return {
            **totals,
            "sessions": {sid: {k: c[k] for k in {*keys, *c}} for sid, c in self.sessions.items()},
            "requests": dict(self.requests),
            "attribution": dict(self.attribution),
            "missing_attribution": dict(self.missing_attribution),
            "faults_fired": dict(self.faults_fired),
        }


class Store:
    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self._lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.tokens: dict[str, Token] = {}
            self.by_client: dict[str, str] = {}
            self.issued_by_ip: defaultdict[str, list[float]] = defaultdict(list)
            self.credits: dict[str, Credits] = {}
            self.sessions: dict[str, Session] = {}
            self.claims: dict[str, tuple[str, str]] = {}
            self.renders: dict[str, Any] = {}
            self.stats = Stats()

    @contextmanager
    def locked(self) -> Iterator[Store]:
        with self._lock:
            yield self

    # -- tokens -----------------------------------------------------------------

    def anonymous_token(self, client_id: str, ip: str) -> Token:
        """The same token for the same client id within its life; a per-IP cap on new ones."""
        with self._lock:
            now = self.clock()
            known = self.tokens.get(self.by_client.get(client_id, ""))
            if known and known.expires_at > now:
                return known
            recent = [t for t in self.issued_by_ip[ip] if t > now - self.config.token_ttl_seconds]
            if len(recent) >= self.config.tokens_per_ip:
                retry = int(min(recent) + self.config.token_ttl_seconds - now) + 1
                raise ApiError(
                    429,
                    f"too many anonymous tokens from this address: at most "
                    f"{self.config.tokens_per_ip} per token lifetime",
                    status=429,
                    headers={"Retry-After": str(retry)},
                )
            self.issued_by_ip[ip] = [*recent, now]
            if known is not None:  # the same client id again: a new token, the same user
                token = self._renew(known)
            else:
                token = self.mint(self.config.initial_credits, ANONYMOUS_SCOPES, anonymous=True)
            token.client_id = client_id
            self.by_client[client_id] = token.value
            return token

    def mint(
        self,
        credits: int,
        scopes: tuple[str, ...],
        *,
        anonymous: bool = False,
        ttl_seconds: float | None = None,
    ) -> Token:
        with self._lock:
            user_id = ("anon_" if anonymous else "usr_") + secrets.token_hex(8)
            ttl = self.config.token_ttl_seconds if ttl_seconds is None else ttl_seconds
            token = Token(
                value="nmv_usr_" + secrets.token_urlsafe(24),
                user_id=user_id,
                anonymous=anonymous,
                scopes=tuple(scopes),
                expires_at=self.clock() + ttl,
            )
            self.tokens[token.value] = token
            self.credits[user_id] = Credits(available=int(credits))
            self.stats.totals["tokens_issued"] += 1
            return token

    def _renew(self, expired: Token) -> Token:
        """A fresh token for an expired one's user: its sessions, renders and credits stay.

        The protocol's recovery from 1001 ("a new anonymous token with the same
        X-Client-Id, retry once") only works if the retry still finds the work.
        """
        token = Token(
            value="nmv_usr_" + secrets.token_urlsafe(24),
            user_id=expired.user_id,
            anonymous=expired.anonymous,
            scopes=expired.scopes,
            expires_at=self.clock() + self.config.token_ttl_seconds,
        )
        self.tokens[token.value] = token
        self.stats.totals["tokens_issued"] += 1
        return token

    def resolve(self, value: str | None) -> Token:
        with self._lock:
            token = self.tokens.get(value or "")
            if token is None or token.expires_at <= self.clock():
                raise token_invalid()
            return token

    def expire(self, value: str) -> None:
        with self._lock:
            if value in self.tokens:
                self.tokens[value].expires_at = 0.0

    # -- sessions ---------------------------------------------------------------

    def create_session(self, user_id: str, task_name: str, language: str) -> Session:
        with self._lock:
            session = Session(
                id=self._session_id(),
                task_id="task_" + secrets.token_hex(8),
                user_id=user_id,
                task_name=task_name,
                language=language,
            )
            self.sessions[session.id] = session
            return session

    def _session_id(self) -> str:
        if dialect_named(self.config.dialect).digit_session_ids:
            # 19 digits, like "5529798706024415232": too big for a float, so
            # only a client that keeps ids as strings reads them right.
            return str(10**18 + secrets.randbelow(9 * 10**18))
        return secrets.token_hex(16)

    def session(self, user_id: str, session_id: str | None) -> Session:
        """The caller's session; another user's session is "not found" too."""
        with self._lock:
            session = self.sessions.get(session_id or "")
            if session is None or session.user_id != user_id:
                raise session_not_found(session_id)
            return session

    def drop_session(self, session_id: str) -> None:
        with self._lock:
            self.sessions.pop(session_id, None)

    def claim(self, user_id: str, task_id: str, session_id: str) -> str:
        with self._lock:
            session = self.session(user_id, session_id)
            if session.task_id != task_id:
                raise session_not_found(session_id)
            claim = "clm_" + secrets.token_urlsafe(18)
            self.claims[claim] = (task_id, session_id)
            return claim

    def begin_turn(self, token: Token, session: Session, cost: int) -> int:
        """Freeze the turn's cost and count the message; the turn index it gets."""
        with self._lock:
            self.freeze(token, cost)
            if session.turns_running:
                self.count("messages_while_busy", session.id)
            session.turns_running += 1
            session.turns_started += 1
            self.count("messages_posted", session.id)
            return session.turns_started - 1

    def turn_ended(self, session_id: str) -> None:
        with self._lock:
            session = self.sessions.get(session_id)
            if session is not None:
                session.turns_running -= 1

    def stream_closed(self, session_id: str) -> None:
        with self._lock:
            session = self.sessions.get(session_id)
            if session is not None:
                session.streams_closed_at.append(self.clock())

    def turn_lock(self, session_id: str) -> threading.Lock:
        with self._lock:
            session = self.sessions.get(session_id)
            return session.turn_lock if session else threading.Lock()

    def set_draft(self, session_id: str, draft: dict[str, Any]) -> None:
        with self._lock:
            session = self.sessions.get(session_id)
            if session is not None:  # the session may be gone (session_lost, reset)
                session.draft = draft

    def finish_turn(
        self,
        session_id: str,
        draft: dict[str, Any] | None,
        media: list[dict[str, Any]],
    ) -> None:
        with self._lock:
            session = self.sessions.get(session_id)
            if session is None:
                return
            if draft is not None:
                session.draft = draft
            session.generated_media.extend(media)

    def add_media(self, session_id: str, items: list[dict[str, Any]]) -> None:
        with self._lock:
            session = self.sessions.get(session_id)
            if session is not None:
                session.video_infos.extend(items)

    # -- credits ----------------------------------------------------------------

    def balance(self, user_id: str) -> dict[str, int]:
        with self._lock:
            return self.credits[user_id].public()

    def set_balance(self, user_id: str, available: int) -> dict[str, int]:
        with self._lock:
            self.credits[user_id].available = int(available)
            return self.credits[user_id].public()

    def freeze(self, token: Token, cost: int) -> None:
        with self._lock:
            credits = self.credits[token.user_id]
            if cost > credits.available:
                raise self._out_of_credits(token, cost)
            credits.available -= cost
            credits.frozen += cost

    def settle(self, user_id: str, session_id: str, cost: int, *, charge: bool) -> None:
        """Release frozen credits: charged when the turn completed, refunded otherwise."""
        with self._lock:
            credits = self.credits.get(user_id)
            if credits is None:  # reset while the turn ran
                return
            credits.frozen -= cost
            if charge:
                self.count("credits_charged", session_id, cost)
            else:
                credits.available += cost

    def _out_of_credits(self, token: Token, cost: int) -> ApiError:
        available = self.credits[token.user_id].available
        data: dict[str, Any] = {"required": cost, "available": available}
        if token.anonymous:
            data["register_url"] = f"{self.config.web_url}/register?bind={token.user_id}"
        else:
            data["topup_url"] = f"{self.config.web_url}/pricing"
        message = f"insufficient credits: this needs {cost}, {available} available"
        return ApiError(OUT_OF_CREDITS, message, data=data)

    def out_of_credits(self, token: Token) -> ApiError:
        with self._lock:
            return self._out_of_credits(token, self.credits[token.user_id].available + 1)

    # -- stats ------------------------------------------------------------------

    def count(self, key: str, session_id: str | None = None, n: int = 1) -> None:
        with self._lock:
            self.stats.totals[key] += n
            if session_id:
                self.stats.sessions[session_id][key] += n

    def count_request(self, endpoint: str, attribution: str | None) -> None:
        with self._lock:
            self.stats.requests[endpoint] += 1
            if attribution is None:
                self.stats.missing_attribution[endpoint] += 1
            else:
                self.stats.attribution[attribution] += 1

    def fault_fired(self, kind: str) -> None:
        with self._lock:
            self.stats.faults_fired[str(kind)] += 1

    def stats_snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self.stats.public()
