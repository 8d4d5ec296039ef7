"""``mcpwrap enable`` / ``disable`` / ``status``: the command-line face of :mod:`mcpwrap._clients.ops`.

``enable`` defaults to Claude Code; ``disable`` and ``status`` to every client, so that whatever was wrapped
(``enable --client all``) is found and put back. ``--json`` gives scripts the rows; tables follow
:mod:`mcpwrap._cli.output` (rich on a terminal, full-width plain text elsewhere).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from .. import _log as log
from .._clients.locations import CLIENTS, SCOPES, Locations
from .._clients.ops import Report
from .._clients.plan import Row, Selection
from .._errors import McpwrapError
from .output import Cell, Column, Grid, Output

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


def _summary(rows: list[Row], title: str, out: Output) -> None:
    if not rows:
        out.line("no MCP servers configured in the selected clients and scopes")
        return
    grid = Grid(["client", "scope", "project", "server", "before → after"], title=title)
    for row in rows:
        if row.action in ("wrapped", "restored", "repointed"):
            change = Cell(f"{row.before}\n→ {row.after}" + (f"\n{row.action}: {row.note}" if row.action == "repointed" and row.note else ""))
        elif row.note:
            change = Cell(f"{row.before}\n{row.action}: {row.note}")
        else:
            change = Cell(row.before)
        grid.add_row(row.client, row.scope, _short(row.project), row.server, change)
    out.table(grid)


# the path options shared by the three commands
_PROJECT = typer.Option(None, "--project", metavar="DIR", help="project directory for project scope (.mcp.json, .cursor/, .vscode/) "
                        "and, when given, the only project of Claude Code's local scope [default: the current directory]")
_CLAUDE = typer.Option(None, "--claude-config", metavar="FILE", help="Claude Code state file [default: $CLAUDE_CONFIG_DIR/.claude.json, else ~/.claude.json]")
_DESKTOP = typer.Option(None, "--desktop-config", metavar="FILE", help="Claude Desktop claude_desktop_config.json")
_CURSOR = typer.Option(None, "--cursor-config", metavar="FILE", help="Cursor user mcp.json [default: ~/.cursor/mcp.json]")
_VSCODE = typer.Option(None, "--vscode-config", metavar="FILE", help="VS Code user mcp.json")
_WINDSURF = typer.Option(None, "--windsurf-config", metavar="FILE", help="Windsurf mcp_config.json [default: ~/.codeium/windsurf/mcp_config.json]")
_SCOPE = typer.Option(None, "--scope", metavar="SCOPE", help="user | local | project (repeatable; default: all three)")
_SERVER = typer.Option(None, "--server", metavar="NAME", help="only this server (repeatable)")
_JSON = typer.Option(False, "--json", help="print what was (or would be) changed as JSON instead of tables")


def _report_json(report: Report, dry_run: bool, warnings: list[str]) -> dict:
    return {
        "dry_run": dry_run,
        "rows": [dict(r.__dict__) for r in report.rows],
        "written": report.written,
        "backups": report.backups,
        "merged": report.merged,
        "diffs": report.diffs if dry_run else [],
        "policy": report.policy,
        "policy_created": report.policy_created,
        "warnings": warnings,
    }


def _print_changes(report: Report, verb: str, dry_run: bool, out: Output) -> None:
    if dry_run:
        for diff in report.diffs:
            sys.stdout.write(diff if diff.endswith("\n") else diff + "\n")
            sys.stdout.flush()
        if not report.diffs:
            out.line(f"dry run: nothing to {verb}")
    _summary(report.rows, f"{'would ' + verb if dry_run else verb}", out)
    for path in report.written:
        out.line(f"updated {path}")
    for path in report.merged:
        out.line(f"  {path} was changed by another program meanwhile: its change is kept")
    for path in report.backups:
        out.line(f"  backup of the previous version: {path}")
    if not dry_run and not report.written and report.rows:
        out.line(f"nothing to {verb}: no file changed")


def enable(
    client: str = typer.Option("claude-code", "--client", metavar="CLIENT", help=_CLIENT_HELP),
    scope: list[str] | None = _SCOPE,
    server: list[str] | None = _SERVER,
    project: Path | None = _PROJECT,
    dry_run: bool = typer.Option(False, "--dry-run", help="print a unified diff per file and change nothing"),
    policy: Path | None = typer.Option(
        None, "--policy", metavar="FILE", help="policy for the wrapped servers [default: $MCPWRAP_HOME/policy.yaml, created if absent]"
    ),
    audit_log: Path | None = typer.Option(
        None, "--audit-log", metavar="FILE", help="audit log for the wrapped servers [default: the policy's audit.path, else $MCPWRAP_HOME/audit.jsonl]"
    ),
    as_json: bool = _JSON,
    claude_config: Path | None = _CLAUDE,
    desktop_config: Path | None = _DESKTOP,
    cursor_config: Path | None = _CURSOR,
    vscode_config: Path | None = _VSCODE,
    windsurf_config: Path | None = _WINDSURF,
) -> None:
    """Wrap every stdio MCP server of a client with `mcpwrap wrap` (reversible with `mcpwrap disable`).

    Servers wrapped by another mcpwrap installation, or by one that no longer exists, are pointed at this one."""
    from .._clients.install import launcher, launcher_warning
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
    changed = any(r.action in ("wrapped", "repointed") for r in report.rows)
    warning = launcher_warning(launcher()) if changed else None
    if as_json:
        sys.stdout.write(json.dumps(_report_json(report, dry_run, [warning] if warning else []), indent=2, ensure_ascii=False) + "\n")
    else:
        out = Output()
        _print_changes(report, "enable", dry_run, out)
        if report.policy_created:
            out.line(f"created the default policy {report.policy} (edit it; `mcpwrap status` shows what uses it)")
        elif report.policy and any(r.action == "wrapped" for r in report.rows):
            missing = dry_run and not Path(report.policy).exists()
            out.line(f"policy: {report.policy}" + (" (the default policy, created by enable)" if missing else ""))
    if warning:
        log.warning(warning)


def disable(
    client: str = typer.Option(
        "all", "--client", metavar="CLIENT", help=_CLIENT_HELP + "; every client that has wrapped servers unless given"
    ),
    scope: list[str] | None = _SCOPE,
    server: list[str] | None = _SERVER,
    project: Path | None = _PROJECT,
    dry_run: bool = typer.Option(False, "--dry-run", help="print a unified diff per file and change nothing"),
    claude_config: Path | None = _CLAUDE,
    desktop_config: Path | None = _DESKTOP,
    cursor_config: Path | None = _CURSOR,
    vscode_config: Path | None = _VSCODE,
    windsurf_config: Path | None = _WINDSURF,
    as_json: bool = _JSON,
) -> None:
    """Restore every server wrapped by `mcpwrap enable` to exactly its original form, in every client."""
    from .._clients.ops import disable as run_disable

    loc = _locations(project, claude_config, desktop_config, cursor_config, vscode_config, windsurf_config)
    try:
        report = run_disable(_client(client), loc, _selection(scope, server, loc), dry_run=dry_run)
    except McpwrapError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        sys.stdout.write(json.dumps(_report_json(report, dry_run, []), indent=2, ensure_ascii=False) + "\n")
        return
    out = Output()
    _print_changes(report, "disable", dry_run, out)
    restored: dict[str, int] = {}
    for row in report.rows:
        if row.action == "restored":
            restored[row.client] = restored.get(row.client, 0) + 1
    if restored:
        done = ", ".join(f"{c} ({n} server{'s' if n != 1 else ''})" for c, n in restored.items())
        out.line(f"{'would restore' if dry_run else 'restored'}: {done}")
    elif report.rows:
        out.line("no server is wrapped by mcpwrap in " + ("any client" if client == "all" else client))


def status(
    client: str = typer.Option("all", "--client", metavar="CLIENT", help=_CLIENT_HELP),
    scope: list[str] | None = _SCOPE,
    server: list[str] | None = _SERVER,
    project: Path | None = _PROJECT,
    as_json: bool = typer.Option(False, "--json", help="print a JSON array (one object per server) instead of a table"),
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
    if as_json:
        sys.stdout.write(json.dumps([r.to_json() for r in rows], indent=2, ensure_ascii=False) + "\n")
        return
    out = Output()
    if not rows:
        out.line("no MCP servers configured in the selected clients and scopes")
        return
    pairs = {(r.policy, r.audit_log) for r in rows if r.policy}
    shared = len(pairs) == 1  # the usual case: one policy and one log for every wrapped server, said once below
    names = ["client", "scope", "project", "server", "state"] + ([] if shared else ["policy", "audit log"]) + ["last activity"]
    # short cells never wrap; the paths fold only when the terminal is too narrow for them
    grid = Grid([Column(n, no_wrap=n in ("client", "scope", "last activity")) for n in names], title="MCP servers")
    styles = {"wrapped": "green", "stale": "bold red", "look-alike": "bold red"}
    for r in rows:
        # on a terminal the note is cut to its first clause (the JSON and the plain output have it whole)
        note = (_brief(r.note) if out.terminal else r.note) if r.note else ""
        state = Cell(f"{r.state}\n{note}" if note else r.state, styles.get(r.state, ""))
        paths = [] if shared else [_short(r.policy), _short(r.audit_log)]
        when = _when(r.last_activity) or ("never" if r.audit_log else "")
        grid.add_row(r.client, r.scope, _short(r.project), r.server, state, *paths, when)
    out.table(grid)
    if shared:
        policy, audit_log = next(iter(pairs))
        out.line(f"policy of the wrapped servers: {_short(policy)}; audit log: {_short(audit_log)}")


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
