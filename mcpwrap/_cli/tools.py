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

import difflib
import json
from typing import Any, Optional

import typer

from .._state.pins import INSTRUCTIONS, TOOL_PREFIX, PinStore, PinStoreError, entry_status
from ..detect.poison import _visible

__all__ = ["register", "readable_lines", "diff_lines"]

tools_app = typer.Typer(help="Pinned tool definitions: list, review held changes, approve or reject them.", no_args_is_help=True)

_PINS_DIR = typer.Option(None, "--pins-dir", metavar="PATH", help="pin store (default: $MCPWRAP_HOME/pins)")
_WRAP_WIDTH = 100  # description text is broken into lines this wide, so a diff shows the sentence that changed


def _store(pins_dir: Optional[str]) -> PinStore:
    return PinStore(pins_dir) if pins_dir else PinStore()


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def _key(tool: str) -> str:
    if tool == INSTRUCTIONS:
        return INSTRUCTIONS
    return tool if tool.startswith(TOOL_PREFIX) else TOOL_PREFIX + tool


def _label(key: str) -> str:
    return "(instructions)" if key == INSTRUCTIONS else key[len(TOOL_PREFIX):]


def _when(stamp: Optional[str]) -> str:
    return stamp.replace("T", " ")[:16] if stamp else ""


def _fail(text: str, code: int = 1) -> None:
    typer.echo(f"mcpwrap: {text}", err=True)
    raise typer.Exit(code)


# --- a readable, diffable form of a definition -------------------------------------------------------------------


def _wrap_text(text: str) -> list[str]:
    import textwrap

    out: list[str] = []
    for para in _visible_keep_newlines(text).split("\n"):
        out.extend(textwrap.wrap(para, _WRAP_WIDTH, break_long_words=True, replace_whitespace=False) or [""])
    return out


def _visible_keep_newlines(text: str) -> str:
    return "\n".join(_visible(line) for line in text.split("\n"))


def readable_lines(value: Any, indent: str = "") -> list[str]:
    """A definition as indented ``key: value`` lines; long text wrapped; invisible characters made visible."""
    lines: list[str] = []
    if isinstance(value, dict):
        for k in sorted(value):
            v = value[k]
            label = _visible(str(k))
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{indent}{label}:")
                lines.extend(readable_lines(v, indent + "  "))
            elif isinstance(v, str) and (len(v) > _WRAP_WIDTH or "\n" in v):
                lines.append(f"{indent}{label}: |")
                lines.extend(indent + "  " + line for line in _wrap_text(v))
            else:
                lines.append(f"{indent}{label}: {_scalar(v)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                sub = readable_lines(item, indent + "  ")
                lines.append(f"{indent}- {sub[0].lstrip()}")
                lines.extend(sub[1:])
            else:
                lines.append(f"{indent}- {_scalar(item)}")
    else:
        lines.extend(indent + line for line in _wrap_text(str(value)))
    return lines


def _scalar(v: Any) -> str:
    if isinstance(v, str):  # quoted, with invisible characters as \uXXXX (escaped once, for the reader)
        return '"' + _visible(v.replace("\\", "\\\\").replace('"', '\\"')) + '"'
    return json.dumps(v, ensure_ascii=False)


def diff_lines(old: Any, new: Any) -> list[str]:
    a = readable_lines(old) if old is not None else []
    b = readable_lines(new)
    return list(difflib.unified_diff(a, b, "approved", "offered", lineterm="", n=3))


# --- commands ----------------------------------------------------------------------------------------------------


@tools_app.command("list")
def list_tools(
    server: Optional[str] = typer.Option(None, "--server", metavar="NAME", help="only this server"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per definition instead of a table"),
    pins_dir: Optional[str] = _PINS_DIR,
) -> None:
    """Pinned tools with their status: approved, held (changed), held-new, poisoned, rejected."""
    store = _store(pins_dir)
    servers = [server] if server else store.servers()
    rows = []
    for s in servers:
        try:
            doc = store.load(s)
        except PinStoreError as exc:
            rows.append({"server": s, "tool": None, "status": "error", "error": str(exc)})
            continue
        for key, entry in sorted(doc["entries"].items()):
            if not isinstance(entry, dict):
                continue
            pending = entry.get("pending") or {}
            approved = entry.get("approved") or {}
            rows.append({
                "server": s,
                "tool": _label(key),
                "status": entry_status(entry),
                "pinned": approved.get("at"),
                "pinned_by": approved.get("by"),
                "changed": pending.get("at"),
                "findings": len(pending.get("findings") or []),
                "also_on": entry.get("also_on") or [],
            })
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    console = _console()
    if not rows:
        console.print(f"no pinned definitions{' for ' + server if server else ''} (pins are recorded when a wrapped server lists its tools)")
        return
    from rich.table import Table

    table = Table(title="pinned definitions", title_justify="left")
    for col in ("server", "tool", "status", "pinned", "changed", "findings", "note"):
        table.add_column(col)
    colours = {"approved": "green", "held": "yellow", "held-new": "yellow", "poisoned": "red", "rejected": "red", "error": "red"}
    for r in rows:
        note = r.get("error") or (f"same name on {', '.join(r['also_on'])}" if r.get("also_on") else "")
        pinned = f"{_when(r['pinned'])} ({r['pinned_by']})" if r.get("pinned") else ""
        table.add_row(
            r["server"], r["tool"] or "", f"[{colours.get(r['status'], 'white')}]{r['status']}[/]", pinned,
            _when(r.get("changed")), str(r.get("findings") or ""), note,
        )
    console.print(table)
    held = sum(1 for r in rows if r["status"] in ("held", "held-new", "poisoned"))
    if held:
        console.print(f"{held} definition(s) await review: mcpwrap tools review")


@tools_app.command("review")
def review(
    server: Optional[str] = typer.Option(None, "--server", metavar="NAME", help="only this server"),
    pins_dir: Optional[str] = _PINS_DIR,
) -> None:
    """Show every held definition as a diff against the approved one, with the poisoning findings."""
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    store = _store(pins_dir)
    try:
        pending = store.pending(server)
    except PinStoreError as exc:
        _fail(str(exc))
    console = _console()
    if not pending:
        console.print("nothing to review: no held definitions")
        return
    for s, key, entry in pending:
        p = entry["pending"]
        approved = entry.get("approved") or None
        what = {"changed": "changed since it was approved", "new": "new tool, held for review",
                "poisoned": "flagged by the poisoning scan"}.get(p.get("reason"), p.get("reason", ""))
        body = Text()
        if approved:
            body.append(f"approved {approved.get('at')} ({approved.get('by')}); offered {p.get('at')}\n\n", style="dim")
            for line in diff_lines(approved.get("definition"), p.get("definition")):
                style = "green" if line.startswith("+") else "red" if line.startswith("-") else "cyan" if line.startswith("@@") else ""
                body.append(line + "\n", style=style)
        else:
            body.append(f"offered {p.get('at')}\n\n", style="dim")
            for line in readable_lines(p.get("definition")):
                body.append(line + "\n")
        console.print(Panel(body, title=f"{s} / {_label(key)} — {what}", title_align="left", expand=True))
        findings = p.get("findings") or []
        if findings:
            table = Table(title="poisoning findings", title_justify="left")
            table.add_column("rule", no_wrap=True)
            table.add_column("where", overflow="fold")
            table.add_column("excerpt", overflow="fold")
            for f in findings:
                table.add_row(f.get("rule", ""), f.get("path", ""), f.get("excerpt", ""))
            console.print(table)
        name = _label(key) if key != INSTRUCTIONS else INSTRUCTIONS
        console.print(f"  approve: mcpwrap tools approve {s} {name}    reject: mcpwrap tools reject {s} {name}\n")


def _decide(verb: str, server: Optional[str], tool: Optional[str], all_: bool, pins_dir: Optional[str]) -> None:
    store = _store(pins_dir)
    if tool is None and not all_:
        _fail(f"name a tool (mcpwrap tools {verb} SERVER TOOL) or use --all", 2)
    if tool is not None and all_:
        _fail("give either a TOOL or --all, not both", 2)
    if tool is not None and server is None:  # pragma: no cover - typer makes SERVER positional-first
        _fail("name the server too", 2)
    try:
        targets = [(s, k) for s, k, _ in store.pending(server)] if all_ else [(server, _key(tool))]
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
        typer.echo(f"{past}: {s} / {_label(key)}")
    if verb == "approve":
        typer.echo("clients see approved tools on their next tools/list (running sessions allow calls at once)")


@tools_app.command("approve")
def approve(
    server: Optional[str] = typer.Argument(None, metavar="SERVER"),
    tool: Optional[str] = typer.Argument(None, metavar="TOOL"),
    all_: bool = typer.Option(False, "--all", help="every held definition (of SERVER, if given)"),
    pins_dir: Optional[str] = _PINS_DIR,
) -> None:
    """Pin the held definition of TOOL (or 'instructions') as approved."""
    _decide("approve", server, tool, all_, pins_dir)


@tools_app.command("reject")
def reject(
    server: Optional[str] = typer.Argument(None, metavar="SERVER"),
    tool: Optional[str] = typer.Argument(None, metavar="TOOL"),
    all_: bool = typer.Option(False, "--all", help="every held definition (of SERVER, if given)"),
    pins_dir: Optional[str] = _PINS_DIR,
) -> None:
    """Refuse the held definition of TOOL for good: it stays hidden and its calls blocked."""
    _decide("reject", server, tool, all_, pins_dir)


def register(app: typer.Typer) -> None:
    app.add_typer(tools_app, name="tools")

