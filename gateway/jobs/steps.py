"""The phases of a video, one async function each.

Each step reads what earlier steps saved on the row, does one piece of upstream
work, saves its result (fenced), and says what comes next. The rule that
matters most: the chat message is marked sent BEFORE it is posted, and a
message that may have reached the upstream is never posted again; the turn's
result is then recovered by reading the session state.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from gateway import draft as drafts
from gateway import uploads_service as uploads
from gateway.jobs import costs
from gateway.jobs.outcomes import Continue, Fail, Outcome, Sleep, Succeed
from gateway.jobs.states import Phase
from gateway.jobs.turn import TurnWatcher
from gateway.media.store import NotAVideo, probe
from gateway.store.leases import Claim
from gateway.store.models import ChatSession, Video
from gateway.upstream.errors import (
    DuplicateId,
    ExportBlocked,
    InsufficientCredits,
    MessageMaybeDelivered,
    ProtocolError,
    SessionNotFound,
    StreamDropped,
    UpstreamError,
)

if TYPE_CHECKING:
    from gateway.config import Timings
    from gateway.jobs.engine import Engine

Step = Callable[["Engine", Claim, Video, ChatSession | None], Awaitable[Outcome]]
MAX_RENDER_ATTEMPTS = 2  # the protocol: on failure, a new id and one retry
MAX_RENDER_IDS = 4  # duplicate-id answers get new ids, up to this many in all
MESSAGE = "message"  # a chat message: no render, it ends after the draft phase
_DIFFED = frozenset({"edit", MESSAGE})  # kinds whose result reports draft changes
log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def later(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


async def session(e: Engine, claim: Claim, video: Video, chat: ChatSession | None) -> Outcome:
    if chat is not None and chat.upstream_session_id:
        await e.save(claim, video, phase=Phase.MEDIA.value, stage="session", progress=5)
        return Continue()
    language = (video.params or {}).get("language") or (chat.language if chat else None)
    ref = await e.client.create_session(language)
    claim_url = await _claim_url(e, ref)
    await e.save(
        claim,
        video,
        phase=Phase.MEDIA.value,
        stage="session",
        progress=5,
        chat_values={
            "upstream_session_id": ref.session_id,
            "task_id": ref.task_id,
            "claim_url": claim_url,
        },
    )
    return Continue()


async def _claim_url(e: Engine, ref: Any) -> str | None:
    # The claim link is a convenience; a failure must not cost the video.
    try:
        return await e.client.claim_url(ref.task_id, ref.session_id, e.config.nemo_web_url)
    except UpstreamError:
        return None


async def media(e: Engine, claim: Claim, video: Video, chat: ChatSession | None) -> Outcome:
    params = video.params or {}
    urls = params.get("media_urls") or []
    if urls:
        await e.client.upload_urls(_sid(chat), urls)
    for upload in await asyncio.to_thread(uploads.find, e.db, video.api_key_id, _upload_ids(video)):
        # httpx streams the file from disk: a large upload never sits in memory.
        await e.client.upload_file(_sid(chat), upload.path, upload.filename, upload.content_type)
    await e.save(claim, video, phase=Phase.SEND.value, stage="media", progress=8)
    return Continue()


def _upload_ids(video: Video) -> list[str]:
    return list((video.params or {}).get("upload_ids") or [])


async def send(e: Engine, claim: Claim, video: Video, chat: ChatSession | None) -> Outcome:
    sid = _sid(chat)
    balance = await _credit_guard(e, video)
    if isinstance(balance, Fail):
        return balance
    state = await e.client.get_state(sid)
    baseline = state.get("draft")

    async def mark_sent() -> None:
        # "Sent" is durable before the POST: after a crash we recover, never
        # re-send. The client awaits this right before it hands the request to
        # the connection (nothing else is awaited in between), so a crash can
        # leave "sent" without a request only in that last instant.
        await e.save(
            claim,
            video,
            phase=Phase.STREAM.value,
            stage="generating",
            progress=10,
            baseline_draft=baseline,
            credits_at_send=balance,
            message_sent_at=utcnow(),
        )

    watcher = TurnWatcher(e, claim, video)
    try:
        await watcher.follow(sid, message_for(video), before_send=mark_sent)
    except StreamDropped as exc:
        if exc.clean_close:
            # A clean close ends the turn, with or without text (a silent
            # edit or generation): read the state now, no recovery delay.
            return await _turn_over(e, claim, video, watcher)
        return await _start_recovery(e, claim, video, said=watcher)
    except MessageMaybeDelivered:
        return await _start_recovery(e, claim, video, said=watcher)
    except (SessionNotFound, InsufficientCredits) as exc:
        # The upstream refused the message outright: it was not delivered.
        return await _refused(e, claim, video, exc)
    except UpstreamError:
        # Refused before anything was accepted (rate limit, connect failure):
        # the message may be posted again, so step back to SEND and retry later.
        await e.save(claim, video, phase=Phase.SEND.value, message_sent_at=None)
        raise
    if watcher.error is not None:
        return _agent_failed(video, watcher)
    if watcher.lost:
        return await _start_recovery(e, claim, video, said=watcher)
    return await _turn_over(e, claim, video, watcher)


async def _turn_over(e: Engine, claim: Claim, video: Video, watcher: TurnWatcher) -> Outcome:
    """The stream closed cleanly: the turn is over; settle the draft, then read it."""
    phase = Phase.DRAFT if video.kind == MESSAGE else Phase.SETTLE
    await e.save(claim, video, phase=phase.value, poll_count=0, draft=None, **_said(watcher))
    return Continue()


def _agent_failed(video: Video, watcher: TurnWatcher) -> Fail:
    """The upstream failed the turn inside the stream: say so in its own words.

    Not re-sent (it reached the upstream) and not recovered: the run is over.
    """
    error = watcher.error
    assert error is not None
    log.info("video %s: the agent failed the turn (%s)", video.id, error.code)
    return Fail("agent_error", error.message[:500], True, error.upstream_code)


def _said(watcher: TurnWatcher | None) -> dict[str, Any]:
    """What the agent said and did, kept even when the stream was lost halfway."""
    if watcher is None:
        return {}
    return {"reply": watcher.reply, "tool_steps": watcher.tool_steps}


async def _credit_guard(e: Engine, video: Video) -> Fail | dict[str, int] | None:
    """Refuse a turn the balance cannot pay for, before anything is sent.

    Best effort: when the balance cannot be read, the message goes out and the
    upstream refuses an unpaid turn itself (2001, not delivered). Otherwise the
    balance read is returned: it is kept with the "sent" mark, so a lost turn
    can later tell whether anything was charged.
    """
    cost = costs.expected(video.kind)
    if not cost:
        return None
    try:
        balance = await e.client.credits()
    except UpstreamError as exc:
        log.info("credit check skipped for %s: %s", video.id, exc.code)
        return None
    if balance.available >= cost:
        return {"available": balance.available, "frozen": balance.frozen}
    return Fail(
        "insufficient_credits",
        f"this {video.kind} needs about {cost} credits; {balance.available} are available",
        extra={"required": cost, "available": balance.available},
    )


def message_for(video: Video) -> str:
    """The chat text: an explicit generation request with the structured options.

    The agent routes by intent, so a bare description ("a lighthouse at dusk")
    is framed as a generation request rather than left for it to guess.
    """
    params = video.params or {}
    if video.kind != "generate":
        return video.prompt
    extras = []
    if params.get("duration_seconds"):
        extras.append(f"{params['duration_seconds']}-second")
    if params.get("aspect_ratio"):
        extras.append(f"aspect ratio {params['aspect_ratio']}")
    if params.get("resolution"):
        extras.append(params["resolution"])
    options = f" ({', '.join(extras)})" if extras else ""
    if _ASKS_TO_GENERATE.match(video.prompt):
        return f"{video.prompt}{options}"
    return f"Generate a video: {video.prompt}{options}"


_ASKS_TO_GENERATE = re.compile(r"\s*(generate|create|make|produce|render)\b", re.IGNORECASE)


async def _refused(e: Engine, claim: Claim, video: Video, exc: UpstreamError) -> Outcome:
    if isinstance(exc, SessionNotFound) and video.kind == "generate":
        # A lost session holds nothing yet for a new video: start a fresh one.
        await e.save(
            claim,
            video,
            phase=Phase.SESSION.value,
            message_sent_at=None,
            chat_values={"upstream_session_id": None, "task_id": None, "claim_url": None},
        )
        return Continue()
    await e.save(claim, video, message_sent_at=None)
    extra = (
        {"registration_url": exc.registration_url}
        if getattr(exc, "registration_url", None)
        else None
    )
    return Fail(exc.code, exc.message, False, exc.upstream_code, extra)


async def _start_recovery(
    e: Engine,
    claim: Claim,
    video: Video,
    said: TurnWatcher | None = None,
) -> Outcome:
    """A broken connection: the documented recovery, 30 s then every 60 s, by state."""
    await e.save(claim, video, phase=Phase.RECOVER.value, poll_count=0, draft=None, **_said(said))
    return Sleep(later(e.timings.recover_first))


async def stream(e: Engine, claim: Claim, video: Video, chat: ChatSession | None) -> Outcome:
    """Resumed with a message in flight (the process died mid-stream): recover by state."""
    return await _start_recovery(e, claim, video)


async def recover(e: Engine, claim: Claim, video: Video, chat: ChatSession | None) -> Outcome:
    """Read state until the draft moved away from the baseline and then held still.

    A generation changes the draft twice (raw clip, then post-production), so
    the first change alone is not the end of the turn: the draft must read the
    same twice in a row.
    """
    current = (await e.client.get_state(_sid(chat))).get("draft")
    reads = video.poll_count + 1
    # Tool steps saved before the stream was lost prove the agent acted (and
    # charged) even when the draft reads as before (a title added again).
    acted = bool(video.tool_steps)
    moved = (current != video.baseline_draft or acted) and drafts.is_ready(current)
    if moved and current == video.draft:
        await e.save(claim, video, phase=Phase.DRAFT.value, poll_count=0)
        return Continue()
    if not moved and reads >= e.timings.recover_tries:
        return Fail("generation_lost", await _lost_message(e, video), retryable=True)
    await e.save(claim, video, poll_count=0 if moved else reads, draft=current if moved else None)
    return Sleep(later(e.timings.recover_every))


LOST_UNCHARGED = (
    "the message may not have reached the upstream; no credits were charged "
    "(the draft and the credit balance are unchanged since it was sent)"
)
LOST_UNKNOWN = "the upstream turn ended without a result (stream lost, state unchanged)"


async def _lost_message(e: Engine, video: Video) -> str:
    """Why a lost turn failed, saying "no credits were charged" only when it shows.

    The draft is unchanged (that is why the turn is lost). The balance read
    when the message was marked sent is compared with one read now: nothing
    spent and nothing frozen since means the upstream took no turn (it freezes
    a turn's cost when it accepts the message). The balance is the account's,
    so other turns running meanwhile make this say nothing rather than guess.
    """
    before = video.credits_at_send
    if not isinstance(before, dict):
        return LOST_UNKNOWN
    try:
        now = await e.client.credits()
    except UpstreamError:
        return LOST_UNKNOWN
    unchanged = now.available >= before.get("available", 0) and now.frozen <= before.get(
        "frozen", 0
    )
    return LOST_UNCHARGED if unchanged else LOST_UNKNOWN


async def settle(e: Engine, claim: Claim, video: Video, chat: ChatSession | None) -> Outcome:
    """After a clean close: go on as soon as the draft is ready.

    A generation's draft must also read the same twice in a row, a few seconds
    apart: post-production (music, titles) may still be changing it. Bounded by
    ``settle_tries`` reads; then whatever is there is taken (``read_draft``
    fails a video whose draft never became ready).
    """
    current = (await e.client.get_state(_sid(chat))).get("draft")
    reads = video.poll_count + 1
    ready = drafts.is_ready(current)
    moved = current != video.baseline_draft
    steady = video.kind != "generate" or (moved and current == video.draft)
    if (ready and steady) or reads >= e.timings.settle_tries:
        await e.save(claim, video, phase=Phase.DRAFT.value, poll_count=0)
        return Continue()
    await e.save(claim, video, poll_count=reads, draft=current if ready else None)
    return Sleep(later(e.timings.settle_every))


async def read_draft(e: Engine, claim: Claim, video: Video, chat: ChatSession | None) -> Outcome:
    """The turn is over: keep the draft, what changed and what it cost; free the session."""
    current = (await e.client.get_state(_sid(chat))).get("draft")
    ready = drafts.is_ready(current)
    if not ready and video.kind != MESSAGE:
        if video.kind == "export":
            return Fail("draft_not_ready", "the session has no finished draft: generate first")
        return Fail("no_video_produced", "the agent finished without a video in the draft")
    cost = costs.charged(video.kind, video.baseline_draft, current, video.tool_steps)
    values: dict[str, Any] = {
        "draft": current,
        "timeline": drafts.summarize(current) if ready else None,
        "changes": drafts.diff(video.baseline_draft, current) if video.kind in _DIFFED else None,
        "credits_charged": cost,
    }
    chat_values: dict[str, Any] = {"draft": current}
    if cost:
        chat_values["credits_spent"] = ChatSession.credits_spent + cost
    if video.kind == MESSAGE:
        # A message stops here: reply, changes and charge land with its final status.
        return Succeed({}, values=values, chat_values=chat_values)
    await e.save(
        claim,
        video,
        phase=Phase.RENDER_SUBMIT.value,
        stage="rendering",
        progress=max(video.progress, 70),
        chat_values=chat_values,
        release_turn=True,
        **values,
    )
    return Continue()


async def render_submit(e: Engine, claim: Claim, video: Video, chat: ChatSession | None) -> Outcome:
    if not video.render_id:
        attempt = video.render_attempts + 1
        # The id is saved before the submit so a restart resubmits the same job.
        await e.save(
            claim, video, render_id=f"render_{video.id}_{attempt}", render_attempts=attempt
        )
    try:
        await e.client.submit_render(video.render_id, _sid(chat), video.draft)
    except ExportBlocked as exc:
        return Fail(exc.code, exc.message, False, exc.upstream_code)
    except UpstreamError as exc:
        if isinstance(exc, DuplicateId) and video.render_attempts < MAX_RENDER_IDS:
            # The protocol: a duplicate id is refused; submit again with a new one.
            await e.save(claim, video, render_id=None)
            return Continue()
        if exc.retryable:
            raise
        return await _render_failed(e, claim, video, exc.message)
    await e.save(claim, video, phase=Phase.RENDER_POLL.value, poll_count=0, stage="rendering")
    return Sleep(later(e.timings.poll_first))


async def render_poll(e: Engine, claim: Claim, video: Video, chat: ChatSession | None) -> Outcome:
    job = await e.client.render_status(video.render_id)
    if job.status == "completed":
        # Completed without any URL: the documented fallback download has the file.
        url = job.output_url or e.client.fallback_download_url(video.render_id)
        output = dict(video.output or {}, upstream_url=url)
        await e.save(
            claim, video, phase=Phase.MIRROR.value, stage="mirroring", progress=95, output=output
        )
        return Continue()
    if job.status == "failed":
        return await _render_failed(e, claim, video, job.error or "render failed")
    overdue = _render_overdue(e, video, job.status)
    if overdue is not None:
        return overdue
    progress = 70 + int(min(max(job.progress or 0.0, 0.0), 1.0) * 25)  # the client gives 0..1
    since = (utcnow() - _aware(video.updated_at)).total_seconds()
    polls, delay = next_poll(e.timings, video.poll_count, video.progress, since, job.progress)
    await e.save(claim, video, poll_count=polls, progress=max(video.progress, progress))
    return Sleep(later(delay))


def next_poll(
    t: Timings, poll_count: int, stored: int, since: float, progress: float | None
) -> tuple[int, float]:
    """The schedule's count after this poll, and the seconds until the next poll.

    ``poll_count`` counts the schedule's polls so far; ``stored`` is the
    progress the last poll saved (70-95) and ``since`` the seconds since it
    did; ``progress`` is what this poll read (0..1). A render whose progress
    predicts its end sooner than the schedule is polled then (not counted:
    the schedule goes on where it was). Without a usable prediction (still
    pending, progress not moving, or none reported) the schedule decides
    (``poll_delay``).
    """
    polls = poll_count + 1
    geometric = min(t.poll_first * t.poll_factor**polls, t.poll_max)
    near = _until_done(stored, since, progress, t.poll_near)
    if near is not None:
        return (poll_count, near) if near < geometric else (polls, geometric)
    return polls, poll_delay(t, polls)


def poll_delay(t: Timings, n: int) -> float:
    """The schedule's ``n``-th delay (0 = the one after the submit).

    Geometric (``poll_first``, x``poll_factor``, up to ``poll_max``), but at most
    ``poll_late`` while the render has run between ``poll_late_after`` and
    ``poll_late_until``: renders take 30-90 s, so in that window the end is
    near and a 30 s step would find it up to 30 s late (the notify p99).
    """
    elapsed = 0.0
    delay = 0.0
    for i in range(n + 1):
        delay = min(t.poll_first * t.poll_factor**i, t.poll_max)
        if t.poll_late > 0 and t.poll_late_after <= elapsed < t.poll_late_until:
            delay = min(delay, t.poll_late)
        elapsed += delay
    return delay


def _until_done(stored: int, since: float, progress: float | None, near: float) -> float | None:
    """Seconds until a poll that should find the render done, from its progress rate.

    The previous sample is the row as the last poll left it (its progress, on
    the gateway's 70-95 scale, saved ``since`` seconds ago). Polls land a
    little early (the estimate is refined on each) and then every ``near``
    seconds; the protocol leaves progress unspecified, so without a rising
    value there is no estimate (None). ``near`` <= 0 turns this off.
    """
    if near <= 0 or progress is None or not 0 < progress < 1:
        return None
    if progress >= 0.95:
        return near  # the last stretch, where progress often stands still
    before = max(stored - 70, 0) / 25
    if progress <= before or since <= 0:
        return None
    left = (1 - progress) * since / (progress - before)
    if before == 0:
        # It started somewhere since the last poll, so it runs faster than
        # this says: sample again soon rather than trust the estimate.
        return max(near, 0.25 * left)
    return max(near, 0.8 * left)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _render_overdue(e: Engine, video: Video, status: str) -> Fail | None:
    """A render the upstream still runs is kept past ``render_deadline``.

    The upstream charged for the turn whose draft this renders, and a job it
    still reports as pending or processing may yet finish: giving up at the
    deadline threw paid work away. Past the deadline the gateway logs the
    render and polls on (at ``poll_max``); a job the upstream fails or forgets
    ends the video through ``_render_failed`` or its error. Only
    ``render_hard_cap`` (hours) ends a render that never finishes.
    """
    elapsed = _render_elapsed(video, e)
    if elapsed > e.timings.render_hard_cap:
        hours = e.timings.render_hard_cap / 3600
        return Fail(
            "render_timeout",
            f"the render was still running upstream after {hours:g} hours",
            retryable=True,
        )
    if elapsed > e.timings.render_deadline and video.poll_count % 20 == 0:
        log.warning(
            "video %s: render %s past its deadline (%.0f s), still %s upstream; polling on",
            video.id,
            video.render_id,
            elapsed,
            status,
        )
    return None


def _render_elapsed(video: Video, e: Engine) -> float:
    # Sum of the geometric poll delays so far: no extra column needed.
    return _schedule_elapsed(e.timings, video.poll_count + 1)


def _schedule_elapsed(t: Timings, polls: int) -> float:
    """A lower bound of the render's time: polls on a prediction are not counted.

    One pass (``poll_delay`` per poll would be quadratic, and a render kept
    for hours past its deadline is polled hundreds of times).
    """
    elapsed = 0.0
    for i in range(polls):
        delay = min(t.poll_first * t.poll_factor**i, t.poll_max)
        if t.poll_late > 0 and t.poll_late_after <= elapsed < t.poll_late_until:
            delay = min(delay, t.poll_late)
        elapsed += delay
    return elapsed


async def _render_failed(e: Engine, claim: Claim, video: Video, message: str) -> Outcome:
    if video.render_attempts >= MAX_RENDER_ATTEMPTS:
        return Fail("render_failed", message, retryable=True)
    await e.save(claim, video, phase=Phase.RENDER_SUBMIT.value, render_id=None, poll_count=0)
    return Continue()


async def mirror(e: Engine, claim: Claim, video: Video, chat: ChatSession | None) -> Outcome:
    """Copy the MP4 here: from the output URL, else from the documented fallback download."""
    fallback = e.client.fallback_download_url(video.render_id)
    url = (video.output or {}).get("upstream_url")
    if url and url != fallback:
        try:
            return await _mirror_from(e, video, url)
        except UpstreamError as exc:  # unreachable, refused, or no playable video
            # The code only: a storage URL's query can hold a signature.
            log.info("video %s: output URL failed (%s), trying the fallback", video.id, exc.code)
    return await _mirror_from(e, video, fallback)


async def _mirror_from(e: Engine, video: Video, source: str) -> Outcome:
    size, sha256 = await e.client.download(source, e.media.path_for(video.id))
    try:
        facts = probe(e.media.path_for(video.id))
    except NotAVideo as exc:
        raise ProtocolError(f"The upstream's download is not a playable video: {exc}.") from exc
    return Succeed(
        {
            "content_type": "video/mp4",
            "size_bytes": size,
            "sha256": sha256,
            "duration_seconds": facts.duration_seconds,
            "width": facts.width,
            "height": facts.height,
        }
    )


def _sid(chat: ChatSession | None) -> str:
    if chat is None or not chat.upstream_session_id:
        raise RuntimeError("video has no upstream session yet")
    return chat.upstream_session_id


STEPS: dict[Phase, Step] = {
    Phase.SESSION: session,
    Phase.MEDIA: media,
    Phase.SEND: send,
    Phase.STREAM: stream,
    Phase.RECOVER: recover,
    Phase.SETTLE: settle,
    Phase.DRAFT: read_draft,
    Phase.RENDER_SUBMIT: render_submit,
    Phase.RENDER_POLL: render_poll,
    Phase.MIRROR: mirror,
}
