"""Statistics over audit records: totals for ``mcpwrap audit stats``, a rolling window for ``mcpwrap dashboard``.

Both are computed from the records alone (any reader of the log can compute them; no mcpwrap process is asked):

- :func:`compute_stats` — counts per server, tool and action, the top blocking rules and detectors, subjects,
  and nearest-rank latency percentiles per tool, over any iterable of records (a filtered read of the log).
- :class:`LiveStats` — fed one record at a time while following a log: messages and tool calls per second,
  mean latency per second, per-server health (last seen, open sessions, errors, blocks), the recent decisions.
  Only the last few windows of per-second counts are kept, so following a log for days keeps memory flat.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from .read import action_of, parse_ts

__all__ = ["compute_stats", "percentile", "LiveStats", "ServerHealth", "WINDOW_SECONDS", "RATE_SECONDS", "RECENT_DECISIONS"]

WINDOW_SECONDS = 60  # the dashboard's sparklines cover this many seconds
RECENT_DECISIONS = 12  # rows in the "recent decisions" table
RATE_SECONDS = 5  # "per second" figures average over this many seconds, so one burst does not dominate
# Events shown among the recent decisions although they are not messages.
_LIFECYCLE_EVENTS = ("session-start", "session-end", "audit-gap", "policy-reload")


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil(len * q / 100)
    return sorted_values[int(rank) - 1]


def compute_stats(records: Iterable[dict], *, top: int = 10) -> dict:
    """Counts per server/tool/action, top blocking rules and detectors, latency percentiles per tool, subjects."""
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


# --- a rolling window --------------------------------------------------------------------------------------------


@dataclass
class ServerHealth:
    last_seen: float = 0.0
    messages: int = 0
    responses: int = 0
    errors: int = 0
    blocks: int = 0
    open_sessions: set = field(default_factory=set)


class LiveStats:
    """What the dashboard shows, updated by :meth:`feed` one record at a time."""

    def __init__(self) -> None:
        self.messages: dict[int, int] = {}  # second -> messages
        self.calls: dict[int, int] = {}  # second -> tools/call requests
        self.latency: dict[int, list[float]] = {}  # second -> [sum, count]
        self.totals: Counter = Counter()
        self.recent: deque = deque(maxlen=RECENT_DECISIONS)
        self.servers: dict[str, ServerHealth] = {}
        self.latest = 0.0  # newest record time seen

    def feed(self, rec: dict) -> None:
        ts = parse_ts(rec.get("ts"))
        if ts is None:
            return
        self.latest = max(self.latest, ts)
        sec = int(ts)
        event = rec.get("event")
        server = self.servers.setdefault(str(rec.get("server") or "?"), ServerHealth())
        server.last_seen = max(server.last_seen, ts)
        sid = rec.get("session")
        if event == "session-start" and sid:
            server.open_sessions.add(sid)
            self.totals["sessions"] += 1
        elif event == "session-end":
            server.open_sessions.discard(sid)
        if event not in ("message", "refused"):
            if event in _LIFECYCLE_EVENTS:
                self.recent.append(rec)
            return
        action = action_of(rec)
        self.totals["messages"] += 1
        self.totals[action] += 1
        self.messages[sec] = self.messages.get(sec, 0) + 1
        server.messages += 1
        if rec.get("kind") == "request" and rec.get("method") == "tools/call":
            self.calls[sec] = self.calls.get(sec, 0) + 1
            self.totals["tool calls"] += 1
        if rec.get("kind") in ("result", "error"):
            server.responses += 1
        if rec.get("kind") == "error" or action == "block":
            server.errors += 1
        if action == "block":
            server.blocks += 1
        if redacted(rec):
            self.totals["redactions"] += 1
        latency = rec.get("latency_ms")
        if isinstance(latency, (int, float)):
            acc = self.latency.setdefault(sec, [0.0, 0])
            acc[0] += latency
            acc[1] += 1
        if action != "pass" or rec.get("method") == "tools/call":
            self.recent.append(rec)
        self._prune(sec)

    def _prune(self, newest: int) -> None:
        if len(self.messages) > 4 * WINDOW_SECONDS:  # keep memory flat while following for days
            horizon = newest - 2 * WINDOW_SECONDS
            for d in (self.messages, self.calls, self.latency):
                for k in [k for k in d if k < horizon]:
                    del d[k]

    def series(self, data: dict, now: int, span: int) -> list[float]:
        """Per-second values of ``data`` (``messages``, ``calls``) for the ``span`` seconds up to ``now``."""
        return [float(data.get(s, 0)) for s in range(now - span + 1, now + 1)]

    def rate(self, data: dict, now: int) -> float:
        """Per-second average of ``data`` over the last :data:`RATE_SECONDS` up to ``now``."""
        return sum(data.get(s, 0) for s in range(now - RATE_SECONDS + 1, now + 1)) / RATE_SECONDS

    def latency_series(self, now: int, span: int) -> list[float]:
        """Mean response latency (ms) per second for the ``span`` seconds up to ``now`` (0 where none)."""
        out = []
        for s in range(now - span + 1, now + 1):
            acc = self.latency.get(s)
            out.append(acc[0] / acc[1] if acc else 0.0)
        return out


def redacted(rec: dict) -> bool:
    """A message the secrets redactor changed (its change says what it ``redacted``), or whose recorded
    arguments it redacted."""
    if rec.get("redactions"):
        return True
    return any(isinstance(c, dict) and (c.get("redacted") or c.get("interceptor") == "secrets") for c in rec.get("changes") or ())
