"""Writing to a pipe: one writer per output, shared by everything that writes there.

A message is written with ``writev`` from the pieces it came in (a large message is never copied to be
joined), and all pieces of one call land together: the writer's lock keeps another writer's message from
interleaving. A write to a pipe whose reader is gone (EPIPE) closes the writer and reports False; the caller
then answers what could not be delivered.
"""

from __future__ import annotations

import os
import threading

__all__ = ["PipeWriter", "IOV_MAX"]

IOV_MAX = 1024  # buffers per writev call (POSIX guarantees at least 16; Linux allows 1024)


class PipeWriter:
    """One output pipe, shared by both pumps."""

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name
        self.lock = threading.Lock()
        self.closed = False

    def write(self, *chunks: bytes) -> bool:
        """Write all chunks in order (``writev``: a large message is never copied to be joined)."""
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
        with self.lock:
            if not self.closed:
                self.closed = True
                try:
                    os.close(self.fd)
                except OSError:
                    pass
