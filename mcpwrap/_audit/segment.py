"""Adding a key to a log that already has records: the first record of the authenticated segment.

``mcpwrap audit init-key`` on a log with records appends, at once, one ``key-added`` record sealed with the
new key (under the writers' lock, continuing the chain like any record; it belongs to no session). From that
record on, :mod:`mcpwrap._audit.verify` expects the key's MAC on every record, and reports the records before it
as *before the key* rather than as damage: that record's MAC vouches for the whole chain before it, as it
stood when the key was added.

Writers already running keep the key they started with (none): until they restart, the records they append
after the marker are unauthenticated, and ``verify`` says so. :func:`running_writers` names them, so the
person adding the key is told which servers to restart.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from .identity import process_state
from .keys import key_id
from .read import read_records
from .seal import read_chain_tail
from .writer import AuditLog, AuditSettings

__all__ = ["KEY_ADDED", "records_in", "start_key_segment", "running_writers"]

KEY_ADDED = "key-added"


def records_in(path: str | os.PathLike) -> int:
    """How many records the chain of the log at ``path`` holds so far (its next chain position)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return 0
    try:
        return read_chain_tail(fd, os.fstat(fd).st_size)[0]
    finally:
        os.close(fd)


def start_key_segment(path: str | os.PathLike, key: bytes, settings: AuditSettings | None = None) -> int:
    """Seal a ``key-added`` record with ``key`` at the end of the log; return the records before it."""
    before = records_in(path)
    log = AuditLog(path, None, settings, key=key)
    try:
        log.record(KEY_ADDED, key=key_id(key), before=before)
        log.flush()  # raises AuditError when the log cannot be written (on_failure: block is the default)
    finally:
        log.close()
    return before


def running_writers(paths: Iterable[str | os.PathLike]) -> list[str]:
    """The servers whose wrapper wrote an open session in these logs and still runs (``name (pid N)``)."""
    open_sessions: dict[str, dict] = {}
    for rec in read_records(paths):
        sid = rec.get("session")
        if not isinstance(sid, str):
            continue
        if rec.get("event") == "session-start":
            open_sessions[sid] = rec
        elif rec.get("event") == "session-end":
            open_sessions.pop(sid, None)
    found = []
    for rec in open_sessions.values():
        wrapper = rec.get("wrapper")
        if isinstance(wrapper, dict) and process_state(wrapper) == "running":
            found.append(f"{rec.get('server', '?')} (pid {wrapper.get('pid')})")
    return found
