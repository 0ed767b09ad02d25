"""A sans-I/O Server-Sent Events decoder that also reports comment lines.

httpx-sse's decoder drops comment lines (``: heartbeat``) silently, yet the
upstream uses them as keep-alives and the worker wants to see every keep-alive
(lease renewal, "still working" reports). So the stream is decoded here: bytes
in, ``SSEFrame`` objects out, following the WHATWG event-stream rules: lines end
with CRLF, LF or CR (a CRLF may be split across reads); a leading BOM is dropped;
a blank line dispatches; ``data`` lines join with LF; a line without a colon is
a field with an empty value; one space after the colon is dropped; ``id`` (not
containing NUL) persists across events; ``retry`` (ASCII digits only) sets
``SSEDecoder.retry``; unknown fields are ignored.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_EOL = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class SSEFrame:
    """One dispatched event, or one comment line when ``comment`` is True."""

    event: str = ""
    data: str = ""
    id: str = ""
    comment: bool = False


# Chunks this short that leave the decoder as they found it are remembered:
# keep-alives come as one small chunk each, thousands a minute per worker.
_MEMO_BYTES = 64
_MEMO_SIZE = 16
_MemoKey = tuple[bytes, str, int | None]
_MemoValue = tuple[list[SSEFrame], str, int | None]


class SSEDecoder:
    """Feed raw body chunks, get frames; call ``flush()`` at the end of the body.

    ``retry`` is the reconnection time (ms) the stream last asked for, or None.
    """

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._started = False
        self._id = ""  # the last event id persists across events (spec)
        self.retry: int | None = None
        self._reset()
        # (chunk, id, retry before) -> (frames, id, retry after): only for chunks
        # fed and ended in the idle state (no partial line, event or UTF-8
        # sequence), where the output depends on nothing else.
        self._memo: dict[_MemoKey, _MemoValue] = {}

    @property
    def last_event_id(self) -> str:
        return self._id

    def feed(self, chunk: bytes) -> list[SSEFrame]:
        if len(chunk) > _MEMO_BYTES or not self._idle():
            return self._feed_text(self._text.decode(chunk))
        key = (chunk, self._id, self.retry)
        known = self._memo.get(key)
        if known is not None:
            frames, self._id, self.retry = known
            return list(frames)
        frames = self._feed_text(self._text.decode(chunk))
        if self._idle() and len(self._memo) < _MEMO_SIZE:
            self._memo[key] = (list(frames), self._id, self.retry)
        return frames

    def _idle(self) -> bool:
        return (
            self._started
            and not self._buffer
            and not self._data
            and not self._event
            and not self._text.getstate()[0]
        )

    def flush(self) -> list[SSEFrame]:
        """End of body. An event whose lines all ended is dispatched even without the
        final blank line (lenient); a last line cut mid-way is discarded."""
        frames = self._feed_text(self._text.decode(b"", final=True))
        if self._buffer.endswith("\r"):
            frames += self._frames([self._buffer[:-1]])
        self._buffer = ""
        return frames + self._frames([""])

    def _feed_text(self, text: str) -> list[SSEFrame]:
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        return self._frames(self._lines(text))

    def _frames(self, lines: list[str]) -> list[SSEFrame]:
        frames = (self._line(line) for line in lines)
        return [frame for frame in frames if frame is not None]

    def _lines(self, text: str) -> list[str]:
        buffer = self._buffer + text
        lines, pos = [], 0
        for match in _EOL.finditer(buffer):
            if match.group() == "\r" and match.end() == len(buffer):
                break  # may be the first half of a CRLF split across chunks
            lines.append(buffer[pos : match.start()])
            pos = match.end()
        self._buffer = buffer[pos:]
        return lines

    def _line(self, line: str) -> SSEFrame | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return SSEFrame(data=line[1:].strip(), comment=True)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)
        return None

    def _dispatch(self) -> SSEFrame | None:
        # The spec skips events without data; "event: heartbeat" alone is a keep-alive
        # the upstream really sends, so an event name is enough to dispatch.
        if not self._data and not self._event:
            return None
        frame = SSEFrame(event=self._event, data="\n".join(self._data), id=self._id)
        self._reset()
        return frame

    def _reset(self) -> None:
        self._event = ""
        self._data: list[str] = []
