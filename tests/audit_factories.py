"""Audit logs for the audit package's tests: interleaved sessions written by the real writer, and tampering."""

from __future__ import annotations

from pathlib import Path

from mcpwrap._audit.writer import AuditLog
from mcpwrap._message import Session

KEY = b"k" * 32
OTHER_KEY = b"o" * 32


def running(_ident):
    return "running"


def gone(_ident):
    return "gone"


def write_log(path: Path, *, key: bytes | None = KEY, sessions: int = 2, messages: int = 4, end: bool = True, settings=None) -> Path:
    """Interleaved sessions, as several mcpwrap processes would write them to one log."""
    logs = [AuditLog(path, Session(f"s{i}", f"server{i}", "alice"), settings, key=key) for i in range(sessions)]
    for log in logs:
        log.record("session-start", command=["srv"], pid=1)
        log.flush()
    for m in range(messages):
        for log in logs:
            log.record("message", direction="c2s", kind="request", id=m, method="tools/call", tool="echo", action="pass")
            log.record("message", direction="s2c", kind="result", id=m, method="tools/call", tool="echo", action="pass", latency_ms=1.5)
            log.flush()
    for log in logs:
        if end:
            log.record("session-end", exit_code=0)
        log.close()
    return path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def kinds(report) -> list[str]:
    return [p.kind for p in report.problems]


def tamper(path: Path, edit) -> Path:
    lines = lines_of(path)
    edit(lines)
    out = path.with_name("tampered.jsonl")
    out.write_bytes(b"".join(lines))
    return out
