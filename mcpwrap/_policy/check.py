"""What ``mcpwrap policy validate | test`` compute: checks of a policy file, trial decisions, and replays.

Plain functions that return data (:class:`Validation`, :class:`CallResult`, :class:`ReplayReport`); the command
line (:mod:`mcpwrap._cli.policy`) only parses options and prints. Trial decisions and replays use the very
evaluation function the running wrapper uses (:meth:`mcpwrap._policy.engine.PolicyView.decide`), on the policy
file plus the overrides store (:mod:`mcpwrap._state.overrides`), as the wrapper does.

:func:`validate_file` checks a file against the sections it is given (the composition root's, which this
package does not know) and collects every error, one per rule or section, each with its line and column.

:func:`replay` reads an audit log and says what this policy would have decided for each recorded request and
notification. Audit records hold method, tool, subject, roles, server and an argument *form*: by default
``redacted`` (the values, with secrets replaced by ``[REDACTED:<type>]``), else ``full``, ``shape`` (keys,
types and sizes) or ``none``. A decision that depends on argument values the record does not hold (a
redacted string, a shape, a cut-off form) is reported as undecidable rather than guessed; one that depends
only on values the record holds, or on which keys exist, is decided.
Rate limits and approvals depend on time and people, so they are not replayed.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._config import Config, Sections, locate, read_policy_text, read_yaml
from .._errors import ConfigError
from .._paths import overrides_path
from .._state import overrides
from .engine import DEFAULT_RULE_NAME, Call, Decision, Policy, PolicyView
from .readings import Recorded, Unknown
from .risk import RISK_CLASSES, classify_name
from .rules import parse_rules
from .terms import ACTIONS, DIRECTIONS

__all__ = [
    "Validation",
    "validate_file",
    "summarize",
    "policy_warnings",
    "CallResult",
    "evaluate_call",
    "run_scenarios",
    "ReplayReport",
    "replay",
    "label",
    "describe_call",
]


# --- validate ----------------------------------------------------------------------------------------------------


@dataclass
class Validation:
    """What ``policy validate`` found: every error, or a summary and warnings with the compiled policy."""

    file: str
    errors: list[ConfigError] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    config: Config | None = None
    policy: Policy | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_file(path: str | os.PathLike, sections: Sections, *, overrides_file: str | os.PathLike | None = None) -> Validation:
    """Check a policy file (against ``sections``) and the overrides file; collect every error (one per rule
    or section)."""
    file = str(path)
    v = Validation(file)
    try:
        text = read_policy_text(path)  # the same checks as `wrap` applies to a policy under MCPWRAP_HOME
    except ConfigError as exc:
        v.errors.append(exc)
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
            if key not in sections:
                raise ConfigError(f"unknown key {key!r} (expected one of: {', '.join(sorted(sections))})", path=(key,))
            if key == "rules":
                collected: list[ConfigError] = []
                values[key] = parse_rules(value, ("rules",), errors=collected)
                v.errors.extend(locate(e, positions, file) for e in collected)
            else:
                values[key] = sections[key].parse(value, (key,))
        except ConfigError as exc:
            v.errors.append(locate(exc, positions, file))
    override_rules: tuple = ()
    try:
        collected = []
        override_rules = overrides.load_rules(overrides_file, errors=collected)
        v.errors.extend(collected)
    except ConfigError as exc:
        v.errors.append(exc)
    if v.errors:
        return v
    config = Config(values=values, sections=sections, source=file, raw=raw)
    try:
        policy = Policy.from_config(config, override_rules)
    except ConfigError as exc:
        v.errors.append(locate(exc, positions, file))
        return v
    v.config, v.policy = config, policy
    v.summary = summarize(policy, config, overrides_file=str(overrides_file or overrides_path()) if override_rules else None)
    v.warnings = policy_warnings(policy)
    return v


def summarize(policy: Policy, config: Config, *, overrides_file: str | None = None) -> dict:
    """The facts ``policy validate`` reports about a valid file."""
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


# --- test: one call, or a scenarios file ----------------------------------------------------------------------------


@dataclass
class CallResult:
    """One trial decision: the call, who made it, what the policy decided and why, and what was expected."""

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
    """Decide ``call`` for one identity; a tool's risk class, unless given, comes from its name."""
    if call.tool is not None and call.risk is None:
        call.risk = classify_name(call.tool)
    view = policy.view(server, subject, roles)
    decision = view.decide(call)
    return CallResult(name or describe_call(call), call, subject, server, view.roles, decision, view.explain(decision, call), expect)


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
            if direction not in DIRECTIONS:
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
    """Recorded decisions replayed against a policy: how many are the same, which changed, which cannot be told."""

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
        return "deny", rec.get("rule")
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


def label(action: str, enforce: bool) -> str:
    """How a decision is shown: the action, with "(audit)" for a deny that is recorded, not enforced."""
    return f"{action} (audit)" if action == "deny" and not enforce else action


def replay(policy: Policy, audit_path: str | os.PathLike) -> ReplayReport:
    """Re-decide every request and notification of an audit log; a ConfigError if the log cannot be read."""
    report = ReplayReport()
    path = Path(audit_path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").split("\n")  # records end at \n only
    except OSError as exc:
        raise ConfigError(f"cannot read audit log: {exc}", file=str(path)) from None
    records: list[tuple[int, dict]] = []
    risks: dict[tuple, str | None] = {}  # (session, tool) → the class the wrapper recorded
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
            elif form == "redacted" and "arguments" in rec:
                arguments = Recorded(rec["arguments"])  # known, except the redacted strings
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
            outcomes = sorted({label(a, e) for a, e in decision.outcomes()})
            if old in outcomes and len(outcomes) == 1:
                report.same += 1
                continue
            entry["possible"] = outcomes
            entry["rules"] = [r.name if r is not None else DEFAULT_RULE_NAME for r, _, _ in decision.possible]
            entry["reason"] = (
                "depends on a redacted argument value" if isinstance(arguments, Recorded)
                else "depends on argument values the audit record does not hold"
            )  # fmt: skip
            report.undecidable.append(entry)
            continue
        new = label(decision.action, decision.enforce)
        if new == old:
            report.same += 1
            continue
        entry["new"] = new
        entry["rule"] = decision.rule_name
        report.changed.append(entry)
        report.transitions[f"{old} → {new}"] += 1
    return report


def describe_call(call: Call) -> str:
    """``method tool`` (or the method alone), as results name a call."""
    return f"{call.method} {call.tool}" if call.tool else call.method
