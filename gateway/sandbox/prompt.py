"""What a chat message asks of the sandbox agent: a video spec, or edits to a draft.

Pure and deterministic (no I/O, no randomness). Three jobs, one per public group:

- ``parse_prompt`` reads a generation request into a ``VideoSpec``;
- ``parse_edit`` reads an edit request into ``EditOp`` values and ``apply_edits``
  applies them to a copy of a draft;
- ``build_draft`` writes a spec as a draft in the ``gateway.draft`` format.

Parsing is keyword based on purpose: the sandbox only has to behave plausibly
for the phrasings clients really send, and stay predictable in tests.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from gateway.draft import TRACK_AUDIO, TRACK_TEXT, TRACK_VIDEO, duration_ms, segments_of, tracks_of

DEFAULT_DURATION = 10
MIN_DURATION = 2
MAX_DURATION = 120
DEFAULT_ASPECT = "16:9"
DEFAULT_VOLUME = 0.8
DEFAULT_MOOD = "background"
TITLE_SPAN_MS = 3000
SUBJECT_MAX_CHARS = 40
FRAME_SIZES: dict[str, tuple[int, int]] = {
    "16:9": (1280, 720),
    "9:16": (720, 1280),
    "1:1": (720, 720),
}
TRACK_NAMES = {TRACK_VIDEO: "Video", TRACK_AUDIO: "BGM", TRACK_TEXT: "Title"}

# ---------------------------------------------------------------------------
# Shared vocabulary
# ---------------------------------------------------------------------------

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15,
    "twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50,
    "sixty": 60, "ninety": 90,
}  # fmt: skip
_WORD_ALT = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
# Digits may follow CJK text directly ("生成30秒"), so they only refuse a digit,
# dot or colon before them ("16:9 s" is not nine seconds).
_DURATION = re.compile(
    rf"(?:(?<![\d.:])(?P<digits>\d+(?:\.\d+)?)|\b(?P<word>{_WORD_ALT}))\s*-?\s*"
    r"(?P<unit>seconds?\b|secs?\b|s\b|minutes?\b|mins?\b|秒|分钟)",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:%|percent\b)", re.IGNORECASE)

_MOODS: dict[str, str] = {
    r"lo[\s-]?fi": "lo-fi",
    r"upbeat": "upbeat",
    r"calm(?:ing)?": "calm",
    r"epic": "epic",
    r"jazz(?:y)?": "jazz",
    r"ambient": "ambient",
    r"cinematic": "cinematic",
    r"chill": "chill",
    r"relaxing": "relaxing",
    r"energetic": "energetic",
    r"happy": "happy",
    r"dramatic": "dramatic",
    r"acoustic": "acoustic",
    r"piano": "piano",
    r"classical": "classical",
    r"electronic": "electronic",
    r"rock": "rock",
    r"hip[\s-]?hop": "hip-hop",
}
_MOOD_ALT = "|".join(f"(?:{p})" for p in _MOODS)
# Moods that name a kind of music by themselves ("add some jazz").
_GENRES = {"lo-fi", "jazz", "piano", "classical", "electronic", "rock", "hip-hop"}
_MOOD_LABELS = {"lo-fi": "Lo-fi", "hip-hop": "Hip-hop", DEFAULT_MOOD: "Background music"}
_MUSIC_WORD = r"(?:background\s+)?(?:music|bgm|soundtrack|song|tune|score)\b"

_QUOTED = re.compile(
    # straight quotes, curly quotes (re reads the \u escapes), CJK corner brackets
    r"\"(?P<dq>[^\"]+)\"|\u201c(?P<cq>[^\u201d]+)\u201d|(?<!\w)'(?P<sq>.+?)'(?!\w)"
    r"|\u2018(?P<csq>[^\u2019]+)\u2019|\u300c(?P<jq>[^\u300d]+)\u300d"
)
_TITLE_KEY = r"\b(?:title[sd]?|called|named|caption(?:ed)?|heading)\b"


def without_quotes(text: str) -> str:
    """The text with quoted passages blanked, so words inside a title steer nothing."""
    return _QUOTED.sub(" ", text)


def _quoted_text(match: re.Match[str]) -> str:
    return next(v for v in match.groupdict().values() if v is not None).strip()


def _seconds(match: re.Match[str]) -> float:
    raw = match.group("digits") or match.group("word")
    value = float(raw) if match.group("digits") else float(_NUMBER_WORDS[raw.lower()])
    unit = match.group("unit").lower()
    return value * 60 if unit.startswith("min") or unit == "分钟" else value


def _duration_matches(text: str) -> list[re.Match[str]]:
    # "a second video" means another video, not one second: "a"/"an" only count for minutes.
    return [
        m
        for m in _DURATION.finditer(text)
        if not (
            (m.group("word") or "").lower() in ("a", "an")
            and not m.group("unit").lower().startswith("min")
        )
    ]


def _clamp_seconds(value: float) -> int:
    return int(min(MAX_DURATION, max(MIN_DURATION, round(value))))


def mood_label(mood: str) -> str:
    """How a mood is shown on the BGM track: ``lo-fi`` -> ``Lo-fi``."""
    return _MOOD_LABELS.get(mood, mood[:1].upper() + mood[1:])


def _canonical_mood(word: str) -> str:
    return next(m for p, m in _MOODS.items() if re.fullmatch(p, word, re.IGNORECASE))


# ---------------------------------------------------------------------------
# Generation prompts
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoSpec:
    subject: str
    duration_seconds: int
    aspect_ratio: str
    title: str | None
    music_mood: str | None
    # Asked volume of the music, 0..1 ("lo-fi music at 35%"); None = the default 80%.
    music_volume: float | None = None


# Context words after which a duration is a time inside the video, not its length.
_NOT_LENGTH = re.compile(
    r"\b(?:first|last|from|until|till|after|each|per|every|at)\s*$", re.IGNORECASE
)
_RANGE = re.compile(rf"\bfrom\s+{_DURATION.pattern}\s*(?:to|-|until)\s+\S+\s*\w*", re.IGNORECASE)
# The same as _DURATION without named groups, to be used several times in one pattern.
_DURATION_ONLY = (
    rf"(?:(?<![\d.:])\d+(?:\.\d+)?|\b(?:{_WORD_ALT}))\s*-?\s*"
    r"(?:seconds?\b|secs?\b|s\b|minutes?\b|mins?\b|秒|分钟)"
)
_DURATION_PHRASE = (
    rf"(?:\b(?:a|an|that\s+is|lasting|for)\s+)?{_DURATION_ONLY}(?:\s+(?:long|in\s+length))?"
)
# "in the first 3 seconds", "from 2s to 5s": times inside the video, not words of the subject.
_TIME_POSITION = (
    rf"(?:\b(?:in|for|during|over)\s+)?(?:the\s+)?\b(?:first|last|final)\s+{_DURATION_ONLY}"
    rf"|\bfrom\s+{_DURATION_ONLY}\s*(?:to|-|until)\s+{_DURATION_ONLY}|\bat\s+{_DURATION_ONLY}"
)
_CJK_FILLER = r"(?:请)?(?:帮我)?(?:生成|制作|创建|做)(?:一个|一段|一支|个)?|的?视频"

_ASPECTS: tuple[tuple[str, str], ...] = (
    (r"16\s*:\s*9|widescreen|wide-screen|horizontal", "16:9"),
    (r"(?:in\s+)landscape|landscape(?=\s+(?:mode|format|orientation|video|clip))", "16:9"),
    (r"9\s*:\s*16|vertical|tik\s*tok|reels|(?:youtube\s+)?shorts", "9:16"),
    (r"(?:in\s+)portrait|portrait(?=\s+(?:mode|format|orientation|video|clip))", "9:16"),
    (r"1\s*:\s*1", "1:1"),
    (r"(?:in\s+|as\s+a\s+)square|square(?=\s+(?:format|video|clip|aspect|ratio|mode))", "1:1"),
)
_ASPECT_PREFIX = r"(?:\b(?:in|as|for|with)\s+(?:an?\s+)?)?(?:aspect\s+ratio\s*(?:of\s+)?)?"
_ASPECT_SUFFIX = r"(?:\s+(?:aspect\s+ratio|ratio|format|orientation|mode))?"

_MUSIC_BEFORE = re.compile(  # "lo-fi background music", "calm piano music", not "piano and ..."
    rf"(?P<mood>{_MOOD_ALT})[\s,-]+(?:(?!(?:and|or|with|of|plus|the|a|an)\b)[\w-]+\s+){{0,2}}?"
    rf"{_MUSIC_WORD}",
    re.IGNORECASE,
)
_MUSIC_AFTER = re.compile(  # "music: jazz", "music that is upbeat"
    rf"{_MUSIC_WORD}\s*(?:[:(-]|that\s+is|that's|which\s+is|in\s+an?|with\s+an?|,)\s*"
    rf"(?P<mood>{_MOOD_ALT})(?:\s+(?:style|vibe|feel|mood))?\)?",
    re.IGNORECASE,
)
_MUSIC_ALONE = re.compile(_MUSIC_WORD, re.IGNORECASE)
_CONNECTOR = r"(?:,?\s*\b(?:with|and|plus|set\s+to)\s+)?(?:\b(?:some|a|an|the)\s+)?"

_TITLE_IN_PROMPT = re.compile(
    rf"{_TITLE_KEY}(?:\s+(?:card|text|overlay|of|as|is|reading|saying|that\s+says)){{0,2}}"
    rf"\s*[:=]?\s*(?:{_QUOTED.pattern})",
    re.IGNORECASE,
)

_LEAD = re.compile(
    r"^(?:(?:please|pls|hey|hi|ok|okay|now|can\s+you|could\s+you|would\s+you|i\s+want\s+you\s+to"
    r"|i\s+want|i'd\s+like|i\s+would\s+like|let's|lets|help\s+me)\s+)*"
    r"(?:(?:generate|create|make|produce|render|build|give\s+me|show\s+me|film|shoot|animate)"
    r"\s+)?(?:me\s+)?(?:(?:a|an|the|some|one)\s+)?(?:(?:short|quick|new|simple|nice|ai)\s+)*"
    r"(?:(?:video|clip|reel|movie|film|animation|footage|slideshow|short)s?(?:\s+|$))*"
    r"(?:(?:of|about|showing|featuring|that\s+shows|depicting|on|with)\s+)?"
    r"(?:(?:a|an|the)\s+)?",
    re.IGNORECASE,
)
_TRAILING_WORDS = {
    "with", "and", "of", "a", "an", "the", "in", "on", "for", "to", "at", "into",
    "plus", "featuring", "over", "by", "that", "which", "from", "as",
}  # fmt: skip


def parse_prompt(text: str) -> VideoSpec:
    """Read duration, aspect ratio, title and music mood out of a generation request."""
    return VideoSpec(
        subject=_subject(text),
        duration_seconds=_prompt_duration(text),
        aspect_ratio=_aspect(text),
        title=_prompt_title(text),
        music_mood=_music_mood(text),
        music_volume=_volume(text) if _music_match(text) else None,
    )


def frame_size(aspect_ratio: str, size: tuple[int, int] | None = None) -> tuple[int, int]:
    """Frame size for a ratio. An app-wide ``size`` is re-oriented to fit the ratio
    (a 1920x1080 setting gives 1080x1920 for 9:16 and 1080x1080 for 1:1)."""
    if size is None:
        return FRAME_SIZES.get(aspect_ratio, FRAME_SIZES[DEFAULT_ASPECT])
    short, long = sorted(size)
    if aspect_ratio == "1:1":
        return short, short
    return (short, long) if aspect_ratio == "9:16" else (long, short)


def _prompt_duration(text: str) -> int:
    ranges = [m.span() for m in _RANGE.finditer(text)]
    for m in _duration_matches(text):
        inside_range = any(a <= m.start() < b for a, b in ranges)
        if not inside_range and not _NOT_LENGTH.search(text[: m.start()]):
            return _clamp_seconds(_seconds(m))
    return DEFAULT_DURATION


def _aspect_match(text: str) -> tuple[re.Match[str], str] | None:
    found = []
    for pattern, ratio in _ASPECTS:
        m = re.search(rf"\b(?:{pattern})\b", text, re.IGNORECASE)
        if m:
            found.append((m, ratio))
    return min(found, key=lambda f: f[0].start(), default=None)


def _aspect(text: str) -> str:
    found = _aspect_match(text)
    return found[1] if found else DEFAULT_ASPECT


def _prompt_title(text: str) -> str | None:
    m = _TITLE_IN_PROMPT.search(text)
    return _quoted_text(m) if m else None


def _music_match(text: str) -> re.Match[str] | None:
    return _MUSIC_BEFORE.search(text) or _MUSIC_AFTER.search(text) or _MUSIC_ALONE.search(text)


def _music_mood(text: str) -> str | None:
    m = _music_match(text)
    if m is None:
        return None
    mood = m.groupdict().get("mood")
    return _canonical_mood(mood) if mood else DEFAULT_MOOD


def _subject(text: str) -> str:
    rest = _with_connector_removed(_TITLE_IN_PROMPT, text)
    rest = re.sub(r"\s*(?:\bat\s+)?\d+(?:\.\d+)?\s*(?:%|percent\b)(?:\s+volume)?", " ", rest)
    music = _music_match(rest)
    if music:
        rest = _with_connector_removed(re.compile(re.escape(music.group(0))), rest)
    rest = re.sub(_TIME_POSITION, " ", rest, flags=re.IGNORECASE)
    rest = re.sub(_DURATION_PHRASE, " ", rest, flags=re.IGNORECASE)
    rest = re.sub(_CJK_FILLER, " ", rest)
    for pattern, _ratio in _ASPECTS:
        rest = re.sub(
            rf"{_ASPECT_PREFIX}\b(?:{pattern})\b{_ASPECT_SUFFIX}", " ", rest, flags=re.IGNORECASE
        )
    return _tidy_subject(rest)


def _with_connector_removed(pattern: re.Pattern[str], text: str) -> str:
    """Remove a phrase together with the "with a"/"and some" that introduced it."""
    return re.sub(_CONNECTOR + f"(?:{pattern.pattern})", " ", text, flags=re.IGNORECASE)


def _tidy_subject(text: str) -> str:
    text = re.sub(r"\(\s*\)|\[\s*\]", " ", text)
    text = re.sub(r"\s+", " ", text).strip(" ,.;:!?-")
    text = _LEAD.sub("", text).strip(" ,.;:!?-")
    words = text.split()
    kept: list[str] = []
    for word in words:
        if len(" ".join([*kept, word])) > SUBJECT_MAX_CHARS:
            break
        kept.append(word)
    while kept and kept[-1].lower().strip(",.;:") in _TRAILING_WORDS:
        kept.pop()
    subject = " ".join(kept).strip(" ,.;:!?-")
    if not subject and words:  # one very long word
        subject = words[0][:SUBJECT_MAX_CHARS]
    return subject or "generated clip"


# ---------------------------------------------------------------------------
# Edit requests
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AddTitle:
    """Put a title on the video (replacing any title). Times in ms; negative values
    count from the end like Python indexes (last 3 s = ``start_ms=-3000``); ``None``
    start means 0, ``None`` end means start + 3 s (or the end for a negative start).
    ``text`` None means "use the video's label"."""

    text: str | None
    start_ms: int | None = None
    end_ms: int | None = None


@dataclass(frozen=True)
class ChangeTitleText:
    """New words for the existing title, keeping its timing."""

    text: str


@dataclass(frozen=True)
class RemoveTitle:
    pass


@dataclass(frozen=True)
class AddMusic:
    """Background music for the whole video (replacing any). ``volume`` None keeps
    the current music's volume, or 80% when there is none."""

    mood: str
    volume: float | None = None


@dataclass(frozen=True)
class SetMusicVolume:
    volume: float


@dataclass(frozen=True)
class ScaleMusicVolume:
    """Relative change: "turn the music down" (x0.5) / "louder" (x1.5)."""

    factor: float


@dataclass(frozen=True)
class RemoveMusic:
    pass


@dataclass(frozen=True)
class SetDuration:
    """Trim (shorter) or extend (longer) the whole video to this length."""

    seconds: int


@dataclass(frozen=True)
class TrimEnd:
    seconds: float


@dataclass(frozen=True)
class TrimStart:
    seconds: float


EditOp = (
    AddTitle
    | ChangeTitleText
    | RemoveTitle
    | AddMusic
    | SetMusicVolume
    | ScaleMusicVolume
    | RemoveMusic
    | SetDuration
    | TrimEnd
    | TrimStart
)

_VERBS = (
    "add|put|set|insert|include|place|overlay|show|display|write|change|replace|rename|update"
    "|edit|modify|fix|remove|delete|drop|clear|hide|erase|mute|lower|raise|reduce|increase"
    "|turn|trim|cut|shorten|extend|lengthen|make|chop|shave|skip|use|play|swap|switch|adjust"
)
_VERB_AT_START = re.compile(rf"^\s*(?:please\s+)?(?:{_VERBS})\b", re.IGNORECASE)
_CLAUSE_SPLIT = re.compile(
    r"\s*(?:[;\n]|,?\s+(?:and\s+)?then\s+|,?\s+and\s+(?:also\s+)?|,\s+(?:also\s+)?|\.\s+"
    r"|\balso\b)\s*",
    re.IGNORECASE,
)
_HOLE = re.compile(r"\x00(\d+)\x00")

_TITLE_WORD = re.compile(
    r"\b(?:title[sd]?|caption|heading|text(?:\s+overlay)?|subtitle)\b", re.IGNORECASE
)
_REMOVE_VERB = r"\b(?:remove|delete|drop|clear|hide|erase|get\s+rid\s+of|take\s+(?:out|off))\b"
_ADD_VERB = r"\b(?:add|put|set|insert|include|place|overlay|show|display|write|type)\b"
_CHANGE_VERB = r"\b(?:change|replace|rename|update|edit|modify|fix|correct|swap|switch)\b"
_MUSIC_NOUN = re.compile(rf"{_MUSIC_WORD}|\b(?:volume|audio)\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Clause:
    """One instruction with quoted text hidden as ``\\x00n\\x00`` so that keywords
    inside a title ("Music Night") never steer the parse."""

    masked: str
    quotes: tuple[str, ...]

    def first_quote(self) -> str | None:
        m = _HOLE.search(self.masked)
        return self.quotes[int(m.group(1))] if m else None

    def plain(self, fragment: str) -> str:
        return _HOLE.sub(lambda m: self.quotes[int(m.group(1))], fragment)


def parse_edit(text: str) -> list[EditOp]:
    """Edit operations in the order asked; [] when the message is no edit we know."""
    ops: list[EditOp] = []
    for clause in _clauses(text):
        op = _title_op(clause) or _music_op(clause) or _duration_op(clause)
        if op is not None:
            ops.append(op)
    return ops


def _clauses(text: str) -> list[_Clause]:
    quotes: list[str] = []

    def hide(m: re.Match[str]) -> str:
        quotes.append(_quoted_text(m))
        return f"\x00{len(quotes) - 1}\x00"

    masked = _QUOTED.sub(hide, text)
    out: list[_Clause] = []
    verb = ""
    for part in _CLAUSE_SPLIT.split(masked):
        if not part or not part.strip():
            continue
        found = _VERB_AT_START.match(part)
        if found:
            verb = found.group(0).strip()
        elif verb:  # "add a title 'X' and lo-fi music": the second part reuses "add"
            part = f"{verb} {part}"
        out.append(_Clause(part, tuple(quotes)))
    return out


def _title_op(c: _Clause) -> EditOp | None:
    title = _TITLE_WORD.search(c.masked)
    if title is None or _MUSIC_NOUN.search(c.masked[: title.start()]):
        return None
    if re.search(_REMOVE_VERB, c.masked, re.IGNORECASE) or re.search(
        r"\b(?:no|without)\s+(?:a\s+|the\s+)?(?:title|text|caption)", c.masked, re.IGNORECASE
    ):
        return RemoveTitle()
    start, end = _title_span(c.masked)
    text = c.first_quote() or _unquoted_title(c, title.end())
    changing = re.search(_CHANGE_VERB, c.masked, re.IGNORECASE) or re.search(
        r"\b(?:set|make)\b.*\b(?:to|say|says|read|reads)\b", c.masked, re.IGNORECASE
    )
    if changing and start is None and end is None:
        return ChangeTitleText(text) if text else None
    if changing or re.search(_ADD_VERB, c.masked, re.IGNORECASE):
        return AddTitle(text, start, end)
    return None


def _unquoted_title(c: _Clause, after: int) -> str | None:
    """``add title Urban Dreams from 2s to 5s`` -> "Urban Dreams"."""
    rest = c.masked[after:]
    rest = re.sub(
        r"^\s*(?:to\s+(?:say\s+|read\s+)?|as\s+|with\s+|saying\s+|that\s+says\s+|reading\s+"
        r"|text\s+(?:to\s+)?|:\s*)+",
        "",
        rest,
        flags=re.IGNORECASE,
    )
    stop = re.search(
        r"\s+(?:from|in\s+the|for|at|during|between|on|over|starting|until|to\s+the)\b|[.!?]\s*$",
        rest,
        re.IGNORECASE,
    )
    text = (rest[: stop.start()] if stop else rest).strip(" ,.;:!?")
    if not text or text.lower() in ("a", "an", "the", "back", "it"):
        return None
    return c.plain(text)


def _ms(match: re.Match[str]) -> int:
    return round(_seconds(match) * 1000)


def _title_span(text: str) -> tuple[int | None, int | None]:
    dur = _DURATION.pattern
    flags = re.IGNORECASE
    if m := re.search(rf"\bfrom\s+(?:{dur})\s*(?:to|-|until)\s+", text, flags):
        end = _DURATION.search(text, m.end())
        return _ms(_DURATION.search(text, m.start())), _ms(end) if end else None
    if m := re.search(rf"\b(?:last|final)\s+(?:{dur})", text, flags):
        return -_ms(_DURATION.search(text, m.start())), None
    if re.search(r"\b(?:at|near|towards?)\s+the\s+end\b", text, flags):
        return -TITLE_SPAN_MS, None
    if m := re.search(rf"\b(?:first|for)\s+(?:the\s+first\s+)?(?:{dur})", text, flags):
        return 0, _ms(_DURATION.search(text, m.start()))
    if m := re.search(rf"\b(?:at|starting\s+at|after)\s+(?:{dur})", text, flags):
        return _ms(_DURATION.search(text, m.start())), None
    return None, None


def _volume(text: str) -> float | None:
    if m := _PERCENT.search(text):
        return min(1.0, float(m.group(1)) / 100)
    if m := re.search(r"\bvolume\s+(?:to\s+|of\s+|at\s+)?(0?\.\d+|1\.0|0|1)\b", text, re.I):
        return float(m.group(1))
    return None


def _music_op(c: _Clause) -> EditOp | None:
    text = c.masked
    mood_m = re.search(rf"\b(?:{_MOOD_ALT})\b", text, re.IGNORECASE)
    mood = _canonical_mood(mood_m.group(0)) if mood_m else None
    if not _MUSIC_NOUN.search(text) and mood not in _GENRES:
        return None
    if re.search(rf"{_REMOVE_VERB}|\b(?:mute|no|without|stop|turn\s+off)\b", text, re.I):
        return RemoveMusic()
    volume = _volume(text)
    adding = re.search(
        r"\b(?:add|put|use|include|play|insert|give\s+it|swap|switch|replace|change)\b",
        text,
        re.IGNORECASE,
    )
    if adding and (mood or _MUSIC_ALONE.search(text)) and not re.search(r"\bvolume\b", text, re.I):
        return AddMusic(mood or DEFAULT_MOOD, volume)
    if volume is not None:
        return SetMusicVolume(volume)
    if re.search(r"\b(?:down|lower|quieter|softer|reduce|decrease)\b", text, re.IGNORECASE):
        return ScaleMusicVolume(0.5)
    if re.search(r"\b(?:up|louder|raise|increase|boost)\b", text, re.IGNORECASE):
        return ScaleMusicVolume(1.5)
    return None


def _duration_op(c: _Clause) -> EditOp | None:
    text = c.masked
    dur = _duration_matches(text)
    if not dur:
        return None
    seconds = _seconds(dur[0])
    cutting = re.search(r"\b(?:cut|trim|remove|delete|drop|chop|shave|skip|lose)\b", text, re.I)
    if cutting and re.search(r"\blast\b|\b(?:off|from)\s+the\s+end\b", text, re.I):
        return TrimEnd(seconds)
    if cutting and re.search(r"\bfirst\b|\b(?:off|from)\s+the\s+(?:start|beginning)", text, re.I):
        return TrimStart(seconds)
    if re.search(r"\b(?:trim|cut|shorten)\w*\b.*\bby\b", text, re.I):
        return TrimEnd(seconds)
    if re.search(
        r"\b(?:trim|cut|shorten|extend|lengthen|make|change|set|adjust|keep)\b", text, re.I
    ):
        return SetDuration(_clamp_seconds(seconds))
    return None


# ---------------------------------------------------------------------------
# Applying edits
# ---------------------------------------------------------------------------


def apply_edits(draft: dict[str, Any], ops: Sequence[EditOp]) -> dict[str, Any]:
    """A new draft with ``ops`` applied in order; ``draft`` itself is never changed."""
    out = copy.deepcopy(draft)
    if "t" not in out:  # liberal reading, strict writing: always write tracks as "t"
        out["t"] = out.pop("tracks", [])
    out["d"] = duration_ms(out)
    for op in ops:
        _APPLY[type(op)](out, op)
    return out


def _tracks(draft: dict[str, Any], kind: int) -> list[dict[str, Any]]:
    return [t for t in tracks_of(draft) if t.get("tt") == kind]


def _replace_track(draft: dict[str, Any], kind: int, segment: dict[str, Any]) -> None:
    """One track of ``kind`` holding ``segment``, placed in track-type order."""
    tracks = [t for t in draft["t"] if t.get("tt") != kind]
    new = {"tt": kind, "n": TRACK_NAMES[kind], "sg": [segment]}
    at = next((i for i, t in enumerate(tracks) if _kind(t) > kind), len(tracks))
    draft["t"] = [*tracks[:at], new, *tracks[at:]]


def _kind(track: dict[str, Any]) -> int:
    kind = track.get("tt")
    return kind if isinstance(kind, int) else 99


def _drop_track(draft: dict[str, Any], kind: int) -> None:
    draft["t"] = [t for t in draft["t"] if t.get("tt") != kind]


def _video_label(draft: dict[str, Any]) -> str:
    for track in _tracks(draft, TRACK_VIDEO):
        for seg in segments_of(track):
            if isinstance(seg.get("lb"), str) and seg["lb"]:
                return seg["lb"]
    return "My video"


def _resolve_span(op: AddTitle, d: int) -> tuple[int, int]:
    start = op.start_ms or 0
    if start < 0:
        start = max(0, d + start)
        end = d if op.end_ms is None else op.end_ms
    else:
        end = start + TITLE_SPAN_MS if op.end_ms is None else op.end_ms
    if end < 0:
        end = d + end
    if start >= d:  # a title asked past the end moves inside the video
        start = max(0, d - TITLE_SPAN_MS)
    end = min(max(end, start + 1), d)
    return start, end


def _add_title(draft: dict[str, Any], op: AddTitle) -> None:
    start, end = _resolve_span(op, draft["d"])
    text = op.text or _video_label(draft).title()
    _replace_track(draft, TRACK_TEXT, {"s": start, "e": end, "tx": text})


def _change_title(draft: dict[str, Any], op: ChangeTitleText) -> None:
    titles = _tracks(draft, TRACK_TEXT)
    if not any(segments_of(t) for t in titles):
        _add_title(draft, AddTitle(op.text))
        return
    for track in titles:
        for seg in segments_of(track):
            seg["tx"] = op.text
            seg.pop("lb", None)  # a stale label would contradict the new text


def _remove_title(draft: dict[str, Any], _op: RemoveTitle) -> None:
    _drop_track(draft, TRACK_TEXT)


def _music_segments(draft: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for t in _tracks(draft, TRACK_AUDIO) for s in segments_of(t)]


def _add_music(draft: dict[str, Any], op: AddMusic) -> None:
    current = [s.get("v") for s in _music_segments(draft) if isinstance(s.get("v"), int | float)]
    volume = op.volume if op.volume is not None else (current[0] if current else DEFAULT_VOLUME)
    segment = {"s": 0, "e": draft["d"], "lb": mood_label(op.mood), "v": round(volume, 3)}
    _replace_track(draft, TRACK_AUDIO, segment)


def _set_volume(draft: dict[str, Any], op: SetMusicVolume) -> None:
    for seg in _music_segments(draft):
        seg["v"] = round(min(1.0, max(0.0, op.volume)), 3)


def _scale_volume(draft: dict[str, Any], op: ScaleMusicVolume) -> None:
    for seg in _music_segments(draft):
        volume = seg.get("v") if isinstance(seg.get("v"), int | float) else DEFAULT_VOLUME
        seg["v"] = round(min(1.0, max(0.0, volume * op.factor)), 3)


def _remove_music(draft: dict[str, Any], _op: RemoveMusic) -> None:
    _drop_track(draft, TRACK_AUDIO)


def _set_duration(draft: dict[str, Any], op: SetDuration) -> None:
    _resize(draft, _clamp_seconds(op.seconds) * 1000)


def _trim_end(draft: dict[str, Any], op: TrimEnd) -> None:
    target = draft["d"] - round(op.seconds * 1000)
    _resize(draft, max(MIN_DURATION * 1000, target))


def _trim_start(draft: dict[str, Any], op: TrimStart) -> None:
    cut = min(round(op.seconds * 1000), draft["d"] - MIN_DURATION * 1000)
    if cut <= 0:
        return
    for track in tracks_of(draft):
        for seg in segments_of(track):
            seg["s"], seg["e"] = max(0, _num(seg.get("s")) - cut), _num(seg.get("e")) - cut
    _resize(draft, draft["d"] - cut)


def _resize(draft: dict[str, Any], new_d: int) -> None:
    old_d = draft["d"]
    if new_d > old_d:
        _stretch(draft, old_d, new_d)
    for track in tracks_of(draft):  # clip everything into the new length
        kept = [s for s in segments_of(track) if _num(s.get("s")) < new_d and _num(s.get("e")) > 0]
        for seg in kept:
            seg["e"] = min(_num(seg.get("e")), new_d)
        track["sg"] = kept
        track.pop("segments", None)
    draft["t"] = [t for t in draft["t"] if t.get("sg")]
    draft["d"] = new_d


def _stretch(draft: dict[str, Any], old_d: int, new_d: int) -> None:
    """Longer video: video segments scale with it, music that reached the end still does."""
    for track in _tracks(draft, TRACK_VIDEO):
        for seg in segments_of(track):
            seg["s"] = round(_num(seg.get("s")) * new_d / old_d) if old_d else 0
            seg["e"] = round(_num(seg.get("e")) * new_d / old_d) if old_d else new_d
    for seg in _music_segments(draft):
        if _num(seg.get("e")) >= old_d:
            seg["e"] = new_d


def _num(value: Any) -> int:
    return round(value) if isinstance(value, int | float) else 0


_APPLY: dict[type, Any] = {
    AddTitle: _add_title,
    ChangeTitleText: _change_title,
    RemoveTitle: _remove_title,
    AddMusic: _add_music,
    SetMusicVolume: _set_volume,
    ScaleMusicVolume: _scale_volume,
    RemoveMusic: _remove_music,
    SetDuration: _set_duration,
    TrimEnd: _trim_end,
    TrimStart: _trim_start,
}


# ---------------------------------------------------------------------------
# Building drafts
# ---------------------------------------------------------------------------


def build_draft(
    spec: VideoSpec,
    *,
    width: int,
    height: int,
    fps: int = 24,
    stage: Literal["raw", "final"],
    prompt: str = "",
    clip_id: str | None = None,
    media: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A draft for ``spec``. "raw" holds the video track only; "final" adds the BGM
    (when music was asked or an audio file was uploaded) and the title (when asked).

    ``media`` are uploaded items ({"id", "type", "name"}): videos and images share
    the video track in order (photos make a slideshow), the first audio file is the
    BGM. Segments reference their source by ``src`` (media id, or ``clip_id``)."""
    d = spec.duration_seconds * 1000
    meta = {"ratio": spec.aspect_ratio, "w": width, "h": height, "fps": fps}
    draft: dict[str, Any] = {"d": d, "m": {**meta, "prompt": prompt, "stage": stage}, "t": []}
    video = _video_segments(spec, media, clip_id)
    draft["t"].append({"tt": TRACK_VIDEO, "n": "Video", "sg": video})
    if stage == "final":
        music = _music_segment(spec, media)
        if music:
            draft["t"].append({"tt": TRACK_AUDIO, "n": "BGM", "sg": [music]})
        if spec.title:
            title = {"s": 0, "e": min(TITLE_SPAN_MS, d), "tx": spec.title}
            draft["t"].append({"tt": TRACK_TEXT, "n": "Title", "sg": [title]})
    return draft


def visual_media(media: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Uploaded items that can fill the video track (videos and photos)."""
    return [m for m in media if m.get("type") in ("video", "image")]


def _video_segments(
    spec: VideoSpec, media: Sequence[dict[str, Any]], clip_id: str | None
) -> list[dict[str, Any]]:
    d = spec.duration_seconds * 1000
    items = visual_media(media)
    if not items:
        seg = {"s": 0, "e": d, "lb": spec.subject}
        return [{**seg, "src": clip_id}] if clip_id else [seg]
    bounds = [round(i * d / len(items)) for i in range(len(items) + 1)]
    return [
        {"s": bounds[i], "e": bounds[i + 1], "lb": _media_name(item), "src": item.get("id")}
        for i, item in enumerate(items)
    ]


def _music_segment(spec: VideoSpec, media: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    d = spec.duration_seconds * 1000
    audio = next((m for m in media if m.get("type") == "audio"), None)
    if audio is not None:
        volume = spec.music_volume if spec.music_volume is not None else DEFAULT_VOLUME
        return {"s": 0, "e": d, "lb": _media_name(audio), "v": volume, "src": audio.get("id")}
    if spec.music_mood is None:
        return None
    volume = spec.music_volume if spec.music_volume is not None else DEFAULT_VOLUME
    return {"s": 0, "e": d, "lb": mood_label(spec.music_mood), "v": volume}


def _media_name(item: dict[str, Any]) -> str:
    return str(item.get("name") or item.get("id") or item.get("type") or "media")
