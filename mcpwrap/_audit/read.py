"""Reading the audit log: records from the whole chain of files, filters, and following a growing log.

Readers never take the writers' lock: a writer appends whole lines in one ``write()``, so a reader sees
complete lines, plus at most a partial last line that it keeps until its newline arrives. A follower notices
rotation (the path now names another inode), finishes the old file, and continues with the new one.
:func:`last_activity` reads a log backwards from its end, for the newest record of each server. Counting and
aggregating records is :mod:`mcpwrap._audit.stats`.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO

from .._fs import open_file
from .files import expand

__all__ = [
    "RecordFilter",
    "read_records",
    "follow",
    "last_activity",
    "expand",
    "action_of",
    "action_label",
    "direction_arrow",
    "parse_ts",
    "parse_since",
    "default_log_path",
]

FOLLOW_POLL = 0.25  # seconds between checks of a quiet log while following
TAIL_BLOCK = 64 * 1024  # bytes read at a time when reading a log backwards from its end
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def default_log_path(policy: str | None = None) -> Path:
    """The log ``wrap`` writes to: the policy's ``audit.path``, else ``$MCPWRAP_HOME/audit.jsonl``."""
    from .._config import load_section
    from .._paths import default_audit_path, resolve_policy_path
    from .writer import AUDIT_SECTION

    settings = load_section(resolve_policy_path(policy), AUDIT_SECTION)
    path = settings.path
    return Path(os.path.expanduser(path)) if path else default_audit_path()


def action_of(rec: dict) -> str:
    """What happened, in one word: pass / modify / block for messages, the event name otherwise."""
    action = rec.get("action")
    if isinstance(action, str):
        return action
    event = rec.get("event", "?")
    return "block" if event == "refused" else str(event)


# Lifecycle events in a six-character action column.
EVENT_LABELS = {
    "session-start": "start",
    "session-end": "end",
    "answered-on-exit": "exit",
    "policy-reload": "reload",
    "audit-gap": "GAP",
    "log-rotated": "rotate",
    "key-added": "key",
}


def action_label(rec: dict) -> str:
    action = action_of(rec)
    return EVENT_LABELS.get(action, action)


def direction_arrow(rec: dict) -> str:
    """→ client to server, ← server to client."""
    return {"c2s": "→", "s2c": "←"}.get(str(rec.get("direction")), "")


def parse_ts(ts: Any) -> float | None:
    """Seconds since the epoch of a record's ``ts``."""
    if not isinstance(ts, str):
        return None
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def parse_since(text: str, now: datetime | None = None) -> str:
    """``--since`` as a record timestamp: a duration back from now (``30s``, ``10m``, ``2h``, ``1d``) or a time."""
    now = now or datetime.now(timezone.utc)
    m = _DURATION.match(text.strip())
    if m:
        moment = now - timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    else:
        try:
            moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"--since takes a duration such as 10m, 2h, 1d or a time such as 2026-01-31T12:00, not {text!r}") from None
        if moment.tzinfo is None:
            moment = moment.astimezone()  # a time without zone is local time
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class RecordFilter:
    server: str | None = None
    tool: str | None = None
    action: str | None = None
    since: str | None = None  # a record timestamp (see parse_since); records are compared as strings
    subject: str | None = None

    def __call__(self, rec: dict) -> bool:
        if self.server is not None and rec.get("server") != self.server:
            return False
        if self.tool is not None and rec.get("tool") != self.tool:
            return False
        if self.action is not None and action_of(rec) != self.action:
            return False
        if self.subject is not None and rec.get("subject") != self.subject:
            return False
        if self.since is not None and not (isinstance(rec.get("ts"), str) and rec["ts"] >= self.since):
            return False
        return True


def _open_log(path: str | os.PathLike) -> BinaryIO:
    """A log file for reading: never through a link (the writer never writes through one, so a link at a log's
    path is not the log mcpwrap wrote), and a regular file."""
    return os.fdopen(open_file(path, os.O_RDONLY, what="audit log", owned=False), "rb")


def _decode(line: bytes) -> dict | None:
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


def read_records(paths: Iterable[str | os.PathLike], keep: RecordFilter | None = None, *, raw: bool = False) -> Iterator[Any]:
    """Records of the given files in order (lines that are not records are skipped). ``raw``: (bytes, dict)."""
    for path in paths:
        try:
            f = _open_log(path)
        except FileNotFoundError:
            continue
        with f:
            for line in f:
                if not line.endswith(b"\n"):
                    break  # a line still being written
                rec = _decode(line)
                if rec is None or (keep is not None and not keep(rec)):
                    continue
                yield (line, rec) if raw else rec


def follow(
    paths: Sequence[str | os.PathLike],
    *,
    from_start: bool = False,
    poll: float = FOLLOW_POLL,
    idle_ticks: bool = False,
) -> Generator[tuple[bytes, dict] | None, None, None]:
    """New records of growing logs, as (line, record), forever. ``idle_ticks``: yield None when nothing came."""
    state: dict[str, dict] = {}

    def open_at(p: str, start: bool) -> None:
        try:
            f = _open_log(p)
        except FileNotFoundError:
            state[p] = {"f": None, "buf": b"", "ino": None}
            return
        if not start:
            f.seek(0, os.SEEK_END)
        st = os.fstat(f.fileno())
        state[p] = {"f": f, "buf": b"", "ino": (st.st_dev, st.st_ino)}

    for p in [os.fspath(path) for path in paths]:
        open_at(p, from_start)
    try:
        while True:
            got = False
            for p, s in state.items():
                f = s["f"]
                if f is None:
                    if os.path.exists(p):
                        open_at(p, True)
                    continue
                chunk = f.read()
                if chunk:
                    got = True
                    s["buf"] += chunk
                    *lines, s["buf"] = s["buf"].split(b"\n")
                    for line in lines:
                        rec = _decode(line)
                        if rec is not None:
                            yield line + b"\n", rec
                    continue
                try:
                    st = os.stat(p)
                    moved = (st.st_dev, st.st_ino) != s["ino"]
                    truncated = not moved and st.st_size < f.tell()
                except FileNotFoundError:
                    moved, truncated = True, False
                if moved:  # rotated: the old file is finished (read to its end above)
                    f.close()
                    open_at(p, True)
                elif truncated:
                    f.seek(0)
                    s["buf"] = b""
            if not got:
                if idle_ticks:
                    yield None
                time.sleep(poll)
    finally:
        for s in state.values():
            if s["f"] is not None:
                s["f"].close()


def last_activity(path: str | os.PathLike, servers: set[str]) -> dict[str, str]:
    """The timestamp of the newest record of each of ``servers`` in one log file, reading it backwards from its
    end (``mcpwrap status`` asks this of a log that may hold gigabytes)."""
    found: dict[str, str] = {}
    try:
        f = _open_log(path)
    except OSError:
        return found
    with f:
        f.seek(0, os.SEEK_END)
        pos = f.tell()
        carry = b""
        while pos > 0 and len(found) < len(servers):
            step = min(TAIL_BLOCK, pos)
            pos -= step
            f.seek(pos)
            block = f.read(step) + carry
            lines = block.split(b"\n")
            carry = lines.pop(0) if pos > 0 else b""  # possibly a partial line: finish it with the next block
            for line in reversed(lines):
                _note_activity(line, servers, found)
        if carry:
            _note_activity(carry, servers, found)
    return found


def _note_activity(line: bytes, servers: set[str], found: dict[str, str]) -> None:
    if not line.strip():
        return
    rec = _decode(line)
    if rec is not None:
        server, ts = rec.get("server"), rec.get("ts")
        if isinstance(server, str) and server in servers and server not in found and isinstance(ts, str):
            found[server] = ts
