"""A seeded crash soak: ``kill -9`` the gateway at random moments while it works.

The sandbox and the gateway (``serve``: web + worker) run as real processes;
client threads make generations, edits, videos with a ``webhook_url`` and
keyed POSTs (``Idempotency-Key``, some with ``Prefer: wait``), retrying through
every outage the way a careful client does; a killer thread ``kill -9``s the
gateway at moments drawn from a seeded RNG and restarts it on the same port.
At the end, ``check`` reads the gateway's database, the sandbox's stats and
the webhook receiver, and lists every broken promise:

- every video terminal; failures only ``generation_lost`` (a turn lost to a
  crash), and the credit checks below show those cost nothing unrecorded;
- each message posted once (per upstream session, the sandbox's
  ``messages_posted`` equals the gateway's turns marked sent), never two at
  once (``messages_while_busy``);
- credits charged once and recorded as the upstream charged them (per
  session and in total);
- one ``webhook-id`` per event at the receiver, and a ``video.completed``
  for every succeeded video with a ``webhook_url``;
- no idempotency key stuck in flight: a retry of each keyed POST returns the
  same video.

Used by ``tests/e2e/test_crash_soak.py`` (CI, 60 videos) and
``bench/crash_soak.py`` (by hand, 200+ videos).
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests import processes

TERMINAL = {"succeeded", "failed", "canceled"}
PROMPTS = (
    "a fox crossing a snowy field",
    "waves breaking on a rocky shore at dusk",
    "a city timelapse at night",
    "a paper boat drifting down a rain gutter",
    "a hot air balloon over a valley",
)
# Each edit changes the draft (a title naming the video): an edit that leaves
# the draft exactly as it was, whose stream dies before its first event, is the
# one turn the protocol gives no way to see (see docs/architecture.md).
EDITS = (
    "add lo-fi music at {n}%",
    "add a title '{label}' at the start",
    "make it brighter",
)


@dataclass
class Options:
    videos: int = 60
    seed: int = 14
    threads: int = 6
    kills: int = 8
    speed: float = 200.0  # the sandbox's clock
    time_scale: float = 100.0  # the gateway's protocol waits, divided
    edit_share: float = 0.3
    webhook_share: float = 0.3
    keyed_share: float = 0.6
    wait_share: float = 0.5  # of the keyed ones: Prefer: wait
    timeout: float = 600.0


@dataclass
class Made:
    """One video the soak asked for, and how."""

    label: str
    kind: str
    body: dict[str, Any]
    path: str
    key: str | None
    video_id: str | None = None
    answers: list[int] = field(default_factory=list)  # status codes seen on the way


@dataclass
class Result:
    options: Options
    made: list[Made]
    kills: int
    seconds: float
    statuses: Counter[str]
    errors: Counter[str]
    problems: list[str]
    figures: dict[str, Any]


class Gateway:
    """The gateway process on a fixed port, killed and restarted by the soak."""

    def __init__(self, tmp: Path, upstream: str, env: dict[str, str], scale: float) -> None:
        self.tmp, self.upstream, self.env, self.scale = tmp, upstream, env, scale
        self.port = processes.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.proc = self._start()

    def _start(self) -> processes.Proc:
        return processes.gateway(
            self.tmp, self.upstream, self.port, time_scale=self.scale, **self.env
        ).start(timeout=90)

    def kill_and_restart(self) -> None:
        with self.lock:
            self.proc.kill9()
            self.proc.log.close()
            self.proc = self._start()

    def stop(self) -> None:
        self.proc.stop()


class Client:
    """API calls that ride out the gateway's deaths (connection errors are retried)."""

    def __init__(self, gateway: Gateway, api_key: str) -> None:
        self.gw = gateway
        self.http = httpx.Client(
            base_url=gateway.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        )

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response | None:
        """One attempt; ``None`` if the gateway died before answering."""
        try:
            return self.http.request(method, path, **kw)
        except httpx.TransportError:
            time.sleep(0.2)
            return None

    def get(self, path: str, deadline: float) -> httpx.Response:
        while time.monotonic() < deadline:
            answer = self.request("GET", path)
            if answer is not None and answer.status_code < 500:
                return answer
        raise TimeoutError(f"GET {path}: the gateway never answered")

    def find(self, marker: str, deadline: float) -> str | None:
        """The id of the video whose metadata carries ``marker``, if one was made."""
        cursor: str | None = None
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = self.get(f"/v1/videos?{httpx.QueryParams(params)}", deadline).json()
            for video in page["data"]:
                if (video.get("metadata") or {}).get("soak") == marker:
                    return video["id"]
            cursor = page.get("next_cursor")
            if not cursor:
                return None

    def wait_terminal(self, video_id: str, deadline: float) -> dict[str, Any]:
        while True:
            video = self.get(f"/v1/videos/{video_id}", deadline).json()
            if video["status"] in TERMINAL or time.monotonic() > deadline:
                return video
            time.sleep(0.25)


def _create(client: Client, made: Made, deadline: float) -> None:
    """POST until a video exists: keyed requests repeat their key, others look first."""
    headers = {"Idempotency-Key": made.key} if made.key else {}
    if made.key and made.body.get("_wait"):
        headers["Prefer"] = f"wait={made.body['_wait']}"
    body = {k: v for k, v in made.body.items() if not k.startswith("_")}
    while time.monotonic() < deadline:
        answer = client.request("POST", made.path, json=body, headers=headers)
        if answer is None:
            # The gateway died mid-request. Without a key, the video may exist.
            if not made.key:
                made.video_id = client.find(made.label, deadline)
                if made.video_id:
                    return
            continue
        made.answers.append(answer.status_code)
        if answer.status_code in (200, 201, 202):
            made.video_id = answer.json()["id"]
            return
        if answer.status_code in (409, 503) or answer.status_code >= 500:
            time.sleep(0.3)  # in flight, busy or restarting: a client retries
            continue
        raise AssertionError(f"{made.label}: {answer.status_code} {answer.text[:300]}")
    raise TimeoutError(f"{made.label}: never created")


def _plan(rng: random.Random, opts: Options, receiver_url: str) -> list[list[Made]]:
    """The seeded workload, one list per client thread (edits follow their parent)."""
    lanes: list[list[Made]] = [[] for _ in range(opts.threads)]
    for n in range(opts.videos):
        lane = lanes[n % opts.threads]
        label = f"soak-{opts.seed}-{n}"
        keyed = rng.random() < opts.keyed_share
        key = f"{label}-key" if keyed else None
        is_edit = bool(lane) and rng.random() < opts.edit_share
        body: dict[str, Any] = {"metadata": {"soak": label}}
        if rng.random() < opts.webhook_share:
            body["webhook_url"] = receiver_url
        if keyed and rng.random() < opts.wait_share:
            body["_wait"] = rng.choice((2, 5, 10))
        if is_edit:
            body["instruction"] = rng.choice(EDITS).format(label=label, n=20 + n % 60)
            lane.append(Made(label, "edit", body, "", key))
        else:
            body.update(prompt=f"{rng.choice(PROMPTS)} ({label})", duration_seconds=2)
            lane.append(Made(label, "generate", body, "/v1/videos", key))
    return lanes


def _run_lane(client: Client, lane: list[Made], deadline: float) -> None:
    parent: str | None = None
    for made in lane:
        if made.kind == "edit":
            if parent is None or client.wait_terminal(parent, deadline)["status"] != "succeeded":
                # Nothing to edit: make it a generation instead.
                made.kind, made.path = "generate", "/v1/videos"
                made.body.pop("instruction")
                made.body.update(prompt=f"{PROMPTS[0]} ({made.label})", duration_seconds=2)
            else:
                made.path = f"/v1/videos/{parent}/edits"
        _create(client, made, deadline)
        parent = made.video_id


def _killer(
    gateway: Gateway, rng: random.Random, kills: int, stop: threading.Event, done: list[int]
) -> None:
    # Spread over the first part of the run, when work is in flight.
    for _ in range(kills):
        if stop.wait(rng.uniform(1.5, 6.0)):
            return
        gateway.kill_and_restart()
        done.append(1)


def run(tmp: Path, opts: Options) -> Result:
    """Start everything, run the workload under the killer, check, stop everything."""
    started = time.monotonic()
    sandbox = processes.sandbox(tmp, opts.speed).start()
    receiver = processes.WebhookReceiver()
    gateway: Gateway | None = None
    try:
        minted = httpx.post(f"{sandbox.url}/_sandbox/tokens", json={"credits": 10**7})
        env = {"NEMO_TOKEN": minted.json()["data"]["token"]}
        api_key = processes.create_key(tmp / "gateway-data", **env)
        gateway = Gateway(tmp, sandbox.url, env, opts.time_scale)
        rng = random.Random(opts.seed)
        lanes = _plan(rng, opts, receiver.url)
        deadline = time.monotonic() + opts.timeout
        stop, kills = threading.Event(), []
        killer = threading.Thread(
            target=_killer, args=(gateway, random.Random(opts.seed + 1), opts.kills, stop, kills)
        )
        killer.start()
        threads = [
            threading.Thread(target=_run_lane, args=(Client(gateway, api_key), lane, deadline))
            for lane in lanes
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        killer.join()  # every kill happens, some after the last create
        stop.set()
        made = [m for lane in lanes for m in lane]
        client = Client(gateway, api_key)
        finals = {m.video_id: client.wait_terminal(m.video_id, deadline) for m in made}
        # Deliveries of the last events may still be on their way.
        time.sleep(2.0)
        problems, figures = check(tmp, sandbox.url, receiver, client, made, finals)
        statuses = Counter(v["status"] for v in finals.values())
        errors = Counter((v.get("error") or {}).get("code") for v in finals.values())
        errors.pop(None, None)
        return Result(
            opts,
            made,
            len(kills),
            time.monotonic() - started,
            statuses,
            errors,
            problems,
            figures,
        )
    finally:
        if gateway is not None:
            gateway.stop()
        receiver.close()
        sandbox.stop()


def check(
    tmp: Path,
    upstream: str,
    receiver: processes.WebhookReceiver,
    client: Client,
    made: list[Made],
    finals: dict[str | None, dict[str, Any]],
) -> tuple[list[str], dict[str, Any]]:
    """Every promise the soak keeps, as a list of what broke (empty: all kept)."""
    problems: list[str] = []
    stats = httpx.get(f"{upstream}/_sandbox/stats").json()["data"]
    rows = _gateway_rows(tmp / "gateway-data" / "gateway.db")
    problems += _terminal(finals)
    problems += _posted_once(stats, rows)
    problems += _charged_once(stats, rows)
    problems += _webhooks_once(receiver, made, finals)
    problems += _keys_not_stuck(client, made)
    figures = {
        "messages_posted": stats["messages_posted"],
        "credits_charged_upstream": stats["credits_charged"],
        "credits_recorded": sum(r["credits_charged"] for r in rows["videos"]),
        "webhooks_received": len(receiver.received),
        "keyed_posts": sum(1 for m in made if m.key),
        "edits": sum(1 for m in made if m.kind == "edit"),
    }
    return problems, figures


def _gateway_rows(path: Path) -> dict[str, list[dict[str, Any]]]:
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        videos = conn.execute(
            "SELECT v.id, v.kind, v.status, v.error, v.credits_charged, v.message_sent_at,"
            " s.upstream_session_id AS upstream FROM videos v JOIN sessions s"
            " ON s.id = v.session_id"
        ).fetchall()
        sessions = conn.execute(
            "SELECT upstream_session_id, credits_spent FROM sessions"
        ).fetchall()
    return {"videos": [dict(r) for r in videos], "sessions": [dict(r) for r in sessions]}


def _terminal(finals: dict[str | None, dict[str, Any]]) -> list[str]:
    out = []
    for video_id, video in finals.items():
        if video["status"] not in TERMINAL:
            out.append(f"{video_id} never ended ({video['status']}/{video.get('stage')})")
        elif video["status"] == "failed":
            error = video.get("error") or {}
            # A turn lost to a crash (killed in the instant between the sent
            # mark and the POST, or a free chat-like turn whose stream died) is
            # the one failure a crash may cause; the credit checks prove it
            # cost nothing unrecorded. Any other failure is a broken promise.
            if error.get("code") != "generation_lost":
                out.append(f"{video_id} failed: {error}")
    return out


def _posted_once(stats: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> list[str]:
    out = []
    if stats.get("messages_while_busy"):
        out.append(f"messages_while_busy = {stats['messages_while_busy']}")
    sent: Counter[str] = Counter()
    for video in rows["videos"]:
        if video["upstream"] and video["kind"] in ("generate", "edit"):
            sent[video["upstream"]] += 1
    for sid, counts in stats["sessions"].items():
        posted = counts.get("messages_posted", 0)
        if posted > sent.get(sid, 0):
            out.append(f"session {sid}: {posted} messages posted for {sent.get(sid, 0)} turns")
    return out


def _charged_once(stats: dict[str, Any], rows: dict[str, list[dict[str, Any]]]) -> list[str]:
    out = []
    spent = {r["upstream_session_id"]: r["credits_spent"] for r in rows["sessions"]}
    recorded: defaultdict[str, int] = defaultdict(int)
    for video in rows["videos"]:
        if video["upstream"]:
            recorded[video["upstream"]] += video["credits_charged"]
    for sid, counts in stats["sessions"].items():
        charged = counts.get("credits_charged", 0)
        if recorded.get(sid, 0) != charged or spent.get(sid, 0) != charged:
            out.append(
                f"session {sid}: upstream charged {charged}, videos record "
                f"{recorded.get(sid, 0)}, the session {spent.get(sid, 0)}"
            )
    total = sum(v["credits_charged"] for v in rows["videos"])
    if total != stats["credits_charged"]:
        out.append(f"credits: upstream charged {stats['credits_charged']}, recorded {total}")
    return out


def _webhooks_once(
    receiver: processes.WebhookReceiver, made: list[Made], finals: dict[str | None, dict[str, Any]]
) -> list[str]:
    out = []
    ids_per_event: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for hook in receiver.received:
        payload = hook.json()
        ids_per_event[(payload["data"]["id"], payload["type"])].add(hook.headers["webhook-id"])
    for (video_id, event), ids in ids_per_event.items():
        if len(ids) != 1:
            out.append(f"{video_id} {event}: {len(ids)} webhook-ids")
    for m in made:
        wants = m.body.get("webhook_url") and finals[m.video_id]["status"] == "succeeded"
        if wants and not ids_per_event.get((m.video_id or "", "video.completed")):
            out.append(f"{m.video_id}: no video.completed webhook")
    return out


def _keys_not_stuck(client: Client, made: list[Made]) -> list[str]:
    out = []
    deadline = time.monotonic() + 60
    for m in made:
        if not m.key:
            continue
        body = {k: v for k, v in m.body.items() if not k.startswith("_")}
        answer = None
        while answer is None and time.monotonic() < deadline:
            answer = client.request("POST", m.path, json=body, headers={"Idempotency-Key": m.key})
        if answer is None or answer.status_code not in (200, 201, 202):
            code = answer.status_code if answer is not None else "no answer"
            out.append(f"{m.label}: a retry of its keyed POST got {code}")
        elif answer.json()["id"] != m.video_id:
            out.append(f"{m.label}: a retry made {answer.json()['id']}, not {m.video_id}")
    return out
