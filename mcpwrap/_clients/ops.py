"""enable / disable / status over every configuration file of the chosen clients.

All files are planned first (parsed, validated, the new text computed); only when every file is valid does
anything get written, so a broken file anywhere means nothing is modified. Each write then goes through
:func:`mcpwrap._clients.safewrite.update_file`, which recomputes the plan on the file's latest text if a client changed
it meanwhile.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .._audit.read import last_activity
from .._errors import ClientConfigError, McpwrapError
from .._fs import create_new, ensure_dir
from .._paths import default_audit_path, default_policy_path
from .entries import Entry, WrapSpec, scan
from .install import fragile_location, inside, launcher
from .locations import ConfigFile, Locations, config_files
from .plan import FileResult, Row, Selection, plan_disable, plan_enable
from .safewrite import read_text, update_file

__all__ = ["Report", "enable", "disable", "status", "ensure_default_policy", "StatusRow"]

# Written when the packaged default policy is not available: an empty policy means the built-in defaults.
FALLBACK_POLICY = """\
# mcpwrap policy. Every section is optional; an absent section means its built-in default
# (ordinary traffic allowed, detectors on, audit to $MCPWRAP_HOME/audit.jsonl).
# See policy.example.yaml in the mcpwrap sources for every key.
"""


def default_policy_text() -> str:
    """The packaged default policy (``mcpwrap/default_policy.yaml``), else a minimal commented one."""
    from importlib import resources

    try:
        packaged = resources.files("mcpwrap").joinpath("default_policy.yaml")
        if packaged.is_file():
            return packaged.read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError):
        pass
    return FALLBACK_POLICY


def ensure_default_policy(path: Path) -> bool:
    """Create the default policy at ``path`` unless a file is there (whole, even if two enables race); True
    if it was created."""
    try:
        ensure_dir(path.parent, what="policy file")  # MCPWRAP_HOME: created 0700, refused if others can write it
        return create_new(path, default_policy_text())
    except OSError as exc:
        raise ClientConfigError(f"cannot create the default policy {path}: {exc.strerror or exc}") from None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    diffs: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    backups: list[str] = field(default_factory=list)
    files_seen: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)  # files changed by another program while we wrote them
    policy: str | None = None
    policy_created: bool = False


def _existing(client: str, loc: Locations) -> list[ConfigFile]:
    return [cf for cf in config_files(client, loc) if cf.path.exists()]


def _read(cf: ConfigFile) -> str:
    try:
        return read_text(cf.path)
    except FileNotFoundError:
        raise ClientConfigError(f"{cf.path}: disappeared while being read") from None


def _diff(result: FileResult) -> str:
    name = str(result.file.path)
    return "".join(
        difflib.unified_diff(
            result.text.splitlines(keepends=True), result.new_text.splitlines(keepends=True), name, name
        )
    )


def _run(
    client: str,
    loc: Locations,
    plan: Callable[[ConfigFile, str], FileResult],
    dry_run: bool,
    report: Report,
    before_commit: Callable[[int], None] | None,
) -> Report:
    files = _existing(client, loc)
    results = []
    for cf in files:  # plan (and so validate) everything before writing anything
        results.append(plan(cf, _read(cf)))
        report.files_seen.append(str(cf.path))
    for result in results:
        if result.new_text == result.text:
            report.rows += result.rows
            continue
        if dry_run:
            report.diffs.append(_diff(result))
            report.rows += result.rows
            continue
        final: list[FileResult] = []

        def transform(text: str, cf: ConfigFile = result.file) -> str:
            latest = plan(cf, text)
            final[:] = [latest]  # noqa: B023 - update_file calls this before the loop moves on
            return latest.new_text

        # Claude Code takes `<file>.lock` (proper-lockfile) around its own writes of ~/.claude.json
        client_lock = f"{result.file.path}.lock" if result.file.claude_state else None
        written = update_file(result.file.path, transform, client_lock=client_lock, _before_commit=before_commit)
        report.rows += final[-1].rows if final else result.rows
        if written.merges:
            report.merged.append(str(result.file.path))
        if written.changed:
            report.written.append(str(result.file.path))
            if written.backup:
                report.backups.append(str(written.backup))
    return report


def enable(
    client: str,
    loc: Locations,
    selection: Selection,
    *,
    policy: str | None = None,
    audit_log: str | None = None,
    dry_run: bool = False,
    _before_commit: Callable[[int], None] | None = None,
) -> Report:
    report = Report()
    if policy:
        policy_path = Path(policy).expanduser().absolute()
        if not policy_path.is_file():
            raise ClientConfigError(f"policy file {policy_path} not found")
    else:
        policy_path = default_policy_path().expanduser().absolute()
    spec = WrapSpec(launcher(), str(policy_path), str(Path(audit_log).expanduser().absolute()) if audit_log else None)
    report.policy = str(policy_path)
    _run(client, loc, lambda cf, text: plan_enable(cf, text, spec, selection), dry_run, report, _before_commit)
    if not dry_run and not policy and any(r.action in ("wrapped", "unchanged") for r in report.rows):
        report.policy_created = ensure_default_policy(policy_path)
    return report


def disable(
    client: str,
    loc: Locations,
    selection: Selection,
    *,
    dry_run: bool = False,
    _before_commit: Callable[[int], None] | None = None,
) -> Report:
    return _run(client, loc, lambda cf, text: plan_disable(cf, text, selection), dry_run, Report(), _before_commit)


# --- status ----------------------------------------------------------------------------------------------------


@dataclass
class StatusRow:
    client: str
    scope: str
    project: str | None
    server: str
    file: str
    state: str  # "wrapped", "broken" (its mcpwrap is gone), "look-alike", "not wrapped", "remote", "other wrapper"
    command: str
    policy: str | None = None
    audit_log: str | None = None
    last_activity: str | None = None
    note: str = ""

    def to_json(self) -> dict:
        return dict(self.__dict__)


_STATE_NAMES = {
    "stdio": "not wrapped",
    "wrapped": "wrapped",
    "stale": "broken",
    "lookalike": "look-alike",
    "remote": "remote",
    "other": "other wrapper",
}


def _wrapped_notes(entry: Entry, current: tuple[str, ...]) -> list[str]:
    """What a person should know about a genuinely wrapped entry (the JSON output has it too)."""
    notes = [entry.note] if entry.note else []
    w = entry.wrapped
    assert w is not None
    if w.policy and entry.project and inside(os.path.join(entry.project, os.path.expanduser(w.policy)), entry.project):
        notes.append(f"its policy {w.policy} lies inside the project: the project chooses its own rules")
    if entry.launcher_command != current:
        where = fragile_location(entry.launcher_command[0])
        notes.append(
            f"started by the mcpwrap at {entry.launcher_command[0]}"
            + (f" ({where}: it breaks when that goes)" if where else "")
            + "; `mcpwrap enable` points it at this one"
        )
    return notes
def _policy_and_audit(entry: Entry) -> tuple[str, str]:
    from .._audit.writer import AUDIT_SECTION
    from .._config import load_section

    w = entry.wrapped
    assert w is not None
    policy_file = w.policy or (str(default_policy_path()) if default_policy_path().is_file() else None)
    audit = w.audit_log
    if audit is None:
        try:
            audit = load_section(policy_file, AUDIT_SECTION).path
        except McpwrapError:
            audit = None
        audit = audit or str(default_audit_path())
    return policy_file or "built-in default", os.path.expanduser(audit)


def status(client: str, loc: Locations, selection: Selection, errors: list[str] | None = None) -> list[StatusRow]:
    """One row per configured server. A file that cannot be read is reported in ``errors`` (if given; else
    raised) and the other files are still listed."""
    rows: list[StatusRow] = []
    current = launcher()
    audit_names: dict[int, str] = {}  # the name audit records carry: the entry's --name (wrap's default otherwise)
    for cf in _existing(client, loc):
        try:
            _, entries = scan(cf, _read(cf))
        except ClientConfigError as exc:
            if errors is None:
                raise
            errors.append(str(exc).removesuffix("; not modified"))
            continue
        for entry in entries:
            if not selection.wants(entry):
                continue
            row = StatusRow(
                cf.client, entry.scope, entry.project, entry.name, str(cf.path), _STATE_NAMES[entry.state],
                entry.command_line(), note=entry.note,
            )
            if entry.state == "wrapped":
                row.policy, row.audit_log = _policy_and_audit(entry)
                w = entry.wrapped
                audit_names[id(row)] = (w.name if w and w.name else os.path.basename(w.command if w else entry.name))
                if entry.wrapped and entry.wrapped.policy and not Path(entry.wrapped.policy).expanduser().is_file():
                    row.note = "policy file missing: the wrapped server will not start"
                else:
                    row.note = "; ".join(_wrapped_notes(entry, current))
            rows.append(row)
    wanted: dict[str, set[str]] = {}
    for row in rows:
        if row.audit_log:
            wanted.setdefault(row.audit_log, set()).add(audit_names[id(row)])
    seen = {log: last_activity(log, names) for log, names in wanted.items()}
    for row in rows:
        if row.audit_log:
            row.last_activity = seen[row.audit_log].get(audit_names[id(row)])
    return rows
