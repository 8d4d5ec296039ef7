"""Reading the audit log: records from the whole chain of files, filters, and following a growing log.

Readers never take the writers' lock: a writer appends whole lines in one ``write()``, so a reader sees
complete lines, plus at most a partial last line that it keeps until its newline arrives. A follower notices
rotation (the path now names another inode), finishes the old file, and continues with the new one.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from .chain import log_files

__all__ = [
    "RecordFilter",
    "read_records",
    "follow",
    "action_of",
    "action_label",
    "direction_arrow",
    "parse_ts",
    "parse_since",
    "default_log_path",
    "compute_stats",
]

FOLLOW_POLL = 0.25  # seconds between checks of a quiet log while following
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_CHAIN_FIELDS = ("seq", "n", "prev", "kid", "h")


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


def _decode(line: bytes) -> dict | None:
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


def expand(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Each named log with its rotated predecessors, oldest first."""
    out: list[Path] = []
    for p in paths:
        for f in log_files(p):
            if f not in out:
                out.append(f)
    return out


def read_records(paths: Iterable[str | os.PathLike], keep: RecordFilter | None = None, *, raw: bool = False) -> Iterator[Any]:
    """Records of the given files in order (lines that are not records are skipped). ``raw``: (bytes, dict)."""
    for path in paths:
        try:
            f = open(path, "rb")
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
    paths: list[str | os.PathLike],
    *,
    from_start: bool = False,
    poll: float = FOLLOW_POLL,
    idle_ticks: bool = False,
) -> Iterator[tuple[bytes, dict] | None]:
    """New records of growing logs, as (line, record), forever. ``idle_ticks``: yield None when nothing came."""
    state: dict[str, dict] = {}

    def open_at(p: str, start: bool) -> None:
        try:
            f = open(p, "rb")
        except FileNotFoundError:
            state[p] = {"f": None, "buf": b"", "ino": None}
            return
        if not start:
            f.seek(0, os.SEEK_END)
        st = os.fstat(f.fileno())
        state[p] = {"f": f, "buf": b"", "ino": (st.st_dev, st.st_ino)}

    for p in map(os.fspath, paths):
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


def without_chain(rec: dict) -> dict:
    """A record without its chain fields (for exports meant for people, not for verification)."""
    return {k: v for k, v in rec.items() if k not in _CHAIN_FIELDS}


# --- statistics -----------------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil(len * q / 100)
    return sorted_values[int(rank) - 1]


def compute_stats(records: Iterable[dict], *, top: int = 10) -> dict:
    """Counts per server/tool/action, top blocking rules and detectors, latency percentiles per tool, subjects."""
    from collections import Counter, defaultdict

    servers: dict[str, Counter] = defaultdict(Counter)
    tools: dict[str, Counter] = defaultdict(Counter)
    actions: Counter = Counter()
    events: Counter = Counter()
    rules: Counter = Counter()
    detectors: Counter = Counter()
    subjects: Counter = Counter()
    latency: dict[str, list[float]] = defaultdict(list)
    sessions: set = set()
    first = last = None
    total = 0
    for rec in records:
        total += 1
        ts = rec.get("ts")
        if isinstance(ts, str):
            first = ts if first is None or ts < first else first
            last = ts if last is None or ts > last else last
        event = rec.get("event", "?")
        events[event] += 1
        if isinstance(rec.get("session"), str):
            sessions.add(rec["session"])
        if event not in ("message", "refused"):
            continue
        action = action_of(rec)
        server = str(rec.get("server", "?"))
        actions[action] += 1
        servers[server][action] += 1
        servers[server]["messages"] += 1
        if rec.get("kind") == "error":
            servers[server]["errors"] += 1
        subjects[str(rec.get("subject", "?"))] += 1
        tool = rec.get("tool")
        if isinstance(tool, str):
            # Per call: the request's decision; a response counts only when it was modified or withheld.
            if rec.get("kind") == "request":
                tools[tool]["calls"] += 1
                tools[tool][action] += 1
            elif action != "pass":
                tools[tool][action] += 1
            if isinstance(rec.get("latency_ms"), (int, float)):
                latency[tool].append(float(rec["latency_ms"]))
        if action == "block":
            rules[str(rec.get("rule") or "?")] += 1
        if action in ("block", "modify") and rec.get("interceptor"):
            detectors[str(rec["interceptor"])] += 1
        for v in rec.get("verdicts") or ():
            if isinstance(v, dict) and v.get("action") in ("block", "modify") and v.get("interceptor"):
                detectors[f"{v['interceptor']} (not enforced)" if v.get("enforced") is False else str(v["interceptor"])] += 1
    per_tool = {}
    for tool in sorted(set(tools) | set(latency)):
        counts = tools[tool]
        values = sorted(latency.get(tool, ()))
        per_tool[tool] = {
            "calls": counts["calls"],
            "pass": counts["pass"],
            "modify": counts["modify"],
            "block": counts["block"],
            "latency_ms": {"n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95), "p99": percentile(values, 99)},
        }
    return {
        "records": total,
        "sessions": len(sessions),
        "first": first,
        "last": last,
        "events": dict(events.most_common()),
        "actions": dict(actions.most_common()),
        "servers": {
            s: {"messages": c["messages"], "pass": c["pass"], "modify": c["modify"], "block": c["block"], "errors": c["errors"]}
            for s, c in sorted(servers.items())
        },
        "tools": per_tool,
        "top_block_rules": rules.most_common(top),
        "top_detectors": detectors.most_common(top),
        "subjects": subjects.most_common(top),
    }
