"""Statistics over audit records: totals for ``mcpwrap audit stats``, a rolling window for ``mcpwrap dashboard``.

Both are computed from the records alone (any reader of the log can compute them; no mcpwrap process is asked),
and both count through one :class:`Tally`, so ``stats``, ``dashboard``, ``tail`` and ``export`` agree:

- a *record* is a line of the log (what ``export`` writes and ``tail --json`` prints);
- a *message* is a ``message`` or ``refused`` record; each has one action — pass, modify or block;
- an *error* is a JSON-RPC error response (``kind: error``) from either side. A block is not an error: it is
  counted as a block (mcpwrap answered, the peer did not fail);
- a *tool call* is a ``tools/call`` request. Its outcome is the strongest action taken on the request or on
  its response — block, else modify, else pass — so per tool ``pass + modify + block == calls``;
- a *redaction* is a message the secrets interceptor changed, counted once per message and once per type
  within it (the same key in a result's ``content`` and ``structuredContent`` is one redacted message);
- informational records (``tool-risk``: the class of each listed tool) are counted as records and events,
  never as messages.

:func:`compute_stats` adds the top blocking rules and detectors, subjects and nearest-rank latency percentiles
per tool. :class:`LiveStats` is fed one record at a time while following a log: messages and tool calls per
second, mean latency per second, per-server health (last seen, open sessions, errors, blocks), the recent
decisions. Only the last few windows of per-second counts are kept, so following a log for days keeps memory
flat.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from .read import action_of, parse_ts

__all__ = [
    "compute_stats",
    "percentile",
    "Tally",
    "LiveStats",
    "ServerHealth",
    "MESSAGE_EVENTS",
    "INFORMATIONAL_EVENTS",
    "is_message",
    "is_error",
    "redacted",
    "redacted_types",
    "WINDOW_SECONDS",
    "RATE_SECONDS",
    "RECENT_DECISIONS",
]

WINDOW_SECONDS = 60  # the dashboard's sparklines cover this many seconds
RECENT_DECISIONS = 12  # rows in the "recent decisions" table
RATE_SECONDS = 5  # "per second" figures average over this many seconds, so one burst does not dominate
MESSAGE_EVENTS = ("message", "refused")
INFORMATIONAL_EVENTS = ("tool-risk",)  # summarised by the read-outs, never a row each
# Events shown among the recent decisions although they are not messages.
_LIFECYCLE_EVENTS = ("session-start", "session-end", "audit-gap", "policy-reload", "key-added")
_STRENGTH = {"pass": 0, "modify": 1, "block": 2}  # a call's outcome: the strongest action on it
MAX_OPEN_CALLS = 10_000  # calls awaiting their response record; the oldest are forgotten beyond this (a follower runs for days)


def is_message(rec: dict) -> bool:
    return rec.get("event") in MESSAGE_EVENTS


def is_error(rec: dict) -> bool:
    """A JSON-RPC error response (from either side). Blocks are not errors."""
    return is_message(rec) and rec.get("kind") == "error"


def redacted_types(rec: dict) -> set[str]:
    """The secret/PII types the secrets interceptor removed from this message (each once)."""
    types: set[str] = set()
    for change in rec.get("changes") or ():
        if isinstance(change, dict) and change.get("interceptor") == "secrets" and isinstance(change.get("redacted"), dict):
            types.update(str(t) for t, n in change["redacted"].items() if n)
    return types


def redacted(rec: dict) -> bool:
    """A message the secrets interceptor changed (what reached the peer had secrets removed)."""
    return bool(redacted_types(rec))


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil(len * q / 100)
    return sorted_values[int(rank) - 1]


def _new_server() -> Counter:
    return Counter({"messages": 0, "pass": 0, "modify": 0, "block": 0, "errors": 0})


class Tally:
    """The counts every read-out shows, fed one record at a time (see the module docstring for the terms)."""

    def __init__(self) -> None:
        self.records = 0
        self.events: Counter = Counter()
        self.actions: Counter = Counter()  # per message
        self.errors = 0
        self.redactions = 0  # messages with something redacted
        self.redacted: Counter = Counter()  # type -> messages in which it was redacted
        self.servers: dict[str, Counter] = defaultdict(_new_server)
        self.tools: dict[str, Counter] = defaultdict(Counter)  # calls and their outcomes
        self._open_calls: dict[tuple, list] = {}  # (session, id) -> [tool, outcome] until the response

    @property
    def messages(self) -> int:
        return sum(self.actions.values())

    @property
    def calls(self) -> int:
        return sum(c["calls"] for c in self.tools.values())

    def feed(self, rec: dict) -> None:
        self.records += 1
        self.events[str(rec.get("event", "?"))] += 1
        if rec.get("event") == "answered-on-exit":  # mcpwrap answered it: no response record will come
            self._open_calls.pop((rec.get("session"), rec.get("id")), None)
        if not is_message(rec):
            return
        action = action_of(rec)
        self.actions[action] += 1
        server = self.servers[str(rec.get("server", "?"))]
        server["messages"] += 1
        server[action] += 1
        if rec.get("kind") == "error":
            self.errors += 1
            server["errors"] += 1
        types = redacted_types(rec)
        if types:
            self.redactions += 1
            self.redacted.update(sorted(types))
        if rec.get("method") != "tools/call":
            return
        name = rec.get("tool")
        tool = name if isinstance(name, str) else "?"
        key = (rec.get("session"), rec.get("id"))
        if rec.get("kind") == "request" and rec.get("direction", "c2s") == "c2s":
            self.tools[tool]["calls"] += 1
            self.tools[tool][action] += 1
            if key[1] is not None and action != "block":  # a blocked call gets no response record
                self._open_calls[key] = [tool, action]
                if len(self._open_calls) > MAX_OPEN_CALLS:
                    del self._open_calls[next(iter(self._open_calls))]
        elif rec.get("kind") in ("result", "error"):
            call = self._open_calls.pop(key, None)
            if call is not None and _STRENGTH.get(action, 0) > _STRENGTH.get(call[1], 0):
                counts = self.tools[call[0]]
                counts[call[1]] -= 1  # the call's outcome moves up to the response's action
                counts[action] += 1
                call[1] = action


def compute_stats(records: Iterable[dict], *, top: int = 10) -> dict:
    """Totals (:class:`Tally`), top blocking rules and detectors, latency percentiles per tool, subjects."""
    tally = Tally()
    rules: Counter = Counter()
    detectors: Counter = Counter()
    subjects: Counter = Counter()
    latency: dict[str, list[float]] = defaultdict(list)
    sessions: set = set()
    first = last = None
    for rec in records:
        tally.feed(rec)
        ts = rec.get("ts")
        if isinstance(ts, str):
            first = ts if first is None or ts < first else first
            last = ts if last is None or ts > last else last
        if isinstance(rec.get("session"), str):
            sessions.add(rec["session"])
        if not is_message(rec):
            continue
        action = action_of(rec)
        subjects[str(rec.get("subject", "?"))] += 1
        tool = rec.get("tool")
        if isinstance(tool, str) and isinstance(rec.get("latency_ms"), (int, float)):
            latency[tool].append(float(rec["latency_ms"]))
        if action == "block":
            rules[str(rec.get("rule") or "?")] += 1
        if action in ("block", "modify") and rec.get("interceptor"):
            detectors[str(rec["interceptor"])] += 1
        for v in rec.get("verdicts") or ():
            if isinstance(v, dict) and v.get("action") in ("block", "modify") and v.get("interceptor"):
                detectors[f"{v['interceptor']} (not enforced)" if v.get("enforced") is False else str(v["interceptor"])] += 1
    per_tool = {}
    for tool in sorted(set(tally.tools) | set(latency)):
        counts = tally.tools[tool]
        values = sorted(latency.get(tool, ()))
        per_tool[tool] = {
            "calls": counts["calls"],
            "pass": counts["pass"],
            "modify": counts["modify"],
            "block": counts["block"],
            "latency_ms": {"n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95), "p99": percentile(values, 99)},
        }
    return {
        "records": tally.records,
        "sessions": len(sessions),
        "first": first,
        "last": last,
        "events": dict(tally.events.most_common()),
        "messages": tally.messages,
        "actions": {a: tally.actions[a] for a in ("pass", "modify", "block")} | {a: n for a, n in tally.actions.most_common() if a not in _STRENGTH},
        "errors": tally.errors,
        "tool_calls": tally.calls,
        "redactions": {"messages": tally.redactions, "types": dict(sorted(tally.redacted.items(), key=lambda kv: (-kv[1], kv[0])))},
        "informational": {e: tally.events[e] for e in INFORMATIONAL_EVENTS if tally.events[e]},
        "servers": {
            s: {"messages": c["messages"], "pass": c["pass"], "modify": c["modify"], "block": c["block"], "errors": c["errors"]}
            for s, c in sorted(tally.servers.items())
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
    errors: int = 0  # JSON-RPC error responses (blocks are counted apart)
    blocks: int = 0
    open_sessions: set = field(default_factory=set)

    @property
    def error_rate(self) -> float:
        """Error responses per response."""
        return self.errors / self.responses if self.responses else 0.0


class LiveStats:
    """What the dashboard shows, updated by :meth:`feed` one record at a time."""

    def __init__(self) -> None:
        self.messages: dict[int, int] = {}  # second -> messages
        self.calls: dict[int, int] = {}  # second -> tools/call requests
        self.latency: dict[int, list[float]] = {}  # second -> [sum, count]
        self.tally = Tally()  # the totals, counted as `audit stats` counts them
        self.sessions = 0
        self.recent: deque = deque(maxlen=RECENT_DECISIONS)
        self.servers: dict[str, ServerHealth] = {}
        self.latest = 0.0  # newest record time seen

    @property
    def totals(self) -> dict[str, int]:
        t = self.tally
        return {
            "messages": t.messages,
            "pass": t.actions["pass"],
            "modify": t.actions["modify"],
            "block": t.actions["block"],
            "errors": t.errors,
            "tool calls": t.calls,
            "redactions": t.redactions,
            "sessions": self.sessions,
        }

    def feed(self, rec: dict) -> None:
        ts = parse_ts(rec.get("ts"))
        if ts is None:
            return
        self.tally.feed(rec)
        self.latest = max(self.latest, ts)
        sec = int(ts)
        event = rec.get("event")
        if not rec.get("server") and not is_message(rec):  # a file-level record (log-rotated, key-added)
            if event in _LIFECYCLE_EVENTS:
                self.recent.append(rec)
            return
        server = self.servers.setdefault(str(rec.get("server") or "?"), ServerHealth())
        server.last_seen = max(server.last_seen, ts)
        sid = rec.get("session")
        if event == "session-start" and sid:
            server.open_sessions.add(sid)
            self.sessions += 1
        elif event == "session-end":
            server.open_sessions.discard(sid)
        if not is_message(rec):
            if event in _LIFECYCLE_EVENTS:
                self.recent.append(rec)
            return
        action = action_of(rec)
        self.messages[sec] = self.messages.get(sec, 0) + 1
        server.messages += 1
        if rec.get("kind") == "request" and rec.get("method") == "tools/call":
            self.calls[sec] = self.calls.get(sec, 0) + 1
        if rec.get("kind") in ("result", "error"):
            server.responses += 1
        if is_error(rec):
            server.errors += 1
        if action == "block":
            server.blocks += 1
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
