"""``mcpwrap tools``: list pinned definitions, review held changes, approve or reject them.

These commands are the only way a pending definition becomes approved (see :mod:`mcpwrap._state.pins`): the
decision is a person's, on a terminal, never something the model can trigger through MCP traffic.

    mcpwrap tools list [--server NAME] [--json]
    mcpwrap tools review [--server NAME]
    mcpwrap tools approve SERVER TOOL | SERVER --all | --all
    mcpwrap tools reject  SERVER TOOL | SERVER --all | --all

``TOOL`` is a tool name, or ``instructions`` for the server's instructions (``tool:instructions`` names a
tool that happens to be called "instructions").
"""

from __future__ import annotations

import json

import typer

from .._state.pins import INSTRUCTIONS, PinStore, PinStoreError
from .._state.pinview import HELD_STATUSES, diff_lines, entry_label, list_rows, readable_lines, requested_key
from .common import fail as _fail
from .output import Cell, Column, Grid, Output

__all__ = ["register"]

tools_app = typer.Typer(help="Pinned tool definitions: list, review held changes, approve or reject them.", no_args_is_help=True)

_PINS_DIR = typer.Option(None, "--pins-dir", metavar="DIR", help="pin store [default: $MCPWRAP_HOME/pins]")
_SERVER_ARG = typer.Argument(None, metavar="SERVER", help="the server's name (its --name in the client's configuration)", show_default=False)
_TOOL_ARG = typer.Argument(None, metavar="TOOL", help="a tool name, or 'instructions' for the server's instructions", show_default=False)


def _store(pins_dir: str | None) -> PinStore:
    return PinStore(pins_dir) if pins_dir else PinStore()


def _when(stamp: str | None) -> str:
    return stamp.replace("T", " ")[:16] if stamp else ""


# --- commands ----------------------------------------------------------------------------------------------------


@tools_app.command("list")
def list_tools(
    server: str | None = typer.Option(None, "--server", metavar="NAME", help="only this server"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per definition instead of a table"),
    pins_dir: str | None = _PINS_DIR,
) -> None:
    """Pinned tools with their status: approved, held (changed), held-new, poisoned, rejected."""
    rows = list_rows(_store(pins_dir), server)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    out = Output()
    if not rows:
        out.line(f"no pinned definitions{' for ' + server if server else ''} (pins are recorded when a wrapped server lists its tools)")
        return
    grid = Grid(["server", "tool", "status", "pinned", "changed", "findings", "note"], title="pinned definitions")
    colours = {"approved": "green", "held": "yellow", "held-new": "yellow", "poisoned": "red", "rejected": "red", "error": "red"}
    for r in rows:
        note = r.get("error") or (f"same name on {', '.join(r['also_on'])}" if r.get("also_on") else "")
        pinned = f"{_when(r['pinned'])} ({r['pinned_by']})" if r.get("pinned") else ""
        status = Cell(r["status"], colours.get(r["status"], ""))
        grid.add_row(r["server"], r["tool"] or "", status, pinned, _when(r.get("changed")), str(r.get("findings") or ""), note)
    out.table(grid)
    held = sum(1 for r in rows if r["status"] in HELD_STATUSES)
    if held:
        out.line(f"{held} definition(s) await review: mcpwrap tools review")


@tools_app.command("review")
def review(
    server: str | None = typer.Option(None, "--server", metavar="NAME", help="only this server"),
    pins_dir: str | None = _PINS_DIR,
) -> None:
    """Show every held definition as a diff against the approved one, with the poisoning findings."""
    from rich.panel import Panel
    from rich.text import Text

    store = _store(pins_dir)
    try:
        pending = store.pending(server)
    except PinStoreError as exc:
        _fail(str(exc))
    out = Output()
    if not pending:
        out.line("nothing to review: no held definitions")
        return
    for s, key, entry in pending:
        p = entry["pending"]
        approved = entry.get("approved") or None
        what = {"changed": "changed since it was approved", "new": "new tool, held for review",
                "poisoned": "flagged by the poisoning scan"}.get(p.get("reason"), p.get("reason", ""))
        lines: list[tuple[str, str]] = []  # (text, style on a terminal)
        if approved:
            lines += [(f"approved {approved.get('at')} ({approved.get('by')}); offered {p.get('at')}", "dim"), ("", "")]
            for line in diff_lines(approved.get("definition"), p.get("definition")):
                style = "green" if line.startswith("+") else "red" if line.startswith("-") else "cyan" if line.startswith("@@") else ""
                lines.append((line, style))
        else:
            lines += [(f"offered {p.get('at')}", "dim"), ("", "")]
            lines += [(line, "") for line in readable_lines(p.get("definition"))]
        title = f"{s} / {entry_label(key)} — {what}"
        body = Text()
        for text, style in lines:
            body.append(text + "\n", style=style)
        out.rich(Panel(body, title=Text(title), title_align="left", expand=True), [f"== {title}", *(text for text, _ in lines)])
        findings = p.get("findings") or []
        if findings:
            grid = Grid([Column("rule", no_wrap=True), "where", "excerpt"], title="poisoning findings")
            for f in findings:
                grid.add_row(f.get("rule", ""), f.get("path", ""), f.get("excerpt", ""))
            out.table(grid)
        name = entry_label(key) if key != INSTRUCTIONS else INSTRUCTIONS
        out.line(f"  approve: mcpwrap tools approve {s} {name}    reject: mcpwrap tools reject {s} {name}")
        out.line()


def _decide(verb: str, server: str | None, tool: str | None, all_: bool, pins_dir: str | None) -> None:
    store = _store(pins_dir)
    if tool is None and not all_:
        _fail(f"name a tool (mcpwrap tools {verb} SERVER TOOL) or use --all", 2)
    if tool is not None and all_:
        _fail("give either a TOOL or --all, not both", 2)
    if tool is not None and server is None:  # pragma: no cover - typer makes SERVER positional-first
        _fail("name the server too", 2)
    try:
        if all_:
            targets = [(s, k) for s, k, _ in store.pending(server)]
        else:
            assert server is not None and tool is not None  # checked above
            targets = [(server, requested_key(tool))]
        done = []
        for s, key in targets:
            entry = (store.approve if verb == "approve" else store.reject)(s, key)
            if entry is not None:
                done.append((s, key))
    except PinStoreError as exc:
        _fail(str(exc))
    if not done:
        if all_:
            typer.echo("nothing to " + verb + ": no held definitions")
            return
        _fail(f"{server} / {tool}: no held definition to {verb} (see mcpwrap tools list)")
    past = "approved" if verb == "approve" else "rejected"
    for s, key in done:
        typer.echo(f"{past}: {s} / {entry_label(key)}")
    if verb == "approve":
        typer.echo("clients see approved tools on their next tools/list (running sessions allow calls at once)")


@tools_app.command("approve")
def approve(
    server: str | None = _SERVER_ARG,
    tool: str | None = _TOOL_ARG,
    all_: bool = typer.Option(False, "--all", help="every held definition (of SERVER, if given)"),
    pins_dir: str | None = _PINS_DIR,
) -> None:
    """Pin the held definition of TOOL (or 'instructions') as approved."""
    _decide("approve", server, tool, all_, pins_dir)


@tools_app.command("reject")
def reject(
    server: str | None = _SERVER_ARG,
    tool: str | None = _TOOL_ARG,
    all_: bool = typer.Option(False, "--all", help="every held definition (of SERVER, if given)"),
    pins_dir: str | None = _PINS_DIR,
) -> None:
    """Refuse the held definition of TOOL for good: it stays hidden and its calls blocked."""
    _decide("reject", server, tool, all_, pins_dir)


def register(app: typer.Typer) -> None:
    app.add_typer(tools_app, name="tools")

