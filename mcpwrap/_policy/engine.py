"""The one evaluation function: a compiled policy, its view for one identity, and :meth:`PolicyView.decide`.

:class:`Policy` is what a policy file compiles to (the overrides file's rules first, then the file's), and
:meth:`Policy.view` narrows it to the rules that can apply to one identity (server, subject, roles). A view
caches, per (direction, method, tool, risk), the rules whose static conditions can match
(:class:`~mcpwrap._policy.batch.Candidates`), so a call only tests the argument conditions of those — and,
when no argument can change the outcome (no condition before the first certain match), the decision itself.
A reload compiles a new policy and so new views: nothing cached survives it.

:meth:`PolicyView.decide` decides ``tools/call`` admission, every other message with a method, and
``tools/list`` filtering (a listed tool is a hypothetical ``tools/call`` with unknown arguments: it is removed
only if every possible outcome is an enforced deny). The same function answers ``policy test`` and
``--replay`` (:mod:`mcpwrap._policy.check`), where unknown arguments make argument-dependent outcomes
*undecided*: every (rule, action, enforce) that could decide is kept in :attr:`Decision.possible`.

No match → the file's ``default_action``; a file with a ``rules`` section denies by default (as mcpgw); a file
that configures only other sections (or the built-in default) does not do admission control.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .._config import Config
from .._errors import ConfigError
from .batch import Candidates
from .readings import MAYBE, Unknown
from .rules import Rule
from .terms import NameSet

__all__ = ["Call", "Decision", "Policy", "PolicyView", "policy_of", "DEFAULT_RULE_NAME"]

DEFAULT_RULE_NAME = "(default)"  # the rule name recorded when no rule matched and default_action decided
CANDIDATE_CACHE_SIZE = 2048  # (direction, method, tool, risk) → matching rules; cleared when full
MAX_CACHED_NAME = 256  # longer (hostile) tool names are evaluated without caching


@dataclass(slots=True)
class Call:
    """What a rule is evaluated against. ``arguments`` may be :class:`Unknown`."""

    method: str
    tool: str | None = None
    arguments: Any = None
    direction: str = "c2s"
    risk: str | None = None


@dataclass(slots=True)
class Decision:
    """What :meth:`PolicyView.decide` answers: the action, the rule that decided it, and whether it is enforced."""

    action: str  # allow | deny | approve
    rule: Rule | None  # None: default_action decided
    enforce: bool
    # Arguments unknown and the outcome depends on them: every (rule, action, enforce) that could decide.
    possible: tuple = ()

    @property
    def rule_name(self) -> str:
        return self.rule.name if self.rule is not None else DEFAULT_RULE_NAME

    @property
    def decided(self) -> bool:
        return not self.possible

    @property
    def effective(self) -> str:
        """What happens to the message: deny only when enforced."""
        if self.action == "deny" and not self.enforce:
            return "allow"
        return self.action

    def outcomes(self) -> set[tuple[str, bool]]:
        if self.possible:
            return {(a, e) for _, a, e in self.possible}
        return {(self.action, self.enforce)}


class Policy:
    """A compiled policy: rules (overrides first), default action, mode, subject roles, rate limits."""

    def __init__(
        self,
        rules: Iterable[Rule] = (),
        *,
        default_action: str | None = None,
        mode: str = "enforce",
        subjects: dict | None = None,
        rate_limits: tuple = (),
        allowed_tools: Iterable[str] | None = None,
        response_patterns: tuple = (),
        overrides: Iterable[Rule] = (),
        has_rules_section: bool | None = None,
        source: str | None = None,
    ) -> None:
        self.overrides = tuple(overrides)
        self.file_rules = tuple(rules)
        self.rules = self.overrides + self.file_rules
        if has_rules_section is None:
            has_rules_section = bool(self.file_rules)
        # No match → the file's default_action; a file with rules denies by default (as mcpgw); a file that
        # configures only other sections (or the built-in default) does not do admission control.
        self.default_action = default_action or ("deny" if has_rules_section else "allow")
        self.mode = mode
        self.subjects = dict(subjects or {})
        self.rate_limits = tuple(rate_limits)
        # mcpgw's two other admission keys: a listing with a tool outside allowed_tools is blocked, and so is
        # any server message matching a response pattern.
        self.allowed_tools = NameSet(list(allowed_tools), True) if allowed_tools is not None else None
        self.response_patterns = tuple(response_patterns)
        self.source = source
        self._subject_names = [(NameSet([k], False), roles) for k, roles in self.subjects.items()]
        self._views: dict[tuple, PolicyView] = {}
        self._lock = threading.Lock()
        names: dict[str, str] = {}
        for r in self.rules:
            if r.name in names:
                raise ConfigError(f"rule name {r.name!r} is used by the {names[r.name]} and the {r.source}", path=("rules",))
            names[r.name] = r.source

    @classmethod
    def from_config(cls, config: Config, overrides: Iterable[Rule] = ()) -> Policy:
        rules = config.get("rules")
        return cls(
            rules or (),
            default_action=config.get("default_action"),
            mode=config["mode"],
            subjects=config["subjects"],
            rate_limits=config["rate_limits"],
            allowed_tools=config.get("allowed_tools"),
            response_patterns=config.get("response_patterns") or (),
            overrides=overrides,
            has_rules_section=rules is not None,
            source=config.source,
        )

    def roles_for(self, subject: str, base_roles: Iterable[str] = ()) -> tuple[str, ...]:
        roles = list(dict.fromkeys(base_roles))
        if subject:
            for matcher, mapped in self._subject_names:
                if matcher(subject):
                    for r in mapped:
                        if r not in roles:
                            roles.append(r)
        return tuple(roles)

    def view(self, server: str, subject: str, roles: Iterable[str] = ()) -> PolicyView:
        """The rules that can apply to one identity (server, subject, roles incl. mapped ones), cached."""
        key = (server, subject, tuple(roles))
        v = self._views.get(key)
        if v is None:
            with self._lock:
                v = self._views.get(key) or PolicyView(self, server, subject, self.roles_for(subject, roles))
                self._views[key] = v
        return v


class PolicyView:
    """A policy for one identity. :meth:`decide` is the one evaluation function."""

    __slots__ = ("policy", "server", "subject", "roles", "rules", "_cache", "_default")

    def __init__(self, policy: Policy, server: str, subject: str, roles: tuple[str, ...]) -> None:
        self.policy = policy
        self.server = server
        self.subject = subject
        self.roles = roles
        self.rules = tuple(r for r in policy.rules if r.identity_match(server, subject, roles))
        self._cache: dict[tuple, Candidates] = {}
        self._default = Decision(policy.default_action, None, policy.mode == "enforce")

    def rule_mode_enforces(self, rule: Rule) -> bool:
        return (rule.mode or self.policy.mode) == "enforce"

    def candidates(self, direction: str, method: str, tool: str | None, risk: str | None) -> Candidates:
        key = (direction, method, tool, risk)
        found = self._cache.get(key)
        if found is None:
            found = Candidates(tuple(
                (r, m) for r in self.rules for m in (r.message_match(direction, method, tool, risk),) if m is not False
            ))
            found.decision = self._static_decision(found)
            if tool is None or len(tool) <= MAX_CACHED_NAME:
                if len(self._cache) >= CANDIDATE_CACHE_SIZE:
                    self._cache.clear()
                self._cache[key] = found
        return found

    def _static_decision(self, cands: Candidates) -> Decision | None:
        """The decision for every call with these candidates when the arguments cannot change it: every rule up
        to the first that certainly matches has no argument condition (a notification, most methods other than
        ``tools/call``, a tool no argument rule names). Cached with the candidates, so a reload (a new view)
        drops it; None when the arguments must be read."""
        for rule, static in cands.items:
            if rule.conditions or static is not True:
                return None
            return Decision(rule.action, rule, self.rule_mode_enforces(rule))
        return self._default

    def decide(self, call: Call) -> Decision:
        """First match wins. With unknown arguments, a rule that may or may not match is noted and the walk
        goes on; the decision is undecided if the noted outcomes differ."""
        cands = self.candidates(call.direction, call.method, call.tool, call.risk)
        if cands.decision is not None:
            return cands.decision
        possible: list[tuple] = []
        cache: dict = {}
        args = call.arguments
        batches = cands.batch_of() if cands.batchable and not isinstance(args, Unknown) else None
        if batches and cands.fast:
            rule = cands.first_match(args, cache)
            if rule is None:
                return self._default
            return Decision(rule.action, rule, self.rule_mode_enforces(rule))
        for rule, static in cands.items:
            result = static
            for cond in rule.conditions:
                batch = batches.get(id(cond)) if batches else None
                r = (batch.index[id(cond)] in batch.hits(args, cache)) if batch is not None else cond.evaluate(args, cache)
                if r is False:
                    result = False
                    break
                if r is MAYBE:
                    result = MAYBE
            if result is False:
                continue
            enforce = self.rule_mode_enforces(rule)
            if result is True:
                if not possible:
                    return Decision(rule.action, rule, enforce)
                possible.append((rule, rule.action, enforce))
                return _settle(possible)
            possible.append((rule, rule.action, enforce))
        if not possible:
            return self._default
        possible.append((None, self._default.action, self._default.enforce))
        return _settle(possible)

    def explain(self, decision: Decision, call: Call) -> list[str]:
        """Why a rule matched: one line per condition, for people (``policy test``, audit details)."""
        rule = decision.rule
        if rule is None:
            return [f"no rule matched; default_action is {self.policy.default_action}"]
        lines = []
        for label, names, value in (
            ("method", rule.methods, call.method),
            ("tool", rule.tools, call.tool),
            ("server", rule.servers, self.server),
            ("subject", rule.subjects, self.subject),
        ):
            if names is not None:
                lines.append(f"{label} {value!r} matched {names.which(value)!r}")
        if rule.roles is not None:
            role = next((r for r in self.roles if rule.roles(r)), None)
            lines.append(f"role {role!r} matched {rule.roles.which(role)!r}")
        if rule.directions is not None:
            lines.append(f"direction {call.direction}")
        if rule.risks is not None:
            lines.append(f"risk class {call.risk!r}")
        for cond in rule.conditions:
            # A deny/approve condition names the reading that matched; an allow rule's match is every reading,
            # so it is described by its patterns; an exact call describes itself.
            text = cond.explain(call.arguments) if rule.action != "allow" or cond.kind == "exact" else None
            if text is None:
                text = f"argument {cond.key!r} matched {', '.join(repr(p) for p in cond.patterns)}"
            lines.append(text)
        if not lines:
            lines.append("the rule has no conditions (matches everything)")
        return lines


def _settle(possible: list[tuple]) -> Decision:
    outcomes = {(a, e) for _, a, e in possible}
    first_rule, action, enforce = possible[0]
    if len(outcomes) == 1:
        return Decision(action, first_rule, enforce)
    return Decision(action, first_rule, enforce, possible=tuple(possible))


def policy_of(config: Config, *, overrides: Iterable[Rule] = ()) -> Policy:
    """The compiled policy of a loaded configuration, with ``overrides`` (rules a person decided, from the
    overrides store: :mod:`mcpwrap._state.overrides`) evaluated before the file's rules."""
    return Policy.from_config(config, overrides)
