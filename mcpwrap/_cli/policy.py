"""``mcpwrap policy init | validate | test``: write, check and try a policy file.

Argument parsing and printing only: what the commands compute (validation, trial decisions, scenarios and
``--replay``) is :mod:`mcpwrap._policy.check`, which returns data. ``test`` and ``--replay`` use the very
evaluation function the running wrapper uses, on the policy file plus the overrides store.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from .._config import builtin_policy_text, read_policy_text
from .._errors import ConfigError
from .._fs import atomic_write, ensure_dir
from .._paths import default_policy_path
from .._policy.check import CallResult, describe_call, evaluate_call, label, replay, run_scenarios, validate_file
from .._policy.engine import Call
from .._policy.risk import RISK_CLASSES
from .._policy.terms import ACTIONS, DIRECTIONS
from ..interceptors import SECTIONS
from .common import fail

__all__ = ["register"]

DEFAULT_SHOWN_CHANGES = 20  # --replay lists this many changed decisions unless --show says otherwise


def default_subject() -> str:
    from .._runtime import default_subject as subject

    return subject()


def _label_call(entry: dict) -> str:
    return f"{entry['method']} {entry['tool']}" if entry.get("tool") else entry["method"]


def _error_json(e: ConfigError) -> dict:
    return {"file": e.file, "line": e.line, "column": e.column, "path": ".".join(str(p) for p in e.path) or None, "message": e.message}


def _print_result(r: CallResult) -> None:
    d = r.decision
    status = ""
    if r.expect is not None:
        status = "PASS " if r.passed else "FAIL "
    if d.decided:
        head = f"{status}{r.name}: {label(d.action, d.enforce)} by rule {d.rule_name!r}"
    else:
        head = f"{status}{r.name}: undecided — " + ", ".join(sorted({label(a, e) for a, e in d.outcomes()}))
    if r.expect is not None:
        head += f" (expected {r.expect})"
    print(head)
    print(f"  call: {describe_call(r.call)} [{r.call.direction}] subject={r.subject!r} roles={list(r.roles)} server={r.server!r} risk={r.call.risk}")
    for line in r.why:
        print(f"  why: {line}")


def register(app: Any) -> None:
    import typer

    policy_app = typer.Typer(help="Write, check and try policy files.", no_args_is_help=True, rich_markup_mode=None)
    app.add_typer(policy_app, name="policy")

    @policy_app.command("init", help="Write the built-in default policy to $MCPWRAP_HOME/policy.yaml (used by `mcpwrap wrap` without --policy).")
    def init(
        path: str = typer.Option(None, "--path", metavar="FILE", help="where to write [default: $MCPWRAP_HOME/policy.yaml]"),
        force: bool = typer.Option(False, "--force", help="replace an existing file (it is kept as FILE.bak)"),
    ) -> None:
        target = Path(path) if path else default_policy_path()
        if os.path.lexists(target) and not force:
            fail(f"{target} exists; use --force to replace it (a backup is kept)", 1)
        try:
            if path:
                target.parent.mkdir(parents=True, exist_ok=True)
            else:
                ensure_dir(target.parent, what="policy file")
            if os.path.lexists(target):
                # Read as wrap would (no link under MCPWRAP_HOME); the backup replaces whatever is at its name
                # (atomic_write renames over a link instead of writing through it).
                atomic_write(str(target) + ".bak", read_policy_text(target))
            atomic_write(target, builtin_policy_text())
        except (OSError, ConfigError) as exc:
            fail(f"cannot write {target}: {exc}", 1)
        print(f"wrote {target}")

    @policy_app.command("validate", help="Check a policy file: an OK summary, or every error with line and column (exit 1).")
    def validate(
        file: str = typer.Argument(..., metavar="FILE", help="policy file"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        v = validate_file(file, SECTIONS)
        if as_json:
            print(
                json.dumps(
                    {"ok": v.ok, "file": file, "errors": [_error_json(e) for e in v.errors], "summary": v.summary, "warnings": v.warnings},
                    indent=2,
                    ensure_ascii=False,
                )
            )
            raise typer.Exit(0 if v.ok else 1)
        if not v.ok:
            for e in v.errors:
                print(str(e))
            print(f"{len(v.errors)} error{'s' if len(v.errors) != 1 else ''} in {file}")
            raise typer.Exit(1)
        s = v.summary
        acts = ", ".join(f"{n} {a}" for a, n in s["actions"].items() if n)
        print(
            f"OK {file}: {s['rules']} rule{'s' if s['rules'] != 1 else ''}{f' ({acts})' if acts else ''}, mode {s['mode']}, "
            f"default {s['default_action']}, {len(s['rate_limits'])} rate limit{'s' if len(s['rate_limits']) != 1 else ''}, "
            f"{s['subjects']} subject mapping{'s' if s['subjects'] != 1 else ''}"
        )
        if s["audit_mode_rules"]:
            print(f"  {s['audit_mode_rules']} rule(s) in audit mode (recorded, not enforced)")
        if s["overrides"]:
            print(f"  {s['overrides']} override rule(s) from {s['overrides_file']}, evaluated first")
        for limit in s["rate_limits"]:
            print(f"  rate limit {limit}")
        for w in v.warnings:
            print(f"  warning: {w}")

    @policy_app.command(
        "test",
        help="Evaluate a call (--method/--tool/--args …), a scenarios file, or recorded traffic (--replay AUDIT.jsonl) against a policy file.",
    )
    def test(
        file: str = typer.Argument(..., metavar="FILE", help="policy file"),
        scenarios: str = typer.Argument(None, metavar="SCENARIOS", help="scenarios file (YAML: scenarios: [{name, method, tool, arguments, subject, expect}])"),
        method: str = typer.Option(None, "--method", metavar="METHOD", help="JSON-RPC method [default: tools/call when --tool is given]"),
        tool: str = typer.Option(None, "--tool", metavar="NAME", help="tool name"),
        args: str = typer.Option(None, "--args", metavar="JSON", help="tool arguments (or params), as JSON"),
        subject: str = typer.Option(None, "--subject", metavar="NAME", help="subject [default: as `mcpwrap wrap` would choose]"),
        server: str = typer.Option("", "--server", metavar="NAME", help="server name (the --name of `mcpwrap wrap`)"),
        role: list[str] = typer.Option([], "--role", metavar="ROLE", help="a role of the subject (repeatable)"),
        direction: str = typer.Option("c2s", "--direction", metavar="DIRECTION", help="c2s (client to server) or s2c"),
        risk: str = typer.Option(None, "--risk", metavar="CLASS", help="the tool's risk class [default: from its name]"),
        expect: str = typer.Option(None, "--expect", metavar="DECISION", help="allow, deny or approve: exit 1 if the decision differs"),
        replay_log: str = typer.Option(None, "--replay", metavar="AUDIT_LOG", help="audit log (JSONL) whose requests to re-decide"),
        show: int = typer.Option(DEFAULT_SHOWN_CHANGES, "--show", metavar="N", help="with --replay: how many changes to list"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        v = validate_file(file, SECTIONS)
        if not v.ok:
            for e in v.errors:
                print(str(e), file=sys.stderr)
            raise typer.Exit(2)
        policy = v.policy
        assert policy is not None
        if expect is not None and expect not in ACTIONS:
            fail(f"--expect must be one of {', '.join(ACTIONS)}", 2)
        if replay_log:
            try:
                report = replay(policy, replay_log)
            except ConfigError as exc:
                fail(str(exc), 2)
            if as_json:
                print(json.dumps(report.to_json(show), indent=2, ensure_ascii=False, default=str))
                return
            print(
                f"replayed {report.replayed} recorded request(s)/notification(s): {report.same} unchanged, "
                f"{len(report.changed)} changed, {len(report.undecidable)} undecidable"
                + (f"; {report.bad_lines} unreadable line(s)" if report.bad_lines else "")
            )
            for transition, count in report.transitions.most_common():
                print(f"  {count:6d}  {transition}")
            for c in report.changed[:show]:
                print(f"  line {c['line']}: {_label_call(c)} subject={c['subject']!r}: {c['recorded']} → {c['new']} (rule {c['rule']!r})")
            if len(report.changed) > show:
                print(f"  … {len(report.changed) - show} more (--show N, or --json)")
            for u in report.undecidable[:show]:
                print(f"  line {u['line']}: {_label_call(u)}: undecidable ({' or '.join(u['possible'])}): {u['reason']}")
            if len(report.undecidable) > show:
                print(f"  … {len(report.undecidable) - show} more undecidable")
            return
        who = subject if subject is not None else default_subject()
        if scenarios:
            try:
                results = run_scenarios(policy, scenarios, subject=who)
            except ConfigError as exc:
                fail(str(exc), 2)
        else:
            if method is None and tool is None:
                fail("give --method and/or --tool, a scenarios file, or --replay AUDIT.jsonl", 2)
            parsed: Any = None
            if args is not None:
                try:
                    parsed = json.loads(args)
                except ValueError as exc:
                    fail(f"--args is not valid JSON: {exc}", 2)
            if direction not in DIRECTIONS:
                fail("--direction must be c2s or s2c", 2)
            if risk is not None and risk not in RISK_CLASSES:
                fail(f"--risk must be one of {', '.join(RISK_CLASSES)}", 2)
            call = Call(method or "tools/call", tool, parsed if parsed is not None else {}, direction, risk)
            results = [evaluate_call(policy, call, subject=who, server=server, roles=tuple(role), expect=expect)]
        failed = sum(1 for r in results if r.passed is False)
        if as_json:
            print(json.dumps({"results": [r.to_json() for r in results], "failed": failed}, indent=2, ensure_ascii=False, default=str))
        else:
            for r in results:
                _print_result(r)
            if any(r.expect is not None for r in results):
                passed = sum(1 for r in results if r.passed)
                print(f"{passed} passed, {failed} failed")
        if failed:
            raise typer.Exit(1)
