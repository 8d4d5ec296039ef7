#!/usr/bin/env python3
"""The floor: the least a correct single-threaded Python stdio relay for newline-delimited JSON-RPC must do.

    python benchmarks/floor_relay.py SERVER [ARGS...]

One thread, one readiness loop (``select.epoll`` where there is one, else ``selectors``) over the client's
stdin and the server's stdout. Each readable pipe is read with one ``os.read``; the complete lines of that
read (everything up to its last newline) are written to the other side with one ``os.write``; a partial line
waits for the rest (its pieces are kept as read and written with the piece that completes it with
``os.writev``, never joined: a 10 MB line costs no copy). No parsing, no policy, no audit.

Writes are non-blocking: what a full pipe does not take is kept and written when the pipe drains, and the
side that feeds it is not read meanwhile — memory stays bounded and neither direction stalls the other. The
fast path (nothing pending, the read ends on a newline) is one ``os.write`` of the bytes as read.

``bench_relay.py`` runs it beside the server alone and beside ``mcpwrap wrap`` in the same run: what mcpwrap
adds beyond what this relay adds is mcpwrap's own work. It is deliberately the *least* a relay does — no
framing limit, no oversized-line handling — so it bounds from below what a one-loop Python relay costs on the
machine at hand (interpreter start, two extra pipe hops, one wake-up per read).

Lifecycle: the client's EOF closes the server's stdin (after what is pending was written); the server's
stdout EOF ends the loop; the relay exits with the server's status.
"""

from __future__ import annotations

import os
import select
import selectors
import signal
import subprocess
import sys

READ_CHUNK = 1 << 20  # one read takes whatever the pipe holds (at most its 64 KiB capacity on Linux)
IOV_MAX = 1024  # buffers per writev (Linux)


class _Side:
    """One direction: read from ``src``, write whole lines to ``dst``."""

    __slots__ = ("src", "dst", "partial", "pending", "eof")

    def __init__(self, src: int, dst: int) -> None:
        self.src = src
        self.dst = dst
        self.partial: list[bytes] = []  # reads since the last newline
        self.pending: list[memoryview] = []  # what the destination pipe did not take yet
        self.eof = False

    def flush(self) -> bool:
        """Write what is pending; True when nothing is left."""
        pending = self.pending
        while pending:
            try:
                n = os.writev(self.dst, pending[:IOV_MAX])
            except BlockingIOError:
                return False
            except OSError:  # the reader is gone: drop what it can no longer receive
                pending.clear()
                return True
            while n:
                if n >= len(pending[0]):
                    n -= len(pending.pop(0))
                else:
                    pending[0] = pending[0][n:]
                    n = 0
        return True

    def take(self, data: bytes) -> bool:
        """Queue the complete lines of ``data`` and write them; False when the destination is full."""
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            self.partial.append(data)
            return True
        if not self.partial and not self.pending and cut == len(data):
            try:  # the fast path: one whole-lines read, written as read
                n = os.write(self.dst, data)
            except BlockingIOError:
                n = 0
            except OSError:
                return True
            if n == len(data):
                return True
            self.pending.append(memoryview(data)[n:])
            return self.flush()
        view = memoryview(data)
        self.pending += map(memoryview, self.partial)
        self.pending.append(view[:cut])
        self.partial = [data[cut:]] if cut < len(data) else []
        return self.flush()


class _Poller:
    """epoll where there is one (one system call per wake-up, no per-call bookkeeping), else selectors.

    A descriptor the kernel cannot poll (a regular file or /dev/null as stdin) is always ready.
    """

    def __init__(self) -> None:
        self.epoll = select.epoll() if hasattr(select, "epoll") else None
        self.sel = None if self.epoll is not None else selectors.DefaultSelector()
        self.always: set[int] = set()

    def watch(self, fd: int, write: bool) -> None:
        try:
            if self.epoll is not None:
                self.epoll.register(fd, select.EPOLLOUT if write else select.EPOLLIN)
            else:
                self.sel.register(fd, selectors.EVENT_WRITE if write else selectors.EVENT_READ)
        except (PermissionError, ValueError):
            self.always.add(fd)

    def unwatch(self, fd: int) -> None:
        if fd in self.always:
            self.always.discard(fd)
        elif self.epoll is not None:
            self.epoll.unregister(fd)
        else:
            self.sel.unregister(fd)

    def ready(self) -> list[int]:
        timeout = 0 if self.always else None
        if self.epoll is not None:
            fds = [fd for fd, _ in self.epoll.poll(-1 if timeout is None else 0)]
        else:
            fds = [key.fd for key, _ in self.sel.select(timeout)]
        return [*self.always, *fds] if self.always else fds


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("usage: floor_relay.py SERVER [ARGS...]\n")
        return 2
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, start_new_session=True)
    assert child.stdin is not None and child.stdout is not None
    to_server, from_server = child.stdin.fileno(), child.stdout.fileno()
    c2s = _Side(0, to_server)
    s2c = _Side(from_server, 1)
    for fd in (to_server, 1):
        os.set_blocking(fd, False)
    poller = _Poller()
    sources = {0: c2s, from_server: s2c}  # fd being read -> its side
    sinks: dict[int, _Side] = {}  # fd waited on for writing -> its side
    for fd in sources:
        poller.watch(fd, write=False)

    def close_server_stdin() -> None:
        try:
            os.close(to_server)
        except OSError:
            pass

    server_open = True
    while server_open:
        for fd in poller.ready():
            side = sinks.get(fd)
            if side is not None:  # a full destination drained
                if side.flush():
                    poller.unwatch(fd)
                    del sinks[fd]
                    if side.eof:
                        if side is c2s:
                            close_server_stdin()
                    else:
                        poller.watch(side.src, write=False)  # resume reading this direction
                        sources[side.src] = side
                continue
            side = sources.get(fd)
            if side is None:
                continue
            try:
                data = os.read(fd, READ_CHUNK)
            except OSError:
                data = b""
            if not data:
                side.eof = True
                poller.unwatch(fd)
                del sources[fd]
                if side.partial:  # a last line without its newline still goes through
                    side.pending += map(memoryview, side.partial)
                    side.partial = []
                if side is c2s:
                    if side.pending:
                        poller.watch(side.dst, write=True)
                        sinks[side.dst] = side
                    else:
                        close_server_stdin()
                else:
                    server_open = False
                continue
            if not side.take(data):
                # The destination is full: stop reading this direction until it drains.
                poller.unwatch(fd)
                del sources[fd]
                poller.watch(side.dst, write=True)
                sinks[side.dst] = side
    if s2c.pending or s2c.partial:
        s2c.pending += map(memoryview, s2c.partial)
        os.set_blocking(1, True)
        s2c.flush()
    if not c2s.eof:
        close_server_stdin()
    rc = child.wait()
    return 128 - rc if rc < 0 else rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
