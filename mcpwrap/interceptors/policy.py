"""The admission-control interceptor: rules, ``tools/list`` filtering, risk classes, rate limits.

Runs first in the chain. For every request and notification, in both directions, it asks the policy
(:meth:`mcpwrap._policy.engine.PolicyView.decide`) and answers:

- allow: a PASS verdict naming the deciding rule (so the audit record says which rule let it through);
- deny: a BLOCK (the relay answers a request with the block contract) — or, in ``mode: audit``, the same
  verdict with ``enforce=False``, recorded and not applied;
- approve: a PASS verdict naming the rule, with ``msg.notes.approval`` telling the approval interceptor
  (last in the chain) what to ask; if that interceptor is not in the chain, a deny (fail closed).

Then the rate limits that apply to the request; a refused request is blocked with ``retry_after``.

For a ``tools/list`` result it classifies every listed tool (recorded once per session as a ``tool-risk``
audit record) and removes the tools the policy would deny to this subject whatever the arguments — by the
same ``decide`` call that admits ``tools/call``.

The policy it enforces is the policy file's sections plus the overrides store's rules, evaluated first
(:func:`enforced_policy`; :mod:`mcpwrap._state.overrides`).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .._chain import ChainContext, Interceptor, Outcome
from .._config import Config
from .._message import Action, ApprovalNeed, Direction, Kind, Message, Verdict
from .._policy.engine import Call, Decision, Policy, policy_of
from .._policy.normalize import clean_text
from .._policy.ratelimit import RATE_LIMITS_SECTION, SessionState, check
from .._policy.readings import UNKNOWN
from .._policy.risk import classify, classify_name
from .._policy.sections import POLICY_SECTIONS
from .._state import overrides
from .._text import fold_confusables

__all__ = ["PolicyInterceptor", "enforced_policy"]

_DIRECTION = {Direction.CLIENT_TO_SERVER: "c2s", Direction.SERVER_TO_CLIENT: "s2c"}


class PolicyInterceptor(Interceptor):
    name = "policy"
    sections = (*POLICY_SECTIONS, RATE_LIMITS_SECTION)

    def __init__(self, context: ChainContext) -> None:
        super().__init__(context)
        self.audit = context.audit
        # Learned over the session, kept across reloads: buckets, calls in flight, risk classes recorded.
        self.state = SessionState()
        self.base_roles = tuple(self.session.roles)  # --role, before the policy's subjects mapping
        # An approve rule needs the approval interceptor; without it the call is denied (fail closed).
        self.approval = "approval" in context.installed
        self._risk_cache: dict[str, tuple[int, str]] = {}

    @classmethod
    def settings_from(cls, config: Config) -> Policy:
        return enforced_policy(config)

    def configure(self, policy: Policy) -> None:
        session = self.session
        # The subject's roles: --role plus the policy's subjects mapping (recomputed on every reload).
        session.roles = policy.roles_for(session.subject, self.base_roles)
        self.view = policy.view(session.server, session.subject, session.roles)
        self.limits = policy.rate_limits
        self.policy = self.settings = policy

    # --- inspect ---------------------------------------------------------------------------------------------

    def inspect(self, msg: Message) -> Verdict | None:
        kind = msg.kind
        if self.policy.response_patterns and msg.direction is Direction.SERVER_TO_CLIENT:
            verdict = self._response_patterns(msg)
            if verdict is not None:
                return verdict
        if kind is Kind.RESULT:
            if msg.request is not None and msg.request.method == "tools/list" and msg.direction is Direction.SERVER_TO_CLIENT:
                return self._filter_tools(msg)
            return None
        if kind is Kind.ERROR:
            return None
        method = msg.method or ""
        tool = msg.tool_name if method == "tools/call" else None
        params = msg.params
        if method == "tools/call":
            args = params.get("arguments") if isinstance(params, dict) else None
        else:
            args = params
        risk = self._risk(tool) if tool is not None else None
        if risk is not None:
            msg.notes.risk = risk
        call = Call(method, tool, args, _DIRECTION[msg.direction], risk)
        decision = self.view.decide(call)
        verdict = self._verdict(decision, call, msg)
        if verdict is not None and verdict.action is Action.BLOCK and verdict.enforce:
            return verdict
        if kind is Kind.REQUEST and self.limits:
            limited = self._rate_limit(msg, method, tool)
            if limited is not None:
                if verdict is not None and verdict.action is Action.BLOCK:
                    limited.details = {**(limited.details or {}), "policy": {"rule": verdict.rule, "would": "deny"}}
                return limited
        return verdict

    def _verdict(self, decision: Decision, call: Call, msg: Message) -> Verdict | None:
        rule = decision.rule
        action = decision.action
        if action == "allow":
            return Verdict.allow(rule=rule.name) if rule is not None else None
        if action == "approve":
            assert rule is not None and rule.approve is not None
            reason = rule.reason or f"rule {rule.name!r} requires a person's approval for {_what(call)}"
            if not decision.enforce:
                return Verdict.block(f"would require approval: {reason}", rule=rule.name, enforce=False, details={"decision": "approve"})
            if not self.approval:
                return Verdict.block(
                    f"{reason}, but approval is unavailable (no approval interceptor installed); denied",
                    rule=rule.name,
                    details={"decision": "approve", "approval": "unavailable"},
                )
            opts = rule.approve
            msg.notes.approval = ApprovalNeed(
                rule=rule.name,
                reason=reason,
                timeout=float(opts.timeout),
                on_timeout=opts.on_timeout,
                channels=tuple(opts.channels),
                remember=tuple(opts.remember),
            )
            return Verdict.allow(rule=rule.name, reason=reason, details={"decision": "approve"})
        # deny
        reason = (rule.reason if rule is not None and rule.reason else None) or (
            f"denied by policy rule {decision.rule_name!r}" if rule is not None else f"no policy rule allows {_what(call)} (default_action: deny)"
        )
        details: dict[str, Any] = {"decision": "deny"}
        if rule is not None and rule.conditions:
            details["matched"] = self.view.explain(decision, call)
        return Verdict.block(reason, rule=decision.rule_name, enforce=decision.enforce, details=details)

    def _rate_limit(self, msg: Message, method: str, tool: str | None) -> Verdict | None:
        s = self.session
        limits = [lim for lim in self.limits if lim.applies(method, tool, s.server, s.subject, s.roles)]
        if not limits:
            return None
        enforced = [lim for lim in limits if (lim.mode or self.policy.mode) == "enforce"]
        audited = [lim for lim in limits if (lim.mode or self.policy.mode) != "enforce"]
        refused = check(self.state, enforced, s.subject, s.server) if enforced else None
        if refused is None:
            msg.notes.ratelimit_slots = tuple(lim.name for lim in limits if lim.concurrent is not None)
            would = check(self.state, audited, s.subject, s.server) if audited else None
            if would is None:
                return None
            limit, what, wait = would
            return Verdict.block(
                f"would be rate-limited by {limit.name!r} ({what})", rule=f"rate-limit:{limit.name}", interceptor="ratelimit",
                enforce=False, retry_after=wait,
            )
        limit, what, wait = refused
        return Verdict.block(
            f"rate limit {limit.name!r} reached ({what}) for {_what(Call(method, tool))}",
            rule=f"rate-limit:{limit.name}",
            interceptor="ratelimit",
            retry_after=wait,
            details={"limit": limit.name, "exhausted": what},
        )

    # --- tools/list ------------------------------------------------------------------------------------------

    def _risk(self, tool: str) -> str:
        catalog = self.session.tools
        cached = self._risk_cache.get(tool)
        if cached is not None and cached[0] == catalog.generation:
            return cached[1]
        definition = catalog.get(tool)
        if definition is None:
            # A case or look-alike variant of a listed tool must not shed the listed tool's class (rules
            # compare tool names the same way).
            folded = clean_text(tool).casefold()
            definition = next((d for n, d in catalog.tools.items() if clean_text(n).casefold() == folded), None)
        cls = classify(definition)[0] if definition is not None else classify_name(tool)
        if len(self._risk_cache) > 4096:
            self._risk_cache.clear()
        self._risk_cache[tool] = (catalog.generation, cls)
        return cls

    def _response_patterns(self, msg: Message) -> Verdict | None:
        # mcpgw matches the message's text; escapes (\\u0041, \\/, …) would hide a pattern from it. So every
        # pattern also runs over the decoded message and over each decoded string (keys included) on its own, over
        # each string as a reader takes it (NFKC, invisible characters removed, look-alike letters folded: the
        # client's sanitiser removes the invisibles anyway), and over a tool result's text items joined.
        strings = _decoded_strings(msg.envelope)
        texts = [msg.raw.decode("utf-8", "replace"), json.dumps(msg.envelope, ensure_ascii=False), *strings]
        texts += [r for t in strings if not t.isascii() and (r := fold_confusables(clean_text(t))) != t]
        texts += _joined_text_items(msg.result)
        for source, search in self.policy.response_patterns:
            if any(search(t) is not None for t in texts):
                return Verdict.block(
                    f"server message matches forbidden pattern {source!r}", rule="response-patterns",
                    enforce=self.policy.mode == "enforce", details={"pattern": source},
                )
        return None

    def _filter_tools(self, msg: Message) -> Verdict | None:
        result = msg.result
        if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
            return None
        allowed = self.policy.allowed_tools
        if allowed is not None:
            for tool in result["tools"]:
                name = tool.get("name") if isinstance(tool, dict) else None
                if not isinstance(name, str) or not allowed(name):
                    return Verdict.block(
                        f"tools/list names a tool outside allowed_tools: {name!r}", rule="allowed-tools",
                        enforce=self.policy.mode == "enforce", details={"tool": name},
                    )
        removed: list[str] = []
        would_remove: list[str] = []
        keep: list[Any] = []
        risks: dict[str, str] = {}
        for tool in result["tools"]:
            name = tool.get("name") if isinstance(tool, dict) else None
            if not isinstance(name, str):
                keep.append(tool)
                continue
            cls, signals = classify(tool)
            risks[name] = cls
            self._record_risk(name, cls, signals)
            decision = self.view.decide(Call("tools/call", name, UNKNOWN, "c2s", cls))
            outcomes = decision.outcomes()
            if all(a == "deny" for a, _ in outcomes):
                if all(e for _, e in outcomes):
                    removed.append(name)
                    continue
                would_remove.append(name)
            keep.append(tool)
        msg.notes.listed_risks = risks
        if removed:
            env = copy.copy(msg.envelope)
            env["result"] = {**result, "tools": keep}
            return Verdict.modify(
                env,
                {"removed_tools": removed},
                reason=f"removed {len(removed)} tool(s) the policy denies to {self.session.subject or 'this subject'}",
                rule="tools-list-filter",
                details={"removed_tools": removed, **({"would_remove": would_remove} if would_remove else {})},
            )
        if would_remove:
            return Verdict.block(
                f"would remove {len(would_remove)} tool(s) from the list", rule="tools-list-filter", enforce=False,
                details={"would_remove": would_remove},
            )
        return None

    def _record_risk(self, name: str, cls: str, signals: list[str]) -> None:
        with self.state.lock:
            if self.state.risk_logged.get(name) == cls:
                return
            self.state.risk_logged[name] = cls
        if self.audit is not None:
            self.audit.record("tool-risk", tool=name, risk=cls, signals=signals or None, roles=list(self.session.roles) or None)

    # --- observe: calls in flight ----------------------------------------------------------------------------

    def observe(self, msg: Message, outcome: Outcome) -> None:
        if not self.limits:
            return
        if msg.kind is Kind.REQUEST and msg.notes.ratelimit_slots and outcome.action is not Action.BLOCK:
            with self.state.lock:
                for name in msg.notes.ratelimit_slots:
                    self.state.inflight.setdefault(name, set()).add((msg.direction, msg.id))
        elif msg.kind.is_response and msg.request is not None:
            key = (msg.request.direction, msg.request.id)
            with self.state.lock:
                for ids in self.state.inflight.values():
                    ids.discard(key)
        elif msg.kind is Kind.NOTIFICATION and msg.method == "notifications/cancelled" and isinstance(msg.params, dict):
            key = (msg.direction, msg.params.get("requestId"))
            with self.state.lock:
                for ids in self.state.inflight.values():
                    ids.discard(key)


def enforced_policy(config: Config) -> Policy:
    """The policy a wrapper enforces: the file's, with the overrides store's rules first.

    Compiled once per configuration while the overrides file is unchanged (building several chains from one
    configuration compiles it once); a changed or new overrides file is read again. An invalid overrides file
    is a ConfigError, so a reload keeps the previous policy (fail closed).
    """
    stamp = overrides.stamp()
    cached = getattr(config, "_mcpwrap_policy", None)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    policy = policy_of(config, overrides=overrides.load_rules())
    config._mcpwrap_policy = (stamp, policy)  # type: ignore[attr-defined]
    return policy


def _joined_text_items(result: Any) -> list[str]:
    """The text items of a result's ``content`` read as one text (a model reads them one after the other)."""
    content = result.get("content") if isinstance(result, dict) else None
    if not isinstance(content, list):
        return []
    items = [c["text"] for c in content if isinstance(c, dict) and isinstance(c.get("text"), str)]
    if len(items) < 2:
        return []
    return ["".join(items), "\n".join(items)]


def _decoded_strings(value: Any) -> list[str]:
    """Every string in a decoded JSON value, object keys included."""
    out: list[str] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            out.extend(k for k in v if isinstance(k, str))
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return out


def _what(call: Call) -> str:
    return f"{call.method} {call.tool!r}" if call.tool else call.method

