"""Writing to one pipe: the client's stdout or the server's stdin.

Both pumps (and a held request's decision, from its own thread) write to the same two pipes, so each pipe has
one :class:`PipeWriter` that serialises writers with a lock: the chunks of one ``write`` call reach the pipe
together and in order, never interleaved with another call's. Chunks go out with ``writev``, so a large
message and its newline are never copied to be joined. Once the reader is gone (``EPIPE``), or the pipe was
closed on purpose, every later write reports False instead of raising: the caller answers what could not be
delivered.
"""

from __future__ import annotations

import os
import threading

__all__ = ["PipeWriter", "IOV_MAX"]

IOV_MAX = 1024  # buffers per writev call (POSIX guarantees at least 16; Linux allows 1024)


class PipeWriter:
    """One output pipe, shared by both pumps."""

    __slots__ = ("fd", "name", "lock", "closed")

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name
        self.lock = threading.Lock()
        self.closed = False

    def write(self, *chunks: bytes) -> bool:
        """Write all chunks in order; False when the pipe is closed (nothing more can be delivered)."""
        pending = [memoryview(c) for c in chunks if c]
        if not pending:
            return True
        with self.lock:
            if self.closed:
                return False
            try:
                while pending:
                    n = os.writev(self.fd, pending[:IOV_MAX])
                    while n and pending:
                        if n >= len(pending[0]):
                            n -= len(pending[0])
                            pending.pop(0)
                        else:
                            pending[0] = pending[0][n:]
                            n = 0
            except OSError:  # EPIPE: the reader is gone
                self.closed = True
                return False
        return True

    def close(self) -> None:
        """Close the pipe (for the server's stdin: the end-of-input that asks it to exit)."""
        with self.lock:
            if not self.closed:
                self.closed = True
                try:
                    os.close(self.fd)
                except OSError:
                    pass
