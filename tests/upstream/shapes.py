"""The fixture files of ``tests/upstream/fixtures``: raw bytes, their HTTP status and source.

JSON, HTML and text fixtures are listed in ``fixtures/SOURCES.md`` (file, HTTP
status, shape, source); SSE fixtures name their source in a first
``: source: ...`` comment line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
SOURCES = FIXTURES / "SOURCES.md"
SSE_SOURCE = b": source: "


@dataclass(frozen=True)
class Listed:
    status: int
    shape: str
    source: str


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@cache
def listed() -> dict[str, Listed]:
    """The rows of SOURCES.md's table, by file name."""
    rows: dict[str, Listed] = {}
    for line in SOURCES.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1].isdigit():
            rows[cells[0]] = Listed(int(cells[1]), cells[2], cells[3])
    return rows


def status(name: str) -> int:
    return listed()[name].status


def files(suffix: str) -> list[str]:
    return sorted(path.name for path in FIXTURES.glob(f"*{suffix}"))


def sse_source(raw: bytes) -> str | None:
    first = raw.removeprefix(b"\xef\xbb\xbf").splitlines()[0] if raw else b""
    return first.removeprefix(SSE_SOURCE).decode() if first.startswith(SSE_SOURCE) else None
