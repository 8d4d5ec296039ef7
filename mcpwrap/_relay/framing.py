"""Newline-delimited framing over a raw file descriptor, in linear time.

Each read scans only the bytes it added (never the whole buffer again), so a 64 MiB line costs one pass,
unlike ``(buffer + chunk).split("\\n")`` which rescans and copies the buffer on every chunk. A line longer
than the limit is not buffered: its head and tail are kept (enough to find a request id and answer it) and
the rest is discarded as it streams past. CRLF is tolerated (the ``\\r`` stays in ``raw`` and is forwarded
as received); lines holding only whitespace are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Frame", "LineReader", "READ_CHUNK", "DEFAULT_MAX_MESSAGE_BYTES"]

READ_CHUNK = 1 << 20  # one os.read; pipes deliver at most their capacity (64 KiB on Linux) anyway
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
OVERSIZE_HEAD = 64 * 1024  # kept from an oversized line: enough to find an id written first
OVERSIZE_TAIL = 512  # …and one written last (the TypeScript SDK writes "id" after "params")


@dataclass(slots=True)
class Frame:
    """One line. ``raw`` excludes the newline; for an oversized line it is the head only."""

    raw: bytes
    size: int
    oversized: bool = False
    tail: bytes = b""
    terminated: bool = True


class LineReader:
    def __init__(self, fd: int, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, chunk: int = READ_CHUNK) -> None:
        self.fd = fd
        self.max_bytes = max_bytes
        self.chunk = chunk
        self._buf = bytearray()
        self._scan = 0  # bytes of _buf already known to hold no newline
        self._discarding = False
        self._head = b""
        self._tail = b""
        self._skipped = 0

    def batches(self) -> Iterator[list[Frame]]:
        """Yield the complete lines of each read, until EOF (a final unterminated line is yielded too)."""
        while True:
            try:
                data = os.read(self.fd, self.chunk)
            except InterruptedError:  # pragma: no cover - PEP 475 retries, kept for clarity
                continue
            except OSError:
                data = b""
            if not data:
                last = self._finish()
                if last is not None:
                    yield [last]
                return
            frames = self.feed(data)
            if frames:
                yield frames

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        if self._discarding:
            nl = data.find(b"\n")
            if nl < 0:
                self._skip(data)
                return frames
            self._skip(data[:nl])
            frames.append(self._oversized_frame())
            data = data[nl + 1 :]
        buf = self._buf
        buf += data
        start = 0
        pos = buf.find(b"\n", self._scan)
        with memoryview(buf) as view:  # slices of a view copy once; slices of a bytearray copy twice
            while pos >= 0:
                if pos - start > self.max_bytes:
                    self._head = bytes(view[start : min(pos, start + OVERSIZE_HEAD)])
                    self._tail = bytes(view[max(start, pos - OVERSIZE_TAIL) : pos])
                    self._skipped = pos - start
                    frames.append(self._oversized_frame())
                else:
                    line = bytes(view[start:pos])
                    if line.strip():
                        frames.append(Frame(line, len(line)))
                start = pos + 1
                pos = buf.find(b"\n", start)
        if start:
            del buf[:start]
        self._scan = len(buf)
        if len(buf) > self.max_bytes:
            # Too long already: keep head and tail only, drop the rest as it arrives.
            self._discarding = True
            self._head = bytes(buf[:OVERSIZE_HEAD])
            self._tail = bytes(buf[-OVERSIZE_TAIL:])
            self._skipped = len(buf)
            buf.clear()
            self._scan = 0
        return frames

    def _skip(self, data: bytes) -> None:
        self._skipped += len(data)
        self._tail = (self._tail + data[-OVERSIZE_TAIL:])[-OVERSIZE_TAIL:]

    def _oversized_frame(self) -> Frame:
        frame = Frame(self._head, self._skipped, oversized=True, tail=self._tail)
        self._discarding = False
        self._head = self._tail = b""
        self._skipped = 0
        return frame

    def _finish(self) -> Frame | None:
        if self._discarding:
            frame = self._oversized_frame()
            frame.terminated = False
            return frame
        if self._buf.strip():
            line = bytes(self._buf)
            self._buf.clear()
            return Frame(line, len(line), terminated=False)
        return None
