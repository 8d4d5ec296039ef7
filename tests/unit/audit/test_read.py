"""Reading the audit log: filters, following a growing (and rotating) log, and reading it backwards."""

from __future__ import annotations

import json
import threading
import time

import pytest

from mcpwrap._audit import read as _read
from mcpwrap._audit.read import RecordFilter, follow, parse_since
from mcpwrap._audit.writer import AuditLog
from mcpwrap._message import Session


def test_filters_and_since():
    keep = RecordFilter(server="x", action="block")
    assert keep({"server": "x", "event": "refused"}) and not keep({"server": "x", "action": "pass"})
    assert parse_since("2026-01-31T12:00:00Z") == "2026-01-31T12:00:00.000000Z"
    with pytest.raises(ValueError):
        parse_since("soon")


def test_follow_sees_new_records_and_rotation(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, Session("f", "srv"), key=None)
    log.record("session-start")
    log.flush()
    seen: list[str] = []
    following = threading.Event()  # the follower has opened the log (at its end) and found nothing new

    def reader():
        for item in follow([path], poll=0.02, idle_ticks=True):
            if item is None:
                following.set()
            else:
                seen.append(item[1]["event"])
            if "session-end" in seen or time.monotonic() > deadline:
                return

    deadline = time.monotonic() + 20
    t = threading.Thread(target=reader)
    t.start()
    assert following.wait(20)
    log.record("message", action="pass")
    log.flush()
    assert wait_until(lambda: seen == ["message"], deadline)
    path.rename(tmp_path / "audit.jsonl.20260101T000000.000000Z")  # moved aside, as rotation does
    log.record("session-end")
    log.flush()  # reopens at the path: a new file
    t.join()
    log.close()
    assert seen == ["message", "session-end"]  # the old file read to its end, then the new one


def wait_until(condition, deadline: float) -> bool:
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_last_activity_reads_a_large_log_backwards(tmp_path, monkeypatch):
    monkeypatch.setattr(_read, "TAIL_BLOCK", 100)  # many blocks, records straddling their edges
    log = tmp_path / "audit.jsonl"
    lines = [json.dumps({"ts": f"2026-01-01T00:00:{i:02d}Z", "event": "message", "server": "ab"[i % 2], "pad": "x" * (i * 7)}) for i in range(40)]
    lines.insert(5, json.dumps({"ts": "2025-12-31T00:00:00Z", "server": "old-only"}))
    log.write_text("\n".join(lines) + "\n")
    found = _read.last_activity(str(log), {"a", "b", "old-only", "absent"})
    assert found == {"a": "2026-01-01T00:00:38Z", "b": "2026-01-01T00:00:39Z", "old-only": "2025-12-31T00:00:00Z"}
    assert _read.last_activity(str(tmp_path / "none.jsonl"), {"a"}) == {}
