"""``mcpwrap dashboard``: a live terminal view of the audit log(s).

It reads only the log — the one file every wrapped server appends to — so one dashboard shows every server
at once, needs no connection to any mcpwrap process, and can run anywhere the file is readable (over SSH,
on another account with read access). The view is built from the records alone:

- messages and tool calls per second over the last :data:`WINDOW_SECONDS` (sparkline), blocks, redactions;
- the most recent decisions;
- per-server health: last seen, open sessions, error rate (error responses and blocks per message);
- a latency sparkline (mean response latency per second).

Rendering is plain rich (no alternate screen, no mouse): in a terminal, ``rich.live.Live`` redraws in place;
where the output is not a terminal, or is a dumb one, a full frame is printed every ``--refresh`` seconds.
Without UTF-8 the sparklines use ASCII. :class:`DashboardState` is fed records and rendered separately, so
tests render it from a recorded log with a recording console.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .._audit.read import action_label, action_of, direction_arrow, expand, follow, parse_ts, read_records

__all__ = ["DashboardState", "run_dashboard", "sparkline", "WINDOW_SECONDS"]

WINDOW_SECONDS = 60  # the sparklines cover this many seconds
RECENT_DECISIONS = 12  # rows in the "recent decisions" table
RATE_SECONDS = 5  # "per second" figures average over this many seconds, so one burst does not dominate
STALE_SECONDS = 300  # a server not seen for this long is shown as idle
_BARS_UTF8 = "▁▂▃▄▅▆▇█"
_BARS_ASCII = "_.-~=+*#"
_STYLE = {"pass": "green", "modify": "yellow", "block": "bold red"}


def sparkline(values: list[float], *, ascii_only: bool = False) -> str:
    bars = _BARS_ASCII if ascii_only else _BARS_UTF8
    top = max(values, default=0) or 1
    return "".join(" " if v <= 0 else bars[min(len(bars) - 1, int(v / top * (len(bars) - 1) + 0.5))] for v in values)


@dataclass
class _Server:
    last_seen: float = 0.0
    messages: int = 0
    responses: int = 0
    errors: int = 0
    blocks: int = 0
    open_sessions: set = field(default_factory=set)


class DashboardState:
    def __init__(self) -> None:
        self.messages: dict[int, int] = {}  # second -> messages
        self.calls: dict[int, int] = {}  # second -> tools/call requests
        self.latency: dict[int, list[float]] = {}  # second -> [sum, count]
        self.totals: Counter = Counter()
        self.recent: deque = deque(maxlen=RECENT_DECISIONS)
        self.servers: dict[str, _Server] = {}
        self.latest = 0.0  # newest record time seen
        self.sources: list[str] = []

    def feed(self, rec: dict) -> None:
        ts = parse_ts(rec.get("ts"))
        if ts is None:
            return
        self.latest = max(self.latest, ts)
        sec = int(ts)
        event = rec.get("event")
        server = self.servers.setdefault(str(rec.get("server") or "?"), _Server())
        server.last_seen = max(server.last_seen, ts)
        sid = rec.get("session")
        if event == "session-start" and sid:
            server.open_sessions.add(sid)
            self.totals["sessions"] += 1
        elif event == "session-end":
            server.open_sessions.discard(sid)
        if event not in ("message", "refused"):
            if event in ("session-start", "session-end", "audit-gap", "policy-reload"):
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
        if _redacted(rec):
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

    # --- rendering -----------------------------------------------------------------------------------------------

    def _series(self, data: dict, now: int, span: int) -> list[float]:
        return [float(data.get(s, 0)) for s in range(now - span + 1, now + 1)]

    def _rate(self, data: dict, now: int) -> float:
        return sum(data.get(s, 0) for s in range(now - RATE_SECONDS + 1, now + 1)) / RATE_SECONDS

    def render(self, now: float | None = None, *, ascii_only: bool = False, width: int = 100) -> Any:
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        now = self.latest if now is None else now
        sec = int(now)
        clock = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now)) if now else "-"
        head = Table.grid(padding=(0, 3))
        for _ in range(6):
            head.add_column(no_wrap=True)
        head.add_row(
            Text.assemble(("msgs/s ", "dim"), (f"{self._rate(self.messages, sec):.1f}", "bold")),
            Text.assemble(("calls/s ", "dim"), (f"{self._rate(self.calls, sec):.1f}", "bold")),
            Text.assemble(("messages ", "dim"), str(self.totals["messages"])),
            Text.assemble(("blocks ", "dim"), (str(self.totals["block"]), "bold red" if self.totals["block"] else "")),
            Text.assemble(("modified ", "dim"), (str(self.totals["modify"]), "yellow" if self.totals["modify"] else "")),
            Text.assemble(("redactions ", "dim"), str(self.totals["redactions"])),
        )
        span = max(10, min(WINDOW_SECONDS, width - 36))  # the sparklines fit the terminal
        latency_series = []
        for s in range(sec - span + 1, sec + 1):
            acc = self.latency.get(s)
            latency_series.append(acc[0] / acc[1] if acc else 0.0)
        recent_lat = [v for v in latency_series[-RATE_SECONDS * 6 :] if v]
        spark = Table.grid(padding=(0, 2))
        spark.add_column(style="dim", no_wrap=True)
        spark.add_column(no_wrap=True)
        spark.add_column(style="dim", no_wrap=True)
        msg_series = self._series(self.messages, sec, span)
        spark.add_row(f"msgs ({span} s)", Text(sparkline(msg_series, ascii_only=ascii_only), style="cyan"), f"max {max(msg_series, default=0):.0f}/s")
        spark.add_row(
            f"latency ({span} s)",
            Text(sparkline(latency_series, ascii_only=ascii_only), style="magenta"),
            f"{sum(recent_lat) / len(recent_lat):.1f} ms" if recent_lat else "-",
        )

        servers = Table(box=None, header_style="dim", expand=False, pad_edge=False)
        for col, just in (("server", "left"), ("status", "left"), ("last seen", "right"), ("sessions", "right"), ("messages", "right"), ("blocks", "right"), ("error rate", "right")):
            servers.add_column(col, justify=just, no_wrap=True)
        for name, s in sorted(self.servers.items(), key=lambda kv: -kv[1].last_seen):
            age = max(0.0, now - s.last_seen)
            rate = s.errors / s.messages if s.messages else 0.0
            if s.open_sessions and age < STALE_SECONDS:
                status = Text("● up", style="green" if rate < 0.1 else "yellow")
            else:
                status = Text("○ idle", style="dim")
            servers.add_row(name, status, _age(age), str(len(s.open_sessions)), str(s.messages), str(s.blocks), Text(f"{rate:.0%}", style="red" if rate >= 0.1 else ""))

        recent = Table(box=None, header_style="dim", expand=True, pad_edge=False)
        for col in ("time", "server", "", "method / tool", "action", "rule / reason", "ms"):
            recent.add_column(col, no_wrap=True, overflow="ellipsis", justify="right" if col == "ms" else "left", ratio=3 if col == "rule / reason" else None)
        for rec in reversed(self.recent):
            action = action_of(rec)
            what = " ".join(str(x) for x in (rec.get("method"), rec.get("tool")) if x) or f"({rec.get('event')})"
            why = " — ".join(str(x) for x in (rec.get("rule"), rec.get("reason")) if x)
            lat = rec.get("latency_ms")
            ts = rec.get("ts") or ""
            recent.add_row(
                ts[11:19] if isinstance(ts, str) else "",
                str(rec.get("server") or ""),
                direction_arrow(rec),
                what,
                Text(action_label(rec), style=_STYLE.get(action, "cyan")),
                why,
                f"{lat:.1f}" if isinstance(lat, (int, float)) else "",
            )
        title = "mcpwrap dashboard — " + (", ".join(self.sources) or "audit log")
        return Panel(
            Group(head, Text(""), spark, Text(""), Text("servers", style="bold"), servers, Text(""), Text("recent decisions", style="bold"), recent),
            title=title,
            subtitle=clock,
            title_align="left",
            subtitle_align="right",
        )


def _redacted(rec: dict) -> bool:
    """A message the secrets redactor changed (its change says what it ``redacted``), or whose recorded
    arguments it redacted."""
    if rec.get("redactions"):
        return True
    return any(isinstance(c, dict) and (c.get("redacted") or c.get("interceptor") == "secrets") for c in rec.get("changes") or ())


def _age(seconds: float) -> str:
    if seconds < 1:
        return "now"
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.0f}h ago"


def load(paths: Iterable[Path]) -> DashboardState:
    """A state built from everything already in the logs (and their rotated files)."""
    state = DashboardState()
    paths = list(paths)
    state.sources = [str(p) for p in paths]
    for rec in read_records(expand(paths)):
        state.feed(rec)
    return state


def run_dashboard(paths: list[Path], *, refresh: float, once: bool, console: Any, frames: int | None = None) -> None:
    """Show the dashboard until interrupted (or, for tests and scripts, after ``frames`` redraws)."""
    ascii_only = not (console.encoding or "").lower().startswith("utf")
    if once:
        state = load(paths)
        console.print(state.render(state.latest or time.time(), ascii_only=ascii_only, width=console.width))
        return
    state = DashboardState()
    state.sources = [str(p) for p in paths]
    for p in paths:  # rotated predecessors first; the live files are then followed from their start
        for rec in read_records(expand([p])[:-1]):
            state.feed(rec)
    stream = follow(paths, from_start=True, idle_ticks=True, poll=min(0.25, refresh))
    interactive = console.is_terminal and not console.is_dumb_terminal
    drawn = 0
    try:
        if interactive:
            from rich.live import Live

            with Live(state.render(time.time(), ascii_only=ascii_only, width=console.width), console=console, auto_refresh=False, screen=False, redirect_stdout=False) as live:
                last = 0.0
                for item in stream:
                    if item is not None:
                        state.feed(item[1])
                    if time.monotonic() - last >= refresh:  # also under a steady stream of records
                        live.update(state.render(time.time(), ascii_only=ascii_only, width=console.width), refresh=True)
                        last = time.monotonic()
                        drawn += 1
                        if frames is not None and drawn >= frames:
                            break
        else:
            last = 0.0
            for item in stream:
                if item is not None:
                    state.feed(item[1])
                if time.monotonic() - last >= refresh:
                    console.print(state.render(time.time(), ascii_only=ascii_only, width=console.width))
                    last = time.monotonic()
                    drawn += 1
                    if frames is not None and drawn >= frames:
                        break
    except KeyboardInterrupt:
        pass
    finally:
        stream.close()
