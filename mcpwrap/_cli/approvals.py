"""``mcpwrap approvals`` / ``approve`` / ``deny``: decide held calls from a terminal.

``approve`` must be run by a person at a terminal: it refuses when its standard input is not a terminal and
asks for confirmation after showing the call. A model that can run shell commands through some tool does so
without a terminal, so it cannot approve its own calls this way (and it never learns an approval id: ids
appear only here and in desktop notifications). ``deny`` needs no terminal — refusing is always safe.
"""

from __future__ import annotations

import json
import os
import sys
import time

import typer

from .._state.approvals import REMEMBER_CHOICES, ApprovalError, ApprovalQueue
from .output import Grid, Output

__all__ = ["register"]

WATCH_REFRESH = 1.0  # seconds between refreshes of `approvals --watch`


def _queue() -> ApprovalQueue:
    from .._config import load_section
    from .._paths import resolve_policy_path
    from ..interceptors.approval import APPROVAL_SECTION

    try:
        settings = load_section(resolve_policy_path(None), APPROVAL_SECTION)
        return ApprovalQueue(settings.queue)
    except Exception:  # an unreadable policy must not hide pending calls: fall back to the default queue
        return ApprovalQueue()


def _at_terminal() -> bool:
    try:
        return os.isatty(sys.stdin.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdin (closed, captured): not a person's terminal
        return False


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _grid(entries: list[dict]) -> Grid:
    # Cells are plain text, never markup: arguments come from the model, and "[white on white]" must not hide anything.
    grid = Grid(["ID", "server", "call", "arguments", "rule", "waiting", "left"], title=f"Pending approvals ({len(entries)})")
    now = time.time()
    for e in entries:
        grid.add_row(
            str(e.get("id", "?")),
            str(e.get("server")),
            str(e.get("tool")),
            str(e.get("arguments") or ""),
            str(e.get("rule")) + (f"\n{e['reason']}" if e.get("reason") else ""),
            _age(now - e.get("created_ts", now)),
            _age(e.get("expires_ts", now) - now) + f" then {e.get('on_timeout', 'deny')}",
        )
    return grid


_NOTHING = "No calls are waiting for approval."
_HINT = "Decide with: mcpwrap approve ID [--remember once|session|always]  |  mcpwrap deny ID"


def _renderable(entries: list[dict]):
    from rich.console import Group
    from rich.text import Text

    if not entries:
        return Text(_NOTHING)
    return Group(_grid(entries).rich(expand=False), Text(_HINT, style="dim"))


def _plain(entries: list[dict]) -> list[str]:
    return [*_grid(entries).plain(), _HINT] if entries else [_NOTHING]


def register(app: typer.Typer) -> None:
    @app.command("approvals", help="List calls waiting for a person's approval, from every wrapped server.")
    def approvals(
        watch: bool = typer.Option(
            False, "--watch", "-w", help="keep watching: on a terminal the list is redrawn every second; elsewhere it is printed again whenever it changes"
        ),
        as_json: bool = typer.Option(False, "--json", help="print the pending approvals as JSON"),
    ) -> None:
        queue = _queue()
        out = Output()
        try:
            if as_json:
                typer.echo(json.dumps(queue.pending(), indent=1, ensure_ascii=False))
                return
            entries = queue.pending()
            if not watch:
                out.rich(_renderable(entries), _plain(entries))
                return
            if not out.terminal:
                # a pipe or a log: a new listing (with its time) each time the set of waiting calls changes
                shown = None
                while True:
                    ids = [e.get("id") for e in entries]
                    if ids != shown:
                        out.lines([time.strftime("%Y-%m-%d %H:%M:%S"), *_plain(entries), ""])
                        shown = ids
                    time.sleep(WATCH_REFRESH)
                    entries = queue.pending()
            from rich.live import Live

            with Live(_renderable(entries), console=out.console, refresh_per_second=4, transient=False) as live:
                while True:
                    time.sleep(WATCH_REFRESH)
                    live.update(_renderable(queue.pending()))
        except ApprovalError as exc:
            typer.echo(f"mcpwrap: {exc}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            raise typer.Exit(0) from None

    @app.command("approve", help="Approve a held call (see `mcpwrap approvals`). Must be run at a terminal.")
    def approve(
        approval_id: str = typer.Argument(..., metavar="ID", help="the id shown by `mcpwrap approvals`"),
        remember: str = typer.Option(
            "once",
            "--remember",
            "-r",
            metavar="CHOICE",
            help="once | session (this tool, until the client disconnects) | "
            "always (this tool with these arguments, written to policy.overrides.yaml)",
        ),
        yes: bool = typer.Option(False, "--yes", "-y", help="do not ask for confirmation (still needs a terminal)"),
    ) -> None:
        if remember not in REMEMBER_CHOICES:
            typer.echo(f"mcpwrap: --remember must be one of {', '.join(REMEMBER_CHOICES)}", err=True)
            raise typer.Exit(2)
        if not _at_terminal():
            typer.echo(
                "mcpwrap: approve must be run by a person in a terminal (standard input is not a terminal); "
                "a call cannot be approved from a script or a tool",
                err=True,
            )
            raise typer.Exit(1)
        queue = _queue()
        try:
            entry = queue.get(approval_id)
            typer.echo(f"{entry.get('server')}: {entry.get('tool')}    (rule {entry.get('rule')})")
            if entry.get("arguments"):
                for line in str(entry["arguments"]).splitlines():
                    typer.echo(f"  {line}")
            if not yes and not typer.confirm(f"Approve this call (remember: {remember})?", default=False):
                typer.echo("not approved (nothing changed)")
                raise typer.Exit(1)
            queue.decide(approval_id, "approve", remember=remember)
        except ApprovalError as exc:
            typer.echo(f"mcpwrap: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"approved {approval_id}" + (f" (remember: {remember})" if remember != "once" else ""))

    @app.command("deny", help="Deny a held call (see `mcpwrap approvals`); the client gets the block answer.")
    def deny(approval_id: str = typer.Argument(..., metavar="ID", help="the id shown by `mcpwrap approvals`")) -> None:
        try:
            entry = _queue().decide(approval_id, "deny")
        except ApprovalError as exc:
            typer.echo(f"mcpwrap: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"denied {approval_id} ({entry.get('server')}: {entry.get('tool')})")
