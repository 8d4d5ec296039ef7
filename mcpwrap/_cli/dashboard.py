"""``mcpwrap dashboard``: a live terminal view of the audit log(s).

It reads only the log — the one file every wrapped server appends to — so one dashboard shows every server
at once, needs no connection to any mcpwrap process, and can run anywhere the file is readable (over SSH,
on another account with read access). The view is built from the records alone:

- messages and tool calls per second over the last :data:`WINDOW_SECONDS` (sparkline), the totals (messages,
  tool calls, blocks, modified, errors, redactions — counted as ``mcpwrap audit stats`` counts them);
- the most recent decisions;
- per-server health: last seen, open sessions, blocks, errors and error rate (error responses per response:
  a block is not an error);
- a latency sparkline (mean response latency per second).

Rendering is plain rich (no alternate screen, no mouse): in a terminal, ``rich.live.Live`` redraws in place;
where the output is not a terminal, or is a dumb one, a full frame of plain text (:meth:`DashboardState.plain`,
nothing cut to a width) is printed every ``--refresh`` seconds. Without UTF-8 the sparklines use ASCII. The
numbers are :class:`mcpwrap._audit.stats.LiveStats`, fed one record at a time; :class:`DashboardState` adds
only the drawing, so tests render it from a recorded log with a recording console.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._audit.files import expand
from .._audit.read import action_label, action_of, direction_arrow, follow, read_records
from .._audit.stats import RATE_SECONDS, WINDOW_SECONDS, LiveStats
from .output import Column, Grid, Output

__all__ = ["DashboardState", "run_dashboard", "sparkline", "WINDOW_SECONDS"]

STALE_SECONDS = 300  # a server not seen for this long is shown as idle
_BARS_UTF8 = "▁▂▃▄▅▆▇█"
_BARS_ASCII = "_.-~=+*#"
_STYLE = {"pass": "green", "modify": "yellow", "block": "bold red"}


def sparkline(values: list[float], *, ascii_only: bool = False) -> str:
    bars = _BARS_ASCII if ascii_only else _BARS_UTF8
    top = max(values, default=0) or 1
    return "".join(" " if v <= 0 else bars[min(len(bars) - 1, int(v / top * (len(bars) - 1) + 0.5))] for v in values)


class DashboardState(LiveStats):
    """The rolling statistics (:class:`mcpwrap._audit.stats.LiveStats`) and how the dashboard draws them."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def render(self, now: float | None = None, *, ascii_only: bool = False, width: int = 100) -> Any:
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        now = self.latest if now is None else now
        sec = int(now)
        clock = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now)) if now else "-"
        # one line of figures that wraps (between figures) when the terminal is narrow
        styles = {"blocks": "bold red", "modified": "yellow", "errors": "red"}
        head = Text()
        for i, (name, value) in enumerate(self.figures(sec)):
            if i:
                head.append("   ")
            head.append(f"{name} ", style="dim")
            head.append(value.replace(" ", "\u00a0"), style=styles.get(name, "bold") if value not in ("0", "0.0") else "")
        span = max(10, min(WINDOW_SECONDS, width - 36))  # the sparklines fit the terminal
        latency_series = self.latency_series(sec, span)
        recent_lat = [v for v in latency_series[-RATE_SECONDS * 6 :] if v]
        spark = Table.grid(padding=(0, 2))
        spark.add_column(style="dim", no_wrap=True)
        spark.add_column(no_wrap=True)
        spark.add_column(style="dim", no_wrap=True)
        msg_series = self.series(self.messages, sec, span)
        spark.add_row(f"msgs ({span} s)", Text(sparkline(msg_series, ascii_only=ascii_only), style="cyan"), f"max {max(msg_series, default=0):.0f}/s")
        spark.add_row(
            f"latency ({span} s)",
            Text(sparkline(latency_series, ascii_only=ascii_only), style="magenta"),
            f"{sum(recent_lat) / len(recent_lat):.1f} ms" if recent_lat else "-",
        )

        servers = Table(box=None, header_style="dim", expand=False, pad_edge=False)
        for col in _SERVER_COLUMNS:
            servers.add_column(col, justify="left" if col in ("server", "status") else "right", no_wrap=True)
        for name, row in self._server_rows(now):
            rate = self.servers[name].error_rate
            style = "green" if rate < 0.1 else "yellow"
            status = Text(row[0], style=style if row[0].endswith("up") else "dim")
            servers.add_row(name, status, *row[1:-1], Text(row[-1], style="red" if rate >= 0.1 else ""))

        recent = Table(box=None, header_style="dim", expand=True, pad_edge=False)
        for col in _RECENT_COLUMNS:
            recent.add_column(col, no_wrap=True, overflow="ellipsis", justify="right" if col == "ms" else "left", ratio=3 if col == "rule / reason" else None)
        for rec, row in self._recent_rows():
            recent.add_row(*row[:4], Text(row[4], style=_STYLE.get(action_of(rec), "cyan")), *row[5:])
        return Panel(
            Group(head, Text(""), spark, Text(""), Text("servers", style="bold"), servers, Text(""), Text("recent decisions", style="bold"), recent),
            title=self.title,
            subtitle=clock,
            title_align="left",
            subtitle_align="right",
        )

    @property
    def title(self) -> str:
        return "mcpwrap dashboard — " + (", ".join(self.sources) or "audit log")

    def figures(self, sec: int) -> list[tuple[str, str]]:
        """The head line: rates, then the totals as `audit stats` counts them."""
        t = self.totals
        return [
            ("msgs/s", f"{self.rate(self.messages, sec):.1f}"),
            ("calls/s", f"{self.rate(self.calls, sec):.1f}"),
            ("messages", str(t["messages"])),
            ("tool calls", str(t["tool calls"])),
            ("blocks", str(t["block"])),
            ("modified", str(t["modify"])),
            ("errors", str(t["errors"])),
            ("redactions", str(t["redactions"])),
        ]

    def _server_rows(self, now: float) -> list[tuple[str, list[str]]]:
        rows = []
        for name, s in sorted(self.servers.items(), key=lambda kv: -kv[1].last_seen):
            age = max(0.0, now - s.last_seen)
            status = "● up" if s.open_sessions and age < STALE_SECONDS else "○ idle"
            rows.append((name, [status, _age(age), str(len(s.open_sessions)), str(s.messages), str(s.blocks), str(s.errors), f"{s.error_rate:.0%}"]))
        return rows

    def _recent_rows(self) -> list[tuple[dict, list[str]]]:
        rows = []
        for rec in reversed(self.recent):
            what = " ".join(str(x) for x in (rec.get("method"), rec.get("tool")) if x) or f"({rec.get('event')})"
            why = " — ".join(str(x) for x in (rec.get("rule"), rec.get("reason")) if x)
            lat = rec.get("latency_ms")
            ts = rec.get("ts") or ""
            rows.append((rec, [
                ts[11:19] if isinstance(ts, str) else "",
                str(rec.get("server") or ""),
                direction_arrow(rec),
                what,
                action_label(rec),
                f"{lat:.1f}" if isinstance(lat, (int, float)) else "",
                why,
            ]))  # fmt: skip
        return rows

    def plain(self, now: float | None = None, *, ascii_only: bool = False) -> list[str]:
        """The same frame as plain lines, for output that is not a terminal (nothing cut to a width)."""
        now = self.latest if now is None else now
        sec = int(now)
        clock = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now)) if now else "-"
        lines = [f"{self.title} — {clock}", "  ".join(f"{name} {value}" for name, value in self.figures(sec))]
        msg_series = self.series(self.messages, sec, WINDOW_SECONDS)
        latency_series = self.latency_series(sec, WINDOW_SECONDS)
        recent_lat = [v for v in latency_series[-RATE_SECONDS * 6 :] if v]
        lines.append(f"msgs ({WINDOW_SECONDS} s)     {sparkline(msg_series, ascii_only=ascii_only)}  max {max(msg_series, default=0):.0f}/s")
        mean = f"{sum(recent_lat) / len(recent_lat):.1f} ms" if recent_lat else "-"
        lines.append(f"latency ({WINDOW_SECONDS} s)  {sparkline(latency_series, ascii_only=ascii_only)}  {mean}")
        servers = Grid([Column(c, justify="left" if c in ("server", "status") else "right") for c in _SERVER_COLUMNS], title="servers")
        for name, row in self._server_rows(now):
            servers.add_row(name, *row)
        recent = Grid([Column(c or "dir", justify="right" if c == "ms" else "left") for c in _RECENT_COLUMNS], title="recent decisions")
        for _rec, row in self._recent_rows():
            recent.add_row(*row)
        return [*lines, "", *servers.plain(), "", *recent.plain()]


_SERVER_COLUMNS = ("server", "status", "last seen", "sessions", "messages", "blocks", "errors", "error rate")
_RECENT_COLUMNS = ("time", "server", "", "method / tool", "action", "ms", "rule / reason")  # free text last


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


def run_dashboard(paths: list[Path], *, refresh: float, once: bool, out: Output, frames: int | None = None) -> None:
    """Show the dashboard until interrupted (or, for tests and scripts, after ``frames`` redraws)."""
    encoding = (getattr(out.stream, "encoding", None) or "utf-8") if not out.terminal else (out.console.encoding or "")
    ascii_only = not encoding.lower().startswith("utf")

    def show(state: DashboardState, now: float) -> None:
        out.rich(state.render(now, ascii_only=ascii_only, width=out.width), state.plain(now, ascii_only=ascii_only))

    if once:
        state = load(paths)
        show(state, state.latest or time.time())
        return
    state = DashboardState()
    state.sources = [str(p) for p in paths]
    for p in paths:  # rotated predecessors first; the live files are then followed from their start
        for rec in read_records(expand([p])[:-1]):
            state.feed(rec)
    stream = follow(paths, from_start=True, idle_ticks=True, poll=min(0.25, refresh))
    drawn = 0
    try:
        if out.terminal:
            from rich.live import Live

            console = out.console
            with Live(
                state.render(time.time(), ascii_only=ascii_only, width=console.width), console=console, auto_refresh=False, screen=False, redirect_stdout=False
            ) as live:
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
                    show(state, time.time())
                    last = time.monotonic()
                    drawn += 1
                    if frames is not None and drawn >= frames:
                        break
    except KeyboardInterrupt:
        pass
    finally:
        stream.close()
