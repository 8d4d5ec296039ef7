"""``mcpwrap audit verify|tail|stats|export|init-key`` and ``mcpwrap dashboard``: reading the audit log.

Every command takes log files as arguments; without them it reads the log ``wrap`` writes (the policy's
``audit.path``, else ``$MCPWRAP_HOME/audit.jsonl``) together with its rotated predecessors.
Exit status of ``verify``: 0 intact, 1 damaged, 2 unusable input (missing file, not a log, key needed).
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import typer

from .._errors import McpwrapError
from .common import console as _console
from .common import fail

__all__ = ["register", "audit_app"]

audit_app = typer.Typer(
    name="audit",
    help="Verify, read and export the audit log.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

ACTION_STYLES = {"pass": "green", "modify": "yellow", "block": "bold red", "audit-gap": "bold red reverse"}
EXPORT_COLUMNS = (
    "ts", "session", "server", "subject", "event", "direction", "kind", "id", "method", "tool",
    "action", "rule", "interceptor", "reason", "latency_ms", "size",
)  # fmt: skip
DEFAULT_TAIL_LINES = 20

USAGE_ERROR = 2  # a bad option or unusable input, as `verify` reports unusable logs


def _fail(text: str, code: int = USAGE_ERROR) -> NoReturn:
    fail(text, code)


FilesArg = typer.Argument(None, help="log files (default: the configured log and its rotated files)", show_default=False)
PolicyOpt = typer.Option(None, "--policy", help="policy file whose audit.path is the log (default: $MCPWRAP_HOME/policy.yaml)")
ServerOpt = typer.Option(None, "--server", help="only records of this server")
ToolOpt = typer.Option(None, "--tool", help="only records of this tool")
ActionOpt = typer.Option(None, "--action", help="only this action: pass, modify, block (or an event name)")
SinceOpt = typer.Option(None, "--since", help="only records since a duration ago (30s, 10m, 2h, 1d) or a time")
SubjectOpt = typer.Option(None, "--subject", help="only records of this subject")


def _files(files: list[Path] | None, policy: Path | None) -> list[Path]:
    from .._audit.files import expand
    from .._audit.read import default_log_path

    try:
        named = list(files) if files else [default_log_path(str(policy) if policy else None)]
    except McpwrapError as exc:
        _fail(str(exc))
    return expand(named)


def _filter(server: Any, tool: Any, action: Any, since: Any, subject: Any) -> Any:
    from .._audit.read import RecordFilter, parse_since

    try:
        since_ts = parse_since(since) if since else None
    except ValueError as exc:
        _fail(str(exc))
    return RecordFilter(server=server, tool=tool, action=action, since=since_ts, subject=subject)


# --- verify ------------------------------------------------------------------------------------------------------


@audit_app.command("verify", help="Check the hash chain, MACs and sessions; report the first bad line and the kind of damage.")
def verify_cmd(
    files: list[Path] | None = FilesArg,
    key_file: Path | None = typer.Option(
        None, "--key-file", help="the audit key (default: $MCPWRAP_AUDIT_KEY, the policy's audit.key_file, $MCPWRAP_HOME/audit.key)"
    ),
    no_key: bool = typer.Option(False, "--no-key", help="verify plain-hash logs only; a keyed log then cannot be verified (exit 2)"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
    policy: Path | None = PolicyOpt,
) -> None:
    from .._audit.keys import load_key
    from .._audit.verify import verify

    paths = _files(files, policy)
    key = None
    if not no_key:
        try:
            key_setting = str(key_file) if key_file else _policy_key_file(policy)
            key = load_key(key_setting)
        except McpwrapError as exc:
            _emit_unusable(as_json, [str(p) for p in paths], str(exc))
    report = verify(paths, key)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        raise typer.Exit(report.exit_code)
    for problem in report.problems:
        typer.echo(f"{problem.file}:{problem.line}: {problem.kind}: {problem.message}")
    for note in report.notes:
        typer.echo(f"note: {note}")
    names = ", ".join(report.files)
    if report.unusable:
        typer.echo(f"UNUSABLE: {report.unusable}", err=True)
        raise typer.Exit(2)
    auth = (
        f"authenticated with key {next(iter(report.key_ids))}" if report.authenticated
        else "plain SHA-256 chain (no key: detects accidental damage and naive edits, not a determined forger)"
        if not report.key_ids else "not authenticated with the given key"
    )  # fmt: skip
    summary = (
        f"{report.records} records, {report.sessions} sessions ({report.ended} ended, {len(report.running)} running"
        + (f", {len(report.unknown)} on other hosts" if report.unknown else "")
        + f"), {auth}"
    )
    if report.problems:
        first = report.first
        assert first is not None
        typer.echo(f"DAMAGED: {names}: {len(report.problems)} problem(s); first bad line {first.file}:{first.line} ({first.kind}); {summary}")
    else:
        typer.echo(f"OK: {names}: chain intact; {summary}")
    raise typer.Exit(report.exit_code)


def _policy_key_file(policy: Path | None) -> str | None:
    from .._audit.writer import AUDIT_SECTION
    from .._config import load_section
    from .._paths import resolve_policy_path

    return load_section(resolve_policy_path(str(policy) if policy else None), AUDIT_SECTION).key_file


def _emit_unusable(as_json: bool, files: list[str], why: str) -> None:
    if as_json:
        typer.echo(json.dumps({"ok": False, "status": "unusable", "files": files, "error": why}, indent=2))
    else:
        typer.echo(f"UNUSABLE: {why}", err=True)
    raise typer.Exit(2)


# --- init-key ----------------------------------------------------------------------------------------------------


@audit_app.command("init-key", help="Create a random audit key (mode 0600) that authenticates every record with HMAC-SHA256.")
def init_key_cmd(
    key_file: Path | None = typer.Option(None, "--key-file", help="where to write it (default: $MCPWRAP_HOME/audit.key)"),
    force: bool = typer.Option(False, "--force", help="replace an existing key (logs sealed with it can then no longer be verified)"),
) -> None:
    from .._audit.keys import init_key

    try:
        path, kid = init_key(key_file, force=force)
    except (McpwrapError, OSError) as exc:
        _fail(str(exc), 1)
    typer.echo(f"wrote {path} (mode 0600), key id {kid}")
    typer.echo("mcpwrap wrap seals new audit records with it; keep a copy somewhere safe: verifying needs it")


# --- tail --------------------------------------------------------------------------------------------------------


def _short_time(ts: Any) -> str:
    """HH:MM:SS for today's records, MM-DD HH:MM:SS for older ones (UTC, as recorded)."""
    if not isinstance(ts, str) or len(ts) < 19:
        return str(ts or "")
    if ts[:10] == time.strftime("%Y-%m-%d", time.gmtime()):
        return ts[11:19]
    return f"{ts[5:10]} {ts[11:19]}"


def _what(rec: dict) -> str:
    method = rec.get("method")
    tool = rec.get("tool")
    if method and tool:
        return f"{method} {tool}"
    if method:
        return str(method)
    if rec.get("event") not in (None, "message"):
        return f"({rec['event']})"
    return str(rec.get("kind") or "")


def record_row(rec: dict) -> list[Any]:
    from rich.text import Text

    from .._audit.read import action_label, action_of, direction_arrow

    action = action_of(rec)
    label = action_label(rec)
    latency = rec.get("latency_ms")
    reason = rec.get("reason") or ""
    if rec.get("event") == "session-start":
        reason = " ".join(map(str, rec.get("command") or [])) or reason
    elif rec.get("event") == "session-end":
        reason = f"exit {rec.get('exit_code')}"
    return [
        _short_time(rec.get("ts")),
        direction_arrow(rec),
        str(rec.get("server") or ""),
        _what(rec),
        Text(label, style=ACTION_STYLES.get(action, "cyan")),
        str(rec.get("rule") or ""),
        str(reason),
        f"{latency:.1f} ms" if isinstance(latency, (int, float)) else "",
    ]


def records_table(rows: list[dict], *, header: bool = True, width: int = 100) -> Any:
    """Records as rows of one table. Column widths depend only on ``width``, so tables printed one after
    another (``tail -f``) line up."""
    from rich.table import Table

    time_width = max((len(_short_time(r.get("ts"))) for r in rows), default=8) if rows else 14
    rest = max(40, width - time_width - 1 - 6 - 9 - 7)  # time, dir, action, latency, one space between columns
    server = min(16, max(6, rest * 15 // 100))
    what = min(34, max(12, rest * 35 // 100))
    rule = min(22, max(6, rest * 18 // 100))
    reason = max(8, rest - server - what - rule)
    table = Table(box=None, show_header=header, header_style="bold", padding=(0, 1, 0, 0), pad_edge=False)
    for name, w, justify in (
        ("time", time_width, "left"),
        ("", 1, "left"),
        ("server", server, "left"),
        ("method / tool", what, "left"),
        ("action", 6, "left"),
        ("rule", rule, "left"),
        ("reason", reason, "left"),
        ("latency", 9, "right"),
    ):
        table.add_column(name, width=w, no_wrap=True, overflow="ellipsis", justify=justify)  # type: ignore[arg-type]
    for rec in rows:
        table.add_row(*record_row(rec))
    return table


@audit_app.command("tail", help="Show the newest records, one per line; -f keeps following the log (also across rotation).")
def tail_cmd(
    file: Path | None = typer.Argument(None, help="log file (default: the configured log)", show_default=False),
    follow_: bool = typer.Option(False, "-f", "--follow", help="keep printing records as they are appended"),
    lines: int = typer.Option(DEFAULT_TAIL_LINES, "-n", "--lines", help="how many of the newest records to show first"),
    server: str | None = ServerOpt,
    tool: str | None = ToolOpt,
    action: str | None = ActionOpt,
    since: str | None = SinceOpt,
    subject: str | None = SubjectOpt,
    as_json: bool = typer.Option(False, "--json", help="print the matching records as they are stored (JSONL)"),
    policy: Path | None = PolicyOpt,
) -> None:
    from collections import deque

    from .._audit.read import follow, read_records

    keep = _filter(server, tool, action, since, subject)
    paths = _files([file] if file else None, policy)
    live = paths[-1]
    if not follow_ and not any(p.exists() for p in paths):
        _fail(f"{live}: no such file")
    newest = deque(read_records(paths, keep, raw=True), maxlen=max(lines, 0))
    console = _console()
    out = sys.stdout.buffer if as_json else None

    def emit(batch: list[tuple[bytes, dict]], header: bool) -> None:
        if out is not None:
            for line, _rec in batch:
                out.write(line)
            out.flush()
        elif batch or header:
            console.print(records_table([rec for _line, rec in batch], header=header, width=console.width))

    emit(list(newest), header=True)
    if not follow_:
        return
    try:
        pending: list[tuple[bytes, dict]] = []
        for item in follow([live], idle_ticks=True):
            if item is not None:
                if keep(item[1]):
                    pending.append(item)
                if len(pending) < 50:
                    continue
            emit(pending, header=False)
            pending = []
    except KeyboardInterrupt:
        pass


# --- stats -------------------------------------------------------------------------------------------------------


def _ms(value: Any) -> str:
    return "" if value is None else f"{value:.1f}"


def stats_renderable(stats: dict) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    head = Text.assemble(
        ("audit stats: ", "bold"),
        f"{stats['records']} records, {stats['sessions']} sessions\n",
        ("from ", "dim"),
        str(stats["first"] or "-"),
        (" to ", "dim"),
        str(stats["last"] or "-"),
    )
    actions = Table.grid(padding=(0, 3))
    counts: list[Any] = [Text.assemble((name, ACTION_STYLES.get(name, "cyan")), f" {count}") for name, count in stats["actions"].items()]
    actions.add_row(*counts or ["no messages"])
    servers = Table(title="per server", title_style="bold", title_justify="left", box=None, header_style="dim")
    for col in ("server", "messages", "pass", "modify", "block", "errors"):
        servers.add_column(col, justify="left" if col == "server" else "right")
    for name, c in stats["servers"].items():
        servers.add_row(name, str(c["messages"]), str(c["pass"]), str(c["modify"]), str(c["block"]), str(c["errors"]))
    tools = Table(title="per tool (tools/call; latency of responses)", title_style="bold", title_justify="left", box=None, header_style="dim")
    for col in ("tool", "calls", "pass", "modify", "block", "p50 ms", "p95 ms", "p99 ms"):
        tools.add_column(col, justify="left" if col == "tool" else "right")
    for name, t in stats["tools"].items():
        lat = t["latency_ms"]
        tools.add_row(name, str(t["calls"]), str(t["pass"]), str(t["modify"]), str(t["block"]), _ms(lat["p50"]), _ms(lat["p95"]), _ms(lat["p99"]))

    rankings = Table(box=None, header_style="dim", title="top", title_style="bold", title_justify="left")
    for col in ("blocking rule", "n", "detector", "n", "subject", "n"):
        rankings.add_column(col, justify="right" if col == "n" else "left", overflow="ellipsis")
    columns = [stats["top_block_rules"], stats["top_detectors"], stats["subjects"]]
    for i in range(max(1, *(len(c) for c in columns))):
        row: list[str] = []
        for c in columns:
            row += [str(c[i][0]), str(c[i][1])] if i < len(c) else ["-" if i == 0 else "", ""]
        rankings.add_row(*row)
    return Group(head, Text(""), actions, Text(""), rankings, Text(""), servers, Text(""), tools)


@audit_app.command("stats", help="Counts per server, tool and action; top blocking rules and detectors; latency p50/p95/p99 per tool.")
def stats_cmd(
    files: list[Path] | None = FilesArg,
    server: str | None = ServerOpt,
    tool: str | None = ToolOpt,
    action: str | None = ActionOpt,
    since: str | None = SinceOpt,
    subject: str | None = SubjectOpt,
    as_json: bool = typer.Option(False, "--json", help="print the statistics as JSON"),
    policy: Path | None = PolicyOpt,
) -> None:
    from .._audit.read import read_records
    from .._audit.stats import compute_stats

    paths = _files(files, policy)
    if not any(p.exists() for p in paths):
        _fail(f"{paths[-1]}: no such file")
    stats = compute_stats(read_records(paths, _filter(server, tool, action, since, subject)))
    if as_json:
        typer.echo(json.dumps(stats, indent=2, ensure_ascii=False))
        return
    _console().print(stats_renderable(stats))


# --- export ------------------------------------------------------------------------------------------------------


@audit_app.command("export", help="Write the matching records as CSV (one column per field) or JSONL (as stored).")
def export_cmd(
    files: list[Path] | None = FilesArg,
    fmt: str = typer.Option("jsonl", "--format", help="csv or jsonl"),
    output: Path | None = typer.Option(None, "--output", "-o", help="write here instead of stdout"),
    server: str | None = ServerOpt,
    tool: str | None = ToolOpt,
    action: str | None = ActionOpt,
    since: str | None = SinceOpt,
    subject: str | None = SubjectOpt,
    policy: Path | None = PolicyOpt,
) -> None:
    from .._audit.read import read_records

    if fmt not in ("csv", "jsonl"):
        _fail(f"--format must be csv or jsonl, not {fmt!r}")
    paths = _files(files, policy)
    if not any(p.exists() for p in paths):
        _fail(f"{paths[-1]}: no such file")
    keep = _filter(server, tool, action, since, subject)
    count = 0
    stream = open(output, "wb") if output else sys.stdout.buffer
    try:
        if fmt == "jsonl":
            for line, _rec in read_records(paths, keep, raw=True):
                stream.write(line)
                count += 1
        else:
            import io

            text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)
            writer = csv.writer(text)
            writer.writerow(EXPORT_COLUMNS)
            for rec in read_records(paths, keep):
                writer.writerow([_csv_cell(rec.get(col)) for col in EXPORT_COLUMNS])
                count += 1
            text.detach()
        stream.flush()
    finally:
        if output:
            stream.close()
    if output:
        typer.echo(f"wrote {count} records to {output}", err=True)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


# --- dashboard ---------------------------------------------------------------------------------------------------


def dashboard_cmd(
    files: list[Path] | None = FilesArg,
    refresh: float = typer.Option(1.0, "--refresh", help="seconds between screen updates"),
    once: bool = typer.Option(False, "--once", help="print one frame for the whole log and exit (no live view)"),
    policy: Path | None = PolicyOpt,
) -> None:
    """A live view of the audit log(s): calls per second, blocks and redactions, recent decisions, per-server
    health and a latency sparkline. Reads only the log, so it shows every wrapped server; works over SSH."""
    from .._audit.read import default_log_path
    from .dashboard import run_dashboard

    try:
        logs = list(files) if files else [default_log_path(str(policy) if policy else None)]
    except McpwrapError as exc:
        _fail(str(exc))
    if refresh <= 0:
        _fail("--refresh must be positive")
    if once and not any(f.exists() for f in _files([Path(p) for p in logs], None)):
        _fail(f"{', '.join(map(str, logs))}: no such file")  # live mode waits for the log to appear instead
    run_dashboard([Path(p) for p in logs], refresh=refresh, once=once, console=_console())


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    app.command("dashboard")(dashboard_cmd)
