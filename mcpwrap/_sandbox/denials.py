"""Making the sandbox's refusals visible: which path the server was refused, from what the server says.

The kernel does not tell an unprivileged process what Landlock refused (ABI 7 can log denials, but only to
the audit subsystem, which only root may read). What is visible is what the server reports: programs print
a refused path with the error — ``EACCES: permission denied, open '/home/u/.ssh/id_rsa'`` (Node),
``PermissionError: [Errno 13] Permission denied: '/…'`` (Python), ``cat: /…: Permission denied`` (C tools) —
on their stderr, which mcpwrap relays (byte for byte) and reads on the way. A line that carries a refusal
word and a path the profile keeps from the server becomes one audit record: the server, the path, the
profile list that denied it (credentials, mcpwrap's files, read-only, outside the profile) and the error
word. The same recogniser reads tool results (a refused ``read_file`` comes back as an error text).

Limits, stated in docs/sandbox.md: a server that hides its failures (a hostile one probing quietly) leaves
no record — it is still refused. A path the server spells relatively is resolved against its working
directory. Records are deduplicated per path and capped per session (:data:`MAX_RECORDS`). The scan uses
substring searches and splitting only (linear in the line; lines are cut at :data:`LINE_LIMIT`).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable

__all__ = ["DenialScanner", "StderrRelay", "MAX_RECORDS", "LINE_LIMIT"]

MAX_RECORDS = 200  # denial records per session; further ones are counted, not recorded
LINE_LIMIT = 8192  # bytes of one stderr line that are scanned (all of it is relayed)
_MARKERS = (
    "EACCES", "EPERM", "EROFS", "Permission denied", "permission denied", "Operation not permitted",
    "operation not permitted", "Read-only file system", "read-only file system",
)
_STRIP = "'\"`()[]{}<>,;:"


class DenialScanner:
    """Recognises refusals of profile paths in text and calls ``record(fields)`` once per path.

    ``classify(path)`` says which profile list keeps ``path`` from the server (or None: not the sandbox's doing).
    """

    def __init__(self, classify: Callable[[str], str | None], cwd: str, home: str) -> None:
        self.classify = classify
        self.cwd = cwd
        self.home = home
        self.record: Callable[[dict], None] | None = None
        self.pending: list[dict] = []  # found before an audit log was attached
        self.seen: set[str] = set()
        self.count = 0
        self.dropped = 0
        self._lock = threading.Lock()

    def scan(self, text: str, source: str) -> None:
        marker = next((m for m in _MARKERS if m in text), None)
        if marker is None:
            return
        for line in text.splitlines():
            line = line[:LINE_LIMIT]
            word = next((m for m in _MARKERS if m in line), None)
            if word is None:
                continue
            for token in line.replace("'", " ").replace('"', " ").replace("‘", " ").replace("’", " ").split():
                token = token.strip(_STRIP)
                if not token or len(token) > 4096:
                    continue
                spelled = token.startswith(("/", "~/", "./", "../"))
                if not spelled and "." not in token and "/" not in token:
                    continue  # a bare word ("cannot", "sh"): not a file name worth resolving
                path = self._absolute(token)
                profile = self.classify(path)
                # A bare relative name counts only where the profile names it (a protected file beside the server).
                if profile is not None and (spelled or profile != "outside the profile"):
                    self._found({"path": path, "denied_by": profile, "error": _error_name(word), "source": source})

    def _absolute(self, token: str) -> str:
        if token.startswith("~/"):
            token = self.home + token[1:]
        return os.path.normpath(os.path.join(self.cwd, token))

    def _found(self, fields: dict) -> None:
        with self._lock:
            if fields["path"] in self.seen:
                return
            self.seen.add(fields["path"])
            if self.count >= MAX_RECORDS:
                self.dropped += 1
                return
            self.count += 1
            record = self.record
            if record is None:
                self.pending.append(fields)
                return
        record(fields)

    def attach(self, record: Callable[[dict], None]) -> None:
        with self._lock:
            self.record = record
            pending, self.pending = self.pending, []
        for fields in pending:
            record(fields)


def _error_name(word: str) -> str:
    lowered = word.lower()
    if "erofs" in lowered or "read-only" in lowered:
        return "EROFS"
    return "EPERM" if "perm" in lowered and "denied" not in lowered else "EACCES"


# Terminal control bytes (C0 but tab/newline/carriage return, DEL, and C1 as UTF-8): an escape sequence in the
# server's stderr would act on the person's terminal (OSC 52 writes the clipboard, others retitle or redraw).
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]")
_OWN_PREFIX = re.compile(rb"(^|\n)([ \t]*mcpwrap)", re.IGNORECASE)


def defang(data: bytes, at_line_start: bool) -> tuple[bytes, bool]:
    """The server's stderr as it may reach a person: control bytes shown as ``\\xNN``, and a line that begins
    like mcpwrap's own messages marked as the server's. Returns the bytes and whether they end a line."""
    shown = _CONTROL.sub(lambda m: b"".join(b"\\x%02x" % b for b in m.group()), data)
    shown = _OWN_PREFIX.sub(lambda m: m.group(1) + b"[server] " + m.group(2) if m.group(1) or at_line_start else m.group(0), shown)
    return shown, shown.endswith(b"\n") if shown else at_line_start


class StderrRelay:
    """Copies the server's stderr to mcpwrap's, scanning complete lines for refusals. What reaches the person is
    defanged (:func:`defang`): no terminal control sequence, no line posing as mcpwrap's.

    The server's stderr used to be mcpwrap's own (inherited). Through a pipe it cannot reach the terminal or
    socket mcpwrap's stderr is (no ``TIOCSTI`` into a terminal, no reading back from a socket pair).
    """

    def __init__(self, fd: int, scanner: DenialScanner | None, out_fd: int = 2) -> None:
        self.fd = fd
        self.scanner = scanner
        self.out_fd = out_fd
        self.thread = threading.Thread(target=self._run, name="mcpwrap-server-stderr", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        tail = b""
        at_line_start = True
        try:
            while True:
                try:
                    data = os.read(self.fd, 65536)
                except InterruptedError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                try:
                    shown, at_line_start = defang(data, at_line_start)
                    _write_all(self.out_fd, shown)
                except OSError:
                    pass  # our stderr is gone: keep draining so the server never blocks on a full pipe
                if self.scanner is not None:
                    lines = (tail + data).split(b"\n")
                    tail = lines.pop()[-LINE_LIMIT:]
                    if lines:
                        self.scanner.scan(b"\n".join(lines).decode("utf-8", "replace"), "stderr")
            if tail and self.scanner is not None:
                self.scanner.scan(tail.decode("utf-8", "replace"), "stderr")
        finally:
            os.close(self.fd)

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
