"""``mcpwrap enable`` / ``disable`` / ``status``: the command-line face of :mod:`mcpwrap._clients.ops`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from .. import _log as log
from .._clients.locations import CLIENTS, SCOPES, Locations
from .._clients.plan import Row, Selection
from .._errors import McpwrapError

__all__ = ["register"]

_CLIENT_HELP = f"which client: {' | '.join(CLIENTS)} | all"


def _fail(message: str, code: int = 1) -> typer.Exit:
    """Report ``message`` on stderr; the caller raises the returned exit (``raise _fail(…) from None``)."""
    log.error(message)
    return typer.Exit(code)


def _selection(scope: list[str] | None, server: list[str] | None, loc: Locations) -> Selection:
    for s in scope or ():
        if s not in SCOPES:
            raise _fail(f"--scope must be one of {', '.join(SCOPES)}, not {s!r}", 2)
    import os

    return Selection(
        scopes=frozenset(scope) if scope else frozenset(SCOPES),
        servers=frozenset(server) if server else None,
        projects=frozenset({os.path.realpath(loc.project)}) if loc.project_given else None,
    )


def _client(client: str) -> str:
    if client not in (*CLIENTS, "all"):
        raise _fail(f"--client must be one of {', '.join(CLIENTS)}, all; not {client!r}", 2)
    return client


def _locations(
    project: Path | None,
    claude_config: Path | None,
    desktop_config: Path | None,
    cursor_config: Path | None,
    vscode_config: Path | None,
    windsurf_config: Path | None,
) -> Locations:
    loc = Locations(
        claude_json=claude_config,
        claude_desktop=desktop_config,
        cursor=cursor_config,
        vscode_user=vscode_config,
        windsurf=windsurf_config,
    )
    if project is not None:
        if not project.is_dir():
            raise _fail(f"--project {project}: not a directory", 2)
        loc.project, loc.project_given = project.absolute(), True
    return loc


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def _summary(rows: list[Row], title: str) -> None:
    from rich.table import Table

    if not rows:
        _console().print("no MCP servers configured in the selected clients and scopes")
        return
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in ("client", "scope", "project", "server"):
        table.add_column(column, overflow="fold")
    table.add_column("before → after", overflow="fold")
    from rich.markup import escape

    for row in rows:
        if row.action in ("wrapped", "restored"):
            change = f"{escape(row.before)}\n→ {escape(row.after)}"
        else:
            change = f"{escape(row.before)}\n[dim]{row.action}: {escape(row.note)}[/dim]" if row.note else escape(row.before)
        table.add_row(*(escape(c) for c in (row.client, row.scope, _short(row.project), row.server)), change)
    _console().print(table)


# the path options shared by the three commands
_PROJECT = typer.Option(None, "--project", metavar="DIR", help="project directory for project scope (.mcp.json, .cursor/, .vscode/) "
                        "and, when given, the only project of Claude Code's local scope (default: the current directory)")
_CLAUDE = typer.Option(None, "--claude-config", metavar="FILE", help="Claude Code state file (default: $CLAUDE_CONFIG_DIR/.claude.json, else ~/.claude.json)")
_DESKTOP = typer.Option(None, "--desktop-config", metavar="FILE", help="Claude Desktop claude_desktop_config.json")
_CURSOR = typer.Option(None, "--cursor-config", metavar="FILE", help="Cursor user mcp.json (default: ~/.cursor/mcp.json)")
_VSCODE = typer.Option(None, "--vscode-config", metavar="FILE", help="VS Code user mcp.json")
_WINDSURF = typer.Option(None, "--windsurf-config", metavar="FILE", help="Windsurf mcp_config.json (default: ~/.codeium/windsurf/mcp_config.json)")
_SCOPE = typer.Option(None, "--scope", metavar="SCOPE", help="user | local | project (repeatable; default: all three)")
_SERVER = typer.Option(None, "--server", metavar="NAME", help="only this server (repeatable)")
_CLIENT = typer.Option("claude-code", "--client", metavar="CLIENT", help=_CLIENT_HELP)


def _print_changes(report, verb: str, dry_run: bool) -> None:
    if dry_run:
        for diff in report.diffs:
            sys.stdout.write(diff if diff.endswith("\n") else diff + "\n")
            sys.stdout.flush()
        if not report.diffs:
            typer.echo(f"dry run: nothing to {verb}")
    _summary(report.rows, f"{'would ' + verb if dry_run else verb}")
    for path in report.written:
        typer.echo(f"updated {path}")
    for path in report.merged:
        typer.echo(f"  {path} was changed by another program meanwhile: its change is kept")
    for path in report.backups:
        typer.echo(f"  backup of the previous version: {path}")
    if not dry_run and not report.written and report.rows:
        typer.echo(f"nothing to {verb}: no file changed")


def enable(
    client: str = _CLIENT,
    scope: list[str] | None = _SCOPE,
    server: list[str] | None = _SERVER,
    project: Path | None = _PROJECT,
    dry_run: bool = typer.Option(False, "--dry-run", help="print a unified diff per file and change nothing"),
    policy: Path | None = typer.Option(
        None, "--policy", metavar="FILE", help="policy for the wrapped servers (default: $MCPWRAP_HOME/policy.yaml, created if absent)"
    ),
    audit_log: Path | None = typer.Option(
        None, "--audit-log", metavar="FILE", help="audit log for the wrapped servers (default: the policy's audit.path, else $MCPWRAP_HOME/audit.jsonl)"
    ),
    claude_config: Path | None = _CLAUDE,
    desktop_config: Path | None = _DESKTOP,
    cursor_config: Path | None = _CURSOR,
    vscode_config: Path | None = _VSCODE,
    windsurf_config: Path | None = _WINDSURF,
) -> None:
    """Wrap every stdio MCP server of a client with `mcpwrap wrap` (reversible with `mcpwrap disable`)."""
    from .._clients.ops import enable as run_enable

    loc = _locations(project, claude_config, desktop_config, cursor_config, vscode_config, windsurf_config)
    try:
        report = run_enable(
            _client(client),
            loc,
            _selection(scope, server, loc),
            policy=str(policy) if policy else None,
            audit_log=str(audit_log) if audit_log else None,
            dry_run=dry_run,
        )
    except McpwrapError as exc:
        raise _fail(str(exc)) from None
    _print_changes(report, "enable", dry_run)
    if report.policy_created:
        typer.echo(f"created the default policy {report.policy} (edit it; `mcpwrap status` shows what uses it)")
    elif report.policy and any(r.action == "wrapped" for r in report.rows):
        missing = dry_run and not Path(report.policy).exists()
        typer.echo(f"policy: {report.policy}" + (" (the default policy, created by enable)" if missing else ""))


def disable(
    client: str = _CLIENT,
    scope: list[str] | None = _SCOPE,
    server: list[str] | None = _SERVER,
    project: Path | None = _PROJECT,
    dry_run: bool = typer.Option(False, "--dry-run", help="print a unified diff per file and change nothing"),
    claude_config: Path | None = _CLAUDE,
    desktop_config: Path | None = _DESKTOP,
    cursor_config: Path | None = _CURSOR,
    vscode_config: Path | None = _VSCODE,
    windsurf_config: Path | None = _WINDSURF,
) -> None:
    """Restore every server wrapped by `mcpwrap enable` to exactly its original form."""
    from .._clients.ops import disable as run_disable

    loc = _locations(project, claude_config, desktop_config, cursor_config, vscode_config, windsurf_config)
    try:
        report = run_disable(_client(client), loc, _selection(scope, server, loc), dry_run=dry_run)
    except McpwrapError as exc:
        raise _fail(str(exc)) from None
    _print_changes(report, "disable", dry_run)


def status(
    client: str = typer.Option("all", "--client", metavar="CLIENT", help=_CLIENT_HELP + " (default: all)"),
    scope: list[str] | None = _SCOPE,
    server: list[str] | None = _SERVER,
    project: Path | None = _PROJECT,
    as_json: bool = typer.Option(False, "--json", help="print a JSON array instead of a table"),
    claude_config: Path | None = _CLAUDE,
    desktop_config: Path | None = _DESKTOP,
    cursor_config: Path | None = _CURSOR,
    vscode_config: Path | None = _VSCODE,
    windsurf_config: Path | None = _WINDSURF,
) -> None:
    """List every configured MCP server: wrapped or not, its policy, audit log and last activity."""
    from .._clients.ops import status as run_status

    loc = _locations(project, claude_config, desktop_config, cursor_config, vscode_config, windsurf_config)
    errors: list[str] = []
    try:
        rows = run_status(_client(client), loc, _selection(scope, server, loc), errors)
    except McpwrapError as exc:
        raise _fail(str(exc)) from None
    _status_output(rows, as_json)
    for error in errors:  # the readable files are listed; each unreadable one is named, and the status is 1
        log.error(error)
    if errors:
        raise typer.Exit(1)


def _status_output(rows: list, as_json: bool) -> None:
    from rich.table import Table

    if as_json:
        sys.stdout.write(json.dumps([r.to_json() for r in rows], indent=2, ensure_ascii=False) + "\n")
        return
    if not rows:
        _console().print("no MCP servers configured in the selected clients and scopes")
        return
    pairs = {(r.policy, r.audit_log) for r in rows if r.policy}
    shared = len(pairs) == 1  # the usual case: one policy and one log for every wrapped server, said once below
    columns = ["client", "scope", "project", "server", "state"] + ([] if shared else ["policy", "audit log"]) + ["last activity"]
    table = Table(title="MCP servers", title_justify="left")
    for column in columns:
        # short cells never wrap; the paths fold only when the terminal is too narrow for them
        table.add_column(column, overflow="fold", no_wrap=column in ("client", "scope", "state", "last activity"))
    from rich.markup import escape

    for r in rows:
        state = f"{r.state}\n[dim]{escape(_brief(r.note))}[/dim]" if r.note else r.state
        cells = [r.client, r.scope, _short(r.project), r.server]
        paths = [] if shared else [_short(r.policy), _short(r.audit_log)]
        when = _when(r.last_activity) or ("never" if r.audit_log else "")
        table.add_row(*(escape(c) for c in cells), state, *(escape(c) for c in paths), when)
    console = _console()
    console.print(table)
    if shared:
        policy, audit_log = next(iter(pairs))
        typer.echo(f"policy of the wrapped servers: {_short(policy)}; audit log: {_short(audit_log)}")


def _short(path: str | None) -> str:
    """A path for a table cell: the home directory as ~ (the JSON output keeps full paths)."""
    if not path:
        return ""
    home = str(Path.home())
    if home not in ("", "/") and (path == home or path.startswith(home + "/")):
        return "~" + path[len(home) :]
    return path


def _brief(note: str) -> str:
    """The first clause of a note, for a narrow table cell (the JSON output has it whole)."""
    return note.split(":", 1)[0]


def _when(ts: str | None) -> str:
    """An audit timestamp to the second: 2026-11-21T14:10:37.949284Z -> 2026-11-21 14:10:37Z."""
    if not ts:
        return ""
    return ts[:19].replace("T", " ") + ("Z" if ts.endswith("Z") else "")


def register(app: typer.Typer) -> None:
    app.command("enable")(enable)
    app.command("disable")(disable)
    app.command("status")(status)
