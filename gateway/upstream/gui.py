"""Translate the backend's GUI wording for API users (protocol section 9), sans-I/O.

The backend believes a web editor is on the other side ("click the Export button
to download"). API users have no buttons, so each clause that asks for a GUI
action is removed; a few are replaced by what the API offers instead. Content
descriptions ("I added a lo-fi track at 35%") are kept untouched.

Text is cut into sentences, sentences into clauses (commas, semicolons, and
"and/then" before a GUI verb); a clause is classified by the first matching rule.
"""

from __future__ import annotations

import re

# Full-width CJK punctuation, spelt as escapes so the source stays unambiguous.
_CJK_STOP = "\u3002\uff01\uff1f"  # full stop, exclamation, question mark
_CJK_PAUSE = "\uff0c\uff1b"  # comma, semicolon
_GUI_VERB = r"\b(?:click\w*|tap|tapping|press|pressing)\b|\b(?:button|icon)s?\b|点击|单击|轻触|按钮"
_RULE_PATTERNS: dict[str, tuple[str, ...]] = {
    "export": (
        rf"(?:{_GUI_VERB}).*\b(?:export|download)",
        rf"\b(?:export|download)\w*\b.*(?:{_GUI_VERB})",
        r"\byou can (?:now )?(?:export|download)\b",
        r"\bexport (?:panel|menu|option|dialog)\b",
        r"导出|下载",
    ),
    "billing": (
        r"\b(?:check|visit|go to|open|see|view)\b.*\b(?:account|billing|subscription|pricing)\b",
        r"\b(?:account|billing) (?:page|settings)\b",
        r"(?:查看|前往|打开|点击|去).*(?:账户|账号|充值|计费|订阅)",
    ),
    "drag": (
        r"\bdrag\w*\b",
        r"\bdrop (?:it|them|the|your|a|files?)\b",
        r"拖拽|拖动|拖放|拖入|拖到",
    ),
    "preview": (
        r"\b(?:preview|play|watch|view)\w*\b.*\b(?:timeline|player|canvas)\b",
        r"\bpreview (?:it |the video |your video )?(?:in|on)\b",
        r"预览|(?:查看|播放).*(?:时间轴|时间线)",
    ),
    "panel": (
        r"\bopen\w*\b.*\b(?:panel|sidebar|tab|menu|toolbar|settings|editor|window|library)\b",
        r"\b(?:in|from|on) the [\w ]{0,24}(?:panel|sidebar|toolbar)\b",
        r"打开|面板|侧边栏|菜单|工具栏",
    ),
    "gui": (_GUI_VERB,),
}
_RULES = tuple(
    (name, re.compile("|".join(patterns), re.IGNORECASE))
    for name, patterns in _RULE_PATTERNS.items()
)
_PHRASES = {
    "export": ("The video can be exported through the API.", "成片可以通过 API 获取\u3002"),
    "billing": ("The credit balance can be read through the API.", "积分余额可通过 API 查询\u3002"),
    "drag": ("Further edits can be sent as a chat message.", "如需调整请直接发送编辑指令\u3002"),
    "preview": ("The track summary describes the timeline.", "轨道摘要描述了当前时间线\u3002"),
}
_CJK = re.compile(r"[\u3400-\u9fff]")
_SENTENCE = re.compile(rf".*?(?:[.!?]+(?=\s|$)|[{_CJK_STOP}]+|$)")
_CLAUSE_SEP = re.compile(
    rf"(,\s*|;\s*|[{_CJK_PAUSE}]|\s+(?:and|then|or)\s+(?=(?:you\s+(?:can|may|could)\s+)?"
    r"(?:click|tap|press|open|drag|use|go|check|visit|preview)\b))",
    re.IGNORECASE,
)
_SHAPE = re.compile(rf"^(\s*)(.*?)([.!?{_CJK_STOP}]*)(\s*)$", re.DOTALL)
_TRAILER = re.compile(
    r"^\W*(?:sorry\W*)?(?:but\s+)?(?:i|we)?\s*(?:have\s+|'ve\s+)?(?:encountered|ran into|hit)\s+"
    r"a\s+temporary\s+(?:issue|problem|error)|遇到了?(?:一个)?临时(?:性)?(?:问题|错误)",
    re.IGNORECASE,
)


def translate_gui(text: str) -> str:
    """Strip GUI actions from agent text; each replacement phrase appears at most once."""
    used: set[str] = set()
    lines = [_line(line, used) for line in text.split("\n")]
    kept = [new for old, new in zip(text.split("\n"), lines, strict=True) if new or not old.strip()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def is_ignorable_trailer(text: str) -> bool:
    """The backend's "I encountered a temporary issue" that may trail a normal reply."""
    return len(text) < 300 and bool(_TRAILER.search(text.strip()))


def classify(clause: str) -> str | None:
    """The GUI rule a clause matches ("export", "billing", ...), or None for content."""
    for name, pattern in _RULES:
        if pattern.search(clause):
            return name
    return None


def _line(line: str, used: set[str]) -> str:
    sentences = [s for s in _SENTENCE.findall(line) if s.strip()]
    out = "".join(_sentence(s, used) for s in sentences)
    return re.sub(r"[ \t]{2,}", " ", out).strip()


def _sentence(sentence: str, used: set[str]) -> str:
    lead, body, end, trail = _SHAPE.match(sentence).groups()  # type: ignore[union-attr]
    pieces = _CLAUSE_SEP.split(body)
    kept: list[str] = []
    phrases: list[str] = []
    for index in range(0, len(pieces), 2):
        clause, rule = pieces[index], classify(pieces[index])
        if rule is None:
            kept += [pieces[index - 1], clause] if kept else [clause]
        elif rule in _PHRASES:
            phrases.append(_PHRASES[rule][1 if _CJK.search(clause) else 0])
    result = lead + (_capitalize("".join(kept).strip(), body) + end + trail if kept else "")
    for phrase in phrases:
        if phrase not in used:
            used.add(phrase)
            result = _append(result, phrase)
    return result


def _append(text: str, phrase: str) -> str:
    if not text.strip():
        return text + phrase + " "
    joiner = "" if _CJK.search(phrase) else " "
    return text.rstrip() + joiner + phrase + " "


def _capitalize(text: str, original: str) -> str:
    if text and original[:1].isupper():
        return text[0].upper() + text[1:]
    return text
