"""The audit log: one JSON object per line, appended, never rewritten.

Many mcpwrap processes (one per wrapped server) may share one log. The file is opened with ``O_APPEND`` and
every flush is a single ``write()`` of whole records, so concurrent writers never interleave inside a line.
Records of one read from a pipe are written together (one syscall per chunk, not per message), and always
*before* the messages they describe are forwarded.

Arguments and results are never stored raw by default: ``audit.record_arguments`` chooses ``none``,
``shape`` (types and sizes only), ``redacted`` or ``full``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timezone
from typing import Any

from ._chain import Interceptor, Outcome
from ._config import check_keys, expect, section
from ._errors import AuditError
from ._message import Action, Message, Session

__all__ = ["AuditLog", "AuditInterceptor", "AuditSettings", "shape_of"]

RECORD_ARGUMENT_MODES = ("none", "shape", "redacted", "full")
DEFAULT_MAX_ARGUMENT_CHARS = 2048  # a recorded argument form is cut here, so one call cannot bloat the log


class AuditSettings:
    __slots__ = ("path", "record_arguments", "max_argument_chars")

    def __init__(self, path: str | None = None, record_arguments: str = "shape", max_argument_chars: int = DEFAULT_MAX_ARGUMENT_CHARS):
        self.path = path
        self.record_arguments = record_arguments
        self.max_argument_chars = max_argument_chars


@section("audit", default=AuditSettings, doc="where decisions are recorded and how much of a call is kept")
def _parse_audit(raw: Any, path: tuple) -> AuditSettings:
    expect(raw, dict, path)
    check_keys(raw, {"path", "record_arguments", "max_argument_chars"}, path)
    settings = AuditSettings()
    if "path" in raw:
        settings.path = expect(raw["path"], str, path + ("path",))
    if "record_arguments" in raw:
        mode = expect(raw["record_arguments"], str, path + ("record_arguments",))
        if mode not in RECORD_ARGUMENT_MODES:
            from ._errors import ConfigError

            raise ConfigError(f"must be one of {', '.join(RECORD_ARGUMENT_MODES)}", path=path + ("record_arguments",))
        settings.record_arguments = mode
    if "max_argument_chars" in raw:
        settings.max_argument_chars = expect(raw["max_argument_chars"], int, path + ("max_argument_chars",))
    return settings


def shape_of(value: Any, depth: int = 0) -> Any:
    """Types and sizes of a JSON value, without its content."""
    if depth > 6:
        return "…"
    if isinstance(value, dict):
        return {k: shape_of(v, depth + 1) for k, v in list(value.items())[:50]}
    if isinstance(value, list):
        return [f"list[{len(value)}]"] if not value else [f"list[{len(value)}]", shape_of(value[0], depth + 1)]
    if isinstance(value, str):
        return f"str[{len(value)}]"
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "null"
    return type(value).__name__


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class AuditLog:
    """An append-only JSONL file shared safely between processes."""

    def __init__(self, path: str | os.PathLike, session: Session | None = None) -> None:
        self.path = os.fspath(path)
        self.session = session
        self._pending: list[bytes] = []
        self._lock = threading.Lock()
        try:
            parent = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(parent, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise AuditError(f"cannot open audit log {self.path}: {exc.strerror or exc}") from None
        self.failed: str | None = None  # the last write error, if any

    def record(self, event: str, **fields: Any) -> dict:
        rec: dict = {"ts": utc_now(), "event": event}
        if self.session is not None:
            rec["session"] = self.session.session_id
            rec["server"] = self.session.server
            rec["subject"] = self.session.subject
            if self.session.roles:
                rec["roles"] = list(self.session.roles)
        rec.update({k: v for k, v in fields.items() if v is not None})
        line = json.dumps(rec, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8") + b"\n"
        with self._lock:
            self._pending.append(line)
        return rec

    def flush(self) -> None:
        with self._lock:
            if not self._pending:
                return
            data = b"".join(self._pending)
            self._pending.clear()
            try:
                written = os.write(self._fd, data)
                while written < len(data):  # a short write on a regular file: disk full or quota
                    more = os.write(self._fd, data[written:])
                    if more <= 0:
                        raise OSError("short write")
                    written += more
                self.failed = None
            except OSError as exc:
                self.failed = str(exc)
                raise AuditError(f"cannot write audit log {self.path}: {exc}") from None

    def close(self) -> None:
        try:
            self.flush()
        finally:
            try:
                os.close(self._fd)
            except OSError:
                pass


class AuditInterceptor(Interceptor):
    """Writes one record per message after the chain has decided (the ``observe`` hook)."""

    name = "audit"

    def __init__(self, log: AuditLog, settings: AuditSettings | None = None) -> None:
        self.log = log
        self.settings = settings or AuditSettings()

    def observe(self, msg: Message, outcome: Outcome) -> None:
        fields: dict[str, Any] = {
            "direction": msg.direction.value,
            "kind": msg.kind.value,
            "id": msg.id,
            "method": msg.method,
            "tool": msg.tool_name,
            "action": outcome.action.value,
            "size": len(msg.raw),
        }
        if outcome.action is not Action.PASS or outcome.rule:
            fields["rule"] = outcome.rule
        decisive = outcome.decisive
        if decisive is not None:
            fields["reason"] = decisive.reason
            fields["interceptor"] = decisive.interceptor
            if decisive.details:
                fields["details"] = decisive.details
        if msg.changes:
            fields["changes"] = msg.changes
        others = [v for v in outcome.verdicts if v is not decisive and (not v.enforce or v.action is not Action.PASS or v.details)]
        if others:
            fields["verdicts"] = [
                {
                    "interceptor": v.interceptor,
                    "action": v.action.value,
                    "enforced": v.enforce,
                    "rule": v.rule,
                    "reason": v.reason,
                    **({"details": v.details} if v.details else {}),
                }
                for v in others
            ]
        latency = msg.latency_ms
        if latency is not None:
            fields["latency_ms"] = round(latency, 3)
        if msg.request is not None and msg.request.cancelled:
            fields["cancelled"] = True
        if msg.kind.value == "request" and msg.method == "tools/call":
            args = msg.params.get("arguments") if isinstance(msg.params, dict) else None
            recorded = self.argument_form(args)
            if recorded is not None:
                fields["arguments"] = recorded
                fields["arguments_form"] = self.settings.record_arguments  # lets `policy test --replay` know what it holds
        self.log.record("message", **fields)

    def argument_form(self, args: Any) -> Any:
        mode = self.settings.record_arguments
        if mode == "none" or args is None:
            return None
        if mode == "shape":
            return shape_of(args)
        # "redacted" uses the secrets redactor where it is configured; "full" keeps the arguments.
        text = json.dumps(args, ensure_ascii=False)
        if len(text) > self.settings.max_argument_chars:
            return text[: self.settings.max_argument_chars] + "…"
        return args
