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
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import typer

from .._audit.stats import INFORMATIONAL_EVENTS
from .._errors import McpwrapError
from .._log import warning
from .common import fail
from .output import Cell, Column, Grid, Output

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


FilesArg = typer.Argument(None, metavar="FILE...", help="log files [default: the configured log and its rotated files]", show_default=False)
PolicyOpt = typer.Option(None, "--policy", metavar="FILE", help="policy file whose audit.path is the log [default: $MCPWRAP_HOME/policy.yaml]")
ServerOpt = typer.Option(None, "--server", metavar="NAME", help="only records of this server")
ToolOpt = typer.Option(None, "--tool", metavar="NAME", help="only records of this tool")
ActionOpt = typer.Option(None, "--action", metavar="ACTION", help="only this action: pass, modify, block (or an event name)")
SinceOpt = typer.Option(None, "--since", metavar="WHEN", help="only records since a duration ago (30s, 10m, 2h, 1d) or a time")
SubjectOpt = typer.Option(None, "--subject", metavar="NAME", help="only records of this subject")


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
        None, "--key-file", metavar="FILE", help="the audit key [default: $MCPWRAP_AUDIT_KEY, the policy's audit.key_file, $MCPWRAP_HOME/audit.key]"
    ),
    no_key: bool = typer.Option(False, "--no-key", help="verify plain-hash logs only; a keyed log then cannot be verified (exit 2)"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
    policy: Path | None = PolicyOpt,
) -> None:
    from .._audit.keys import key_id, load_key
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
    before = f"; {report.before_key} earlier record(s) before the key, chained into it" if report.before_key else ""
    auth = (
        f"authenticated with key {key_id(key) if key else next(iter(report.key_ids))}{before}" if report.authenticated
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


@audit_app.command(
    "init-key",
    help="Create a random audit key (mode 0600) that authenticates every record with HMAC-SHA256. On a log that "
    "already has records, seal a first record with the key at once: verify then reports the earlier records as "
    "before the key (still chained into it), not as damage.",
)
def init_key_cmd(
    key_file: Path | None = typer.Option(None, "--key-file", metavar="FILE", help="where to write it [default: $MCPWRAP_HOME/audit.key]"),
    force: bool = typer.Option(False, "--force", help="replace an existing key (logs sealed with it can then no longer be verified)"),
    audit_log: Path | None = typer.Option(
        None, "--audit-log", metavar="FILE", help="the log to start the keyed segment in [default: the policy's audit.path, else $MCPWRAP_HOME/audit.jsonl]"
    ),
    policy: Path | None = PolicyOpt,
    as_json: bool = typer.Option(False, "--json", help="print what was done as JSON"),
) -> None:
    from .._audit.keys import init_key, load_key
    from .._audit.read import default_log_path
    from .._audit.segment import records_in, running_writers, start_key_segment
    from .._audit.writer import AUDIT_SECTION
    from .._config import load_section
    from .._paths import resolve_policy_path

    try:
        log = audit_log or default_log_path(str(policy) if policy else None)
        settings = load_section(resolve_policy_path(str(policy) if policy else None), AUDIT_SECTION)
    except McpwrapError as exc:
        _fail(str(exc))
    try:
        path, kid = init_key(key_file, force=force)
    except (McpwrapError, OSError) as exc:
        _fail(str(exc), 1)
    report: dict[str, Any] = {"key_file": str(path), "key_id": kid, "log": str(log), "before_key": 0, "sealed": False, "running": []}
    problem = None
    if records_in(log):
        try:
            key = load_key(path)
            assert key is not None
            report["before_key"] = start_key_segment(log, key, settings)
            report["sealed"] = True
        except (McpwrapError, OSError) as exc:
            problem = f"the key was written, but {log} could not be sealed with it ({exc}): its segment starts with the next record a wrapper writes"
        report["running"] = running_writers(_files([log], None))
    if as_json:
        typer.echo(json.dumps(report | ({"error": problem} if problem else {}), indent=2, ensure_ascii=False))
    else:
        typer.echo(f"wrote {path} (mode 0600), key id {kid}")
        if report["sealed"]:
            typer.echo(
                f"sealed a first record with it in {log}: `mcpwrap audit verify` authenticates everything from there on and reports "
                f"the {report['before_key']} earlier record(s) as before the key (chained into it: an edit to them still shows)"
            )
        typer.echo("mcpwrap wrap seals new audit records with it; keep a copy somewhere safe: verifying needs it")
    if problem:
        warning(problem)
    if report["running"]:
        warning(
            "these wrapped servers started before the key and write without it until they restart (restart the client that runs them): "
            + ", ".join(report["running"])
            + "; until then verify reports their new records as unauthenticated"
        )


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


def _cells(rec: dict) -> list[str]:
    """A record (or a summary of informational records) as the tail's cells, in plain text."""
    from .._audit.read import action_label, direction_arrow

    latency = rec.get("latency_ms")
    reason = rec.get("reason") or ""
    label = action_label(rec)
    if rec.get("event") == "session-start":
        reason = " ".join(map(str, rec.get("command") or [])) or reason
    elif rec.get("event") == "session-end":
        reason = f"exit {rec.get('exit_code')}"
    elif rec.get("event") == "sandbox":
        label = "info"
        reason = _sandbox_summary(rec)
    elif rec.get("event") == "key-added":
        reason = f"records from here on are authenticated with key {rec.get('key')}; {rec.get('before')} earlier record(s) before it"
    elif rec.get("event") in INFORMATIONAL_EVENTS:
        label = "info"
        reason = rec.get("summary") or reason
    return [
        _short_time(rec.get("ts")),
        direction_arrow(rec),
        str(rec.get("server") or ""),
        _what(rec),
        label,
        str(rec.get("rule") or ""),
        f"{latency:.1f} ms" if isinstance(latency, (int, float)) else "",
        str(reason),
    ]


def _sandbox_summary(rec: dict) -> str:
    """A session's sandbox record in one clause: complete or partial, what applied, the network mode."""
    if not rec.get("enabled", True):
        return "sandbox off (the policy disables it)"
    applied = ", ".join(str(k) for k in (rec.get("applied") or {}))
    network = (rec.get("network") or {}).get("mode")
    missing = ", ".join(str(m.get("feature")) for m in rec.get("missing") or () if isinstance(m, dict))
    text = f"sandbox {'complete' if rec.get('complete') else 'partial'}: {applied or 'nothing applied'}"
    return text + (f"; network {network}" if network else "") + (f"; missing {missing}" if missing else "")


def record_row(rec: dict) -> list[Any]:
    from rich.text import Text

    from .._audit.read import action_of

    cells: list[Any] = _cells(rec)
    cells[4] = Text(cells[4], style=ACTION_STYLES.get(action_of(rec), "cyan"))
    return cells


def fold_informational(records: Iterable[dict]) -> Iterator[dict]:
    """Records for people: each run of informational records (``tool-risk``, one per listed tool) of one
    session becomes one summary row; every other record is a row of its own."""
    run: list[dict] = []

    def summary() -> dict:
        first = run[0]
        classes = Counter(str(r.get("risk") or "?") for r in run)
        what = ", ".join(f"{n} {c}" for c, n in classes.most_common())
        text = f"{len(run)} tool{'s' if len(run) != 1 else ''} classified: {what}"
        return {**{k: first.get(k) for k in ("ts", "session", "server", "subject")}, "event": first.get("event"), "summary": text, "records": len(run)}

    for rec in records:
        if rec.get("event") in INFORMATIONAL_EVENTS:
            if run and (run[0].get("event"), run[0].get("session")) != (rec.get("event"), rec.get("session")):
                yield summary()
                run = []
            run.append(rec)
            continue
        if run:
            yield summary()
            run = []
        yield rec
    if run:
        yield summary()


# the free text last, so that plain rows are as long as their own text, not padded to the longest reason
_TAIL_COLUMNS = ("time", "", "server", "method / tool", "action", "rule", "latency", "reason")


def records_grid(rows: list[dict], *, header: bool = True) -> Grid:
    """Records as plain rows, every cell whole (for output that is not a terminal)."""
    grid = Grid([Column(c if (c or not header) else "dir", justify="right" if c == "latency" else "left") for c in _TAIL_COLUMNS])
    if not header:
        grid.columns = [Column("", justify=c.justify) for c in grid.columns]  # type: ignore[union-attr]
    for rec in rows:
        grid.add_row(*_cells(rec))
    return grid


def records_table(rows: list[dict], *, header: bool = True, width: int = 100) -> Any:
    """Records as rows of one rich table, for a terminal. Column widths depend only on ``width``, so tables
    printed one after another (``tail -f``) line up."""
    from rich.table import Table

    time_width = max((len(_short_time(r.get("ts"))) for r in rows), default=8) if rows else 14
    rest = max(40, width - time_width - 1 - 6 - 9 - 7)  # time, dir, action, latency, one space between columns
    server = min(16, max(6, rest * 15 // 100))
    what = min(34, max(12, rest * 35 // 100))
    rule = min(22, max(6, rest * 18 // 100))
    reason = max(8, rest - server - what - rule)
    table = Table(box=None, show_header=header, header_style="bold", padding=(0, 1, 0, 0), pad_edge=False)
    sides = ("left",) * 6 + ("right", "left")
    for name, w, justify in zip(_TAIL_COLUMNS, (time_width, 1, server, what, 6, rule, 9, reason), sides, strict=True):
        table.add_column(name, width=w, no_wrap=True, overflow="ellipsis", justify=justify)  # type: ignore[arg-type]
    for rec in rows:
        table.add_row(*record_row(rec))
    return table


@audit_app.command("tail", help="Show the newest records, one per line (a listing's tool-risk records as one summary row); "
                   "-f keeps following the log (also across rotation).")
def tail_cmd(
    file: Path | None = typer.Argument(None, metavar="FILE", help="log file [default: the configured log]", show_default=False),
    follow_: bool = typer.Option(False, "-f", "--follow", help="keep printing records as they are appended"),
    lines: int = typer.Option(DEFAULT_TAIL_LINES, "-n", "--lines", metavar="N", help="how many of the newest rows to show first (records, with --json)"),
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
    limit = max(lines, 0)
    raw_out = sys.stdout.buffer if as_json else None
    out = Output()

    def emit(batch: list[tuple[bytes, dict]], header: bool, folded: bool = False) -> None:
        if raw_out is not None:
            for line, _rec in batch:
                raw_out.write(line)
            raw_out.flush()
            return
        rows = [rec for _line, rec in batch] if folded else list(fold_informational(rec for _line, rec in batch))
        if not rows and not header:
            return
        if out.terminal:
            out.console.print(records_table(rows, header=header, width=out.console.width))
        else:
            out.table(records_grid(rows, header=header))

    if raw_out is not None:
        emit(list(deque(read_records(paths, keep, raw=True), maxlen=limit)), header=True)
    else:
        newest = deque(fold_informational(read_records(paths, keep)), maxlen=limit)
        emit([(b"", rec) for rec in newest], header=True, folded=True)
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


def stats_blocks(stats: dict) -> list[str | Grid]:
    """The stats as lines and tables, printed rich on a terminal and plain elsewhere (the same content)."""
    actions = stats["actions"]
    redactions = stats["redactions"]
    types = ", ".join(f"{t} {n}" for t, n in redactions["types"].items())
    totals = (
        f"messages {stats['messages']}: "
        + ", ".join(f"{a} {n}" for a, n in actions.items())
        + f"; errors {stats['errors']}; tool calls {stats['tool_calls']}; redactions {redactions['messages']}"
        + (f" ({types})" if types else "")
    )
    info = stats.get("informational") or {}
    blocks: list[str | Grid] = [
        f"audit stats: {stats['records']} records, {stats['sessions']} sessions",
        f"from {stats['first'] or '-'} to {stats['last'] or '-'}",
        totals,
    ]
    if info:
        blocks.append("informational records: " + ", ".join(f"{e} {n}" for e, n in info.items()))
    rankings = Grid([Column(c, "right" if c == "n" else "left") for c in ("blocking rule", "n", "detector", "n", "subject", "n")], title="top")
    columns = [stats["top_block_rules"], stats["top_detectors"], stats["subjects"]]
    for i in range(max(1, *(len(c) for c in columns))):
        row: list[str] = []
        for c in columns:
            row += [str(c[i][0]), str(c[i][1])] if i < len(c) else ["-" if i == 0 else "", ""]
        rankings.add_row(*row)
    servers = Grid([Column("server"), *(Column(c, "right") for c in ("messages", "pass", "modify", "block", "errors"))], title="per server")
    for name, c in stats["servers"].items():
        servers.add_row(name, *(Cell(str(c[k]), ACTION_STYLES.get(k, "") if c[k] else "") for k in ("messages", "pass", "modify", "block", "errors")))
    tools = Grid(
        [Column("tool"), *(Column(c, "right") for c in ("calls", "pass", "modify", "block", "p50 ms", "p95 ms", "p99 ms"))],
        title="per tool (each tools/call once, by the strongest action on it or its result; latency of results)",
    )
    for name, t in stats["tools"].items():
        lat = t["latency_ms"]
        tools.add_row(name, str(t["calls"]), str(t["pass"]), str(t["modify"]), str(t["block"]), _ms(lat["p50"]), _ms(lat["p95"]), _ms(lat["p99"]))
    return [*blocks, "", rankings, "", servers, "", tools]


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
    out = Output()
    for block in stats_blocks(stats):
        if isinstance(block, Grid):
            out.table(block, box=None, header_style="dim", title_style="bold")
        else:
            out.line(block)


# --- export ------------------------------------------------------------------------------------------------------


@audit_app.command("export", help="Write the matching records as CSV (one column per field) or JSONL (as stored).")
def export_cmd(
    files: list[Path] | None = FilesArg,
    fmt: str = typer.Option("jsonl", "--format", metavar="FORMAT", help="csv or jsonl"),
    output: Path | None = typer.Option(None, "--output", "-o", metavar="FILE", help="write here instead of stdout"),
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
    refresh: float = typer.Option(1.0, "--refresh", metavar="SECONDS", help="seconds between screen updates"),
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
    run_dashboard([Path(p) for p in logs], refresh=refresh, once=once, out=Output())


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    app.command("dashboard")(dashboard_cmd)
