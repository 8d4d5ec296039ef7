"""``mcpwrap policy init | validate | test``: write, check and try a policy file.

The work is done by plain functions (:func:`validate_file`, :func:`evaluate_call`, :func:`run_scenarios`,
:func:`replay`) that return data; the typer commands only parse options and print. ``test`` and ``--replay``
use the very evaluation function the running wrapper uses (:meth:`mcpwrap._policy.engine.PolicyView.decide`).

``--replay`` reads an audit log and says what this policy would have decided for each recorded request and
notification. Audit records hold method, tool, subject, roles, server and an argument *form* (by default
only its shape: keys, types and sizes). A decision that depends on argument values the record does not hold
is reported as undecidable rather than guessed; one that depends only on which keys exist is decided.
Rate limits and approvals depend on time and people, so they are not replayed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._config import Config, builtin_policy_text, locate, read_yaml
from .._fs import atomic_write
from .._paths import default_policy_path
from ..interceptors import SECTIONS
from .._errors import ConfigError
from .._policy.engine import (
    ACTIONS,
    Call,
    Decision,
    Policy,
    PolicyView,
    Unknown,
    load_overrides,
    overrides_path,
    parse_rules,
)
from .._policy.risk import RISK_CLASSES, classify_name

__all__ = ["register", "validate_file", "evaluate_call", "run_scenarios", "replay", "load_policy"]

DEFAULT_SHOWN_CHANGES = 20  # --replay lists this many changed decisions unless --show says otherwise


# --- validate ----------------------------------------------------------------------------------------------------


@dataclass
class Validation:
    file: str
    errors: list[ConfigError] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    config: Config | None = None
    policy: Policy | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_file(path: str | os.PathLike, *, overrides: str | os.PathLike | None = None) -> Validation:
    """Check a policy file and the overrides file; collect every error (one per rule or section)."""
    file = str(path)
    v = Validation(file)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        v.errors.append(ConfigError("policy file not found", file=file))
        return v
    except (OSError, UnicodeDecodeError) as exc:
        v.errors.append(ConfigError(f"cannot read policy file: {exc}", file=file))
        return v
    try:
        raw, positions = read_yaml(text, file)
    except ConfigError as exc:
        v.errors.append(exc)
        return v
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        v.errors.append(locate(ConfigError("expected a mapping of policy sections", path=()), positions, file))
        return v
    values: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            if key not in SECTIONS:
                raise ConfigError(f"unknown key {key!r} (expected one of: {', '.join(sorted(SECTIONS))})", path=(key,))
            if key == "rules":
                collected: list[ConfigError] = []
                values[key] = parse_rules(value, ("rules",), errors=collected)
                v.errors.extend(locate(e, positions, file) for e in collected)
            else:
                values[key] = SECTIONS[key].parse(value, (key,))
        except ConfigError as exc:
            v.errors.append(locate(exc, positions, file))
    override_rules: tuple = ()
    try:
        collected = []
        override_rules = load_overrides(overrides, errors=collected)
        v.errors.extend(collected)
    except ConfigError as exc:
        v.errors.append(exc)
    if v.errors:
        return v
    config = Config(values=values, sections=SECTIONS, source=file, raw=raw)
    try:
        policy = Policy.from_config(config, override_rules)
    except ConfigError as exc:
        v.errors.append(locate(exc, positions, file))
        return v
    v.config, v.policy = config, policy
    v.summary = summarize(policy, config, overrides_file=str(overrides or overrides_path()) if override_rules else None)
    v.warnings = policy_warnings(policy)
    return v


def summarize(policy: Policy, config: Config, *, overrides_file: str | None = None) -> dict:
    actions = Counter(r.action for r in policy.file_rules)
    return {
        "file": config.source,
        "version": config["version"],
        "mode": policy.mode,
        "default_action": policy.default_action,
        "rules": len(policy.file_rules),
        "actions": {a: actions.get(a, 0) for a in ACTIONS},
        "audit_mode_rules": sum(1 for r in policy.file_rules if (r.mode or policy.mode) == "audit"),
        "overrides": len(policy.overrides),
        "overrides_file": overrides_file,
        "subjects": len(policy.subjects),
        "rate_limits": [limit.describe() for limit in policy.rate_limits],
        "sections": sorted(config.values),
    }


def policy_warnings(policy: Policy) -> list[str]:
    """Things that load but are probably not meant."""
    out = []
    view = policy.view("", "", ())
    if view.decide(Call("initialize", None, {})).effective == "deny":
        out.append("initialize is denied: clients cannot connect (allow methods [initialize, notifications/*] first)")
    seen_unconditional = None
    for r in policy.rules:
        if seen_unconditional is not None:
            out.append(f"rule {r.name!r} is never reached: {seen_unconditional!r} before it matches everything")
            break
        if all(getattr(r, a) is None for a in ("methods", "tools", "servers", "subjects", "roles", "directions", "risks")) and not r.conditions:
            seen_unconditional = r.name
    return out


# --- test ----------------------------------------------------------------------------------------------------------


def load_policy(path: str | os.PathLike) -> Policy:
    v = validate_file(path)
    if not v.ok:
        raise ConfigError("\n".join(str(e) for e in v.errors))
    assert v.policy is not None
    return v.policy


def default_subject() -> str:
    from .._runtime import default_subject as subject

    return subject()


@dataclass
class CallResult:
    name: str
    call: Call
    subject: str
    server: str
    roles: tuple[str, ...]
    decision: Decision
    why: list[str]
    expect: str | None = None

    @property
    def passed(self) -> bool | None:
        if self.expect is None:
            return None
        return self.decision.decided and self.decision.action == self.expect

    def to_json(self) -> dict:
        d = self.decision
        return {
            "name": self.name,
            "method": self.call.method,
            "tool": self.call.tool,
            "direction": self.call.direction,
            "subject": self.subject,
            "roles": list(self.roles),
            "server": self.server,
            "risk": self.call.risk,
            "action": d.action,
            "enforce": d.enforce,
            "rule": d.rule_name,
            "why": self.why,
            **({"expect": self.expect, "passed": self.passed} if self.expect is not None else {}),
        }


def evaluate_call(
    policy: Policy, call: Call, *, subject: str, server: str = "", roles: tuple[str, ...] = (), name: str = "", expect: str | None = None
) -> CallResult:
    if call.tool is not None and call.risk is None:
        call.risk = classify_name(call.tool)
    view = policy.view(server, subject, roles)
    decision = view.decide(call)
    return CallResult(name or _what(call), call, subject, server, view.roles, decision, view.explain(decision, call), expect)


_SCENARIO_KEYS = {"name", "method", "tool", "params", "arguments", "subject", "roles", "server", "direction", "risk", "expect"}


def run_scenarios(policy: Policy, path: str | os.PathLike, *, subject: str) -> list[CallResult]:
    """Scenarios file: ``scenarios: [{name, method, tool, arguments | params, subject, roles, server, direction,
    risk, expect}]``. mcpgw's scenario files (``params`` as a JSON string) load as they are."""
    file = str(path)
    try:
        raw, positions = read_yaml(Path(path).read_text(encoding="utf-8"), file)
    except OSError as exc:
        raise ConfigError(f"cannot read scenarios: {exc}", file=file) from None
    results = []
    try:
        if not isinstance(raw, dict) or not isinstance(raw.get("scenarios"), list):
            raise ConfigError("expected a mapping with a 'scenarios' list", path=())
        for i, sc in enumerate(raw["scenarios"]):
            p = ("scenarios", i)
            if not isinstance(sc, dict):
                raise ConfigError("a scenario is a mapping", path=p)
            unknown = set(sc) - _SCENARIO_KEYS
            if unknown:
                raise ConfigError(f"unknown key {sorted(unknown)[0]!r} (expected one of: {', '.join(sorted(_SCENARIO_KEYS))})", path=p + (sorted(unknown)[0],))
            expect = sc.get("expect")
            if expect is not None and expect not in ACTIONS:
                raise ConfigError(f"expect must be one of {', '.join(ACTIONS)}", path=p + ("expect",))
            params = sc.get("params")
            if isinstance(params, str):
                try:
                    params = json.loads(params) if params.strip() else None
                except ValueError as exc:
                    raise ConfigError(f"params is not valid JSON: {exc}", path=p + ("params",)) from None
            tool = sc.get("tool")
            method = sc.get("method") or ("tools/call" if tool is not None else None)
            if not isinstance(method, str):
                raise ConfigError("a scenario needs a method (or a tool)", path=p)
            arguments = sc.get("arguments")
            if method == "tools/call" and isinstance(params, dict):
                tool = tool if tool is not None else params.get("name")
                arguments = arguments if arguments is not None else params.get("arguments")
            elif arguments is None:
                arguments = params
            direction = sc.get("direction", "c2s")
            if direction not in ("c2s", "s2c"):
                raise ConfigError("direction must be c2s or s2c", path=p + ("direction",))
            risk = sc.get("risk")
            if risk is not None and risk not in RISK_CLASSES:
                raise ConfigError(f"risk must be one of {', '.join(RISK_CLASSES)}", path=p + ("risk",))
            roles = sc.get("roles") or []
            if not isinstance(roles, list):
                raise ConfigError("roles must be a list", path=p + ("roles",))
            call = Call(method, str(tool) if tool is not None else None, arguments, direction, risk)
            results.append(
                evaluate_call(
                    policy, call, subject=str(sc.get("subject", subject) or ""), server=str(sc.get("server", "") or ""),
                    roles=tuple(str(r) for r in roles), name=str(sc.get("name") or f"scenario {i + 1}"), expect=expect,
                )
            )
    except ConfigError as exc:
        raise locate(exc, positions, file) from None
    return results


# --- replay -------------------------------------------------------------------------------------------------------------


@dataclass
class ReplayReport:
    replayed: int = 0
    same: int = 0
    changed: list[dict] = field(default_factory=list)
    undecidable: list[dict] = field(default_factory=list)
    skipped: int = 0
    bad_lines: int = 0
    transitions: Counter = field(default_factory=Counter)

    def to_json(self, show: int | None = None) -> dict:
        return {
            "replayed": self.replayed,
            "same": self.same,
            "changed": len(self.changed),
            "undecidable": len(self.undecidable),
            "skipped": self.skipped,
            "bad_lines": self.bad_lines,
            "transitions": {k: v for k, v in self.transitions.most_common()},
            "changes": self.changed[:show] if show is not None else self.changed,
            "undecidable_records": self.undecidable[:show] if show is not None else self.undecidable,
        }


def _recorded_decision(rec: dict) -> tuple[str, str | None]:
    """What the policy decided when the record was written: (label, rule)."""
    if rec.get("interceptor") == "policy" and rec.get("action") == "block":
        details = rec.get("details") or {}
        return ("deny" if details.get("decision", "deny") == "deny" else "deny"), rec.get("rule")
    for v in rec.get("verdicts") or []:
        if v.get("interceptor") == "policy" and v.get("action") == "block" and v.get("enforced") is False:
            return "deny (audit)", v.get("rule")
    details = rec.get("details") or {}
    if rec.get("interceptor") == "policy" and details.get("decision") == "approve":
        return "approve", rec.get("rule")
    for v in rec.get("verdicts") or []:
        if v.get("interceptor") == "policy" and (v.get("details") or {}).get("decision") == "approve":
            return "approve", v.get("rule")
    rule = rec.get("rule") if rec.get("interceptor") in (None, "policy") else None
    return "allow", rule


def _label(action: str, enforce: bool) -> str:
    return f"{action} (audit)" if action == "deny" and not enforce else action


def replay(policy: Policy, audit_path: str | os.PathLike) -> ReplayReport:
    report = ReplayReport()
    path = Path(audit_path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").split("\n")  # records end at \n only
    except OSError as exc:
        raise ConfigError(f"cannot read audit log: {exc}", file=str(path)) from None
    records: list[tuple[int, dict]] = []
    risks: dict[tuple, str] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            report.bad_lines += 1
            continue
        if not isinstance(rec, dict):
            report.bad_lines += 1
            continue
        if rec.get("event") == "tool-risk" and isinstance(rec.get("tool"), str):
            risks[(rec.get("session"), rec["tool"])] = rec.get("risk")
        records.append((n, rec))
    for n, rec in records:
        if rec.get("event") != "message" or rec.get("kind") not in ("request", "notification") or not isinstance(rec.get("method"), str):
            report.skipped += 1
            continue
        method, tool = rec["method"], rec.get("tool")
        form = rec.get("arguments_form")
        if method == "tools/call":
            if form == "full" and "arguments" in rec:
                arguments: Any = rec["arguments"]
            else:
                arguments = Unknown(rec.get("arguments") if form in (None, "shape") else None)
        else:
            arguments = Unknown(None)  # params of other methods are not recorded
        # The wrapper records the class of every listed tool; a tool it never listed was classed by name.
        risk = risks.get((rec.get("session"), tool)) or classify_name(tool) if tool else None
        call = Call(method, tool, arguments, rec.get("direction") or "c2s", risk)
        roles = tuple(rec.get("roles") or ())
        view: PolicyView = policy.view(str(rec.get("server") or ""), str(rec.get("subject") or ""), roles)
        decision = view.decide(call)
        old, old_rule = _recorded_decision(rec)
        report.replayed += 1
        entry = {
            "line": n,
            "ts": rec.get("ts"),
            "method": method,
            "tool": tool,
            "subject": rec.get("subject"),
            "server": rec.get("server"),
            "recorded": old,
            "recorded_rule": old_rule,
        }
        if not decision.decided:
            outcomes = sorted({_label(a, e) for a, e in decision.outcomes()})
            if old in outcomes and len(outcomes) == 1:
                report.same += 1
                continue
            entry["possible"] = outcomes
            entry["rules"] = [r.name if r is not None else "(default)" for r, _, _ in decision.possible]
            entry["reason"] = "depends on argument values the audit record does not hold"
            report.undecidable.append(entry)
            continue
        new = _label(decision.action, decision.enforce)
        if new == old:
            report.same += 1
            continue
        entry["new"] = new
        entry["rule"] = decision.rule_name
        report.changed.append(entry)
        report.transitions[f"{old} → {new}"] += 1
    return report


# --- typer commands -----------------------------------------------------------------------------------------------------------


def _what(call: Call) -> str:
    return f"{call.method} {call.tool}" if call.tool else call.method


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
        head = f"{status}{r.name}: {_label(d.action, d.enforce)} by rule {d.rule_name!r}"
    else:
        head = f"{status}{r.name}: undecided — " + ", ".join(sorted({_label(a, e) for a, e in d.outcomes()}))
    if r.expect is not None:
        head += f" (expected {r.expect})"
    print(head)
    print(f"  call: {_what(r.call)} [{r.call.direction}] subject={r.subject!r} roles={list(r.roles)} server={r.server!r} risk={r.call.risk}")
    for line in r.why:
        print(f"  why: {line}")


def register(app: Any) -> None:
    import typer

    policy_app = typer.Typer(help="Write, check and try policy files.", no_args_is_help=True, rich_markup_mode=None)
    app.add_typer(policy_app, name="policy")

    @policy_app.command("init", help="Write the built-in default policy to $MCPWRAP_HOME/policy.yaml (used by `mcpwrap wrap` without --policy).")
    def init(
        path: str = typer.Option(None, "--path", help="where to write (default: $MCPWRAP_HOME/policy.yaml)"),
        force: bool = typer.Option(False, "--force", help="replace an existing file (it is kept as FILE.bak)"),
    ) -> None:
        target = Path(path) if path else default_policy_path()
        if target.exists() and not force:
            print(f"mcpwrap: {target} exists; use --force to replace it (a backup is kept)", file=sys.stderr)
            raise typer.Exit(1)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.copy2(target, str(target) + ".bak")
        atomic_write(target, builtin_policy_text())
        print(f"wrote {target}")

    @policy_app.command("validate", help="Check a policy file: an OK summary, or every error with line and column (exit 1).")
    def validate(
        file: str = typer.Argument(..., help="policy file"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        v = validate_file(file)
        if as_json:
            print(json.dumps({"ok": v.ok, "file": file, "errors": [_error_json(e) for e in v.errors], "summary": v.summary, "warnings": v.warnings}, indent=2, ensure_ascii=False))
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
        file: str = typer.Argument(..., help="policy file"),
        scenarios: str = typer.Argument(None, help="scenarios file (YAML: scenarios: [{name, method, tool, arguments, subject, expect}])"),
        method: str = typer.Option(None, "--method", help="JSON-RPC method (default: tools/call when --tool is given)"),
        tool: str = typer.Option(None, "--tool", help="tool name"),
        args: str = typer.Option(None, "--args", help="tool arguments (or params), as JSON"),
        subject: str = typer.Option(None, "--subject", help="subject (default: as `mcpwrap wrap` would choose)"),
        server: str = typer.Option("", "--server", help="server name (the --name of `mcpwrap wrap`)"),
        role: list[str] = typer.Option([], "--role", help="a role of the subject (repeatable)"),
        direction: str = typer.Option("c2s", "--direction", help="c2s (client to server) or s2c"),
        risk: str = typer.Option(None, "--risk", help="the tool's risk class (default: from its name)"),
        expect: str = typer.Option(None, "--expect", help="allow, deny or approve: exit 1 if the decision differs"),
        replay_log: str = typer.Option(None, "--replay", help="audit log (JSONL) whose requests to re-decide"),
        show: int = typer.Option(DEFAULT_SHOWN_CHANGES, "--show", help="with --replay: how many changes to list"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        v = validate_file(file)
        if not v.ok:
            for e in v.errors:
                print(str(e), file=sys.stderr)
            raise typer.Exit(2)
        policy = v.policy
        assert policy is not None
        if expect is not None and expect not in ACTIONS:
            print(f"mcpwrap: --expect must be one of {', '.join(ACTIONS)}", file=sys.stderr)
            raise typer.Exit(2)
        if replay_log:
            try:
                report = replay(policy, replay_log)
            except ConfigError as exc:
                print(f"mcpwrap: {exc}", file=sys.stderr)
                raise typer.Exit(2)
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
                print(f"mcpwrap: {exc}", file=sys.stderr)
                raise typer.Exit(2)
        else:
            if method is None and tool is None:
                print("mcpwrap: give --method and/or --tool, a scenarios file, or --replay AUDIT.jsonl", file=sys.stderr)
                raise typer.Exit(2)
            parsed: Any = None
            if args is not None:
                try:
                    parsed = json.loads(args)
                except ValueError as exc:
                    print(f"mcpwrap: --args is not valid JSON: {exc}", file=sys.stderr)
                    raise typer.Exit(2)
            if direction not in ("c2s", "s2c"):
                print("mcpwrap: --direction must be c2s or s2c", file=sys.stderr)
                raise typer.Exit(2)
            if risk is not None and risk not in RISK_CLASSES:
                print(f"mcpwrap: --risk must be one of {', '.join(RISK_CLASSES)}", file=sys.stderr)
                raise typer.Exit(2)
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
