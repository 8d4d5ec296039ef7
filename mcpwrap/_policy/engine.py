"""Admission control: the policy sections, the rule engine, and the one function that decides.

Sections (top-level keys of the policy file)::

    version: v1                # optional; only "v1" exists
    mode: enforce | audit      # audit: record what would have been decided, let everything pass
    default_action: allow | deny   # when no rule matches (default: deny if the file has rules, else allow)
    subjects: {alice: [admin]} # subject (glob) → roles
    rules: [...]               # first match wins
    rate_limits: [...]         # see mcpwrap._policy.ratelimit
    allowed_tools: [globs]     # mcpgw: a tools/list result naming another tool is blocked
    response_patterns: [re]    # mcpgw: a server message matching one of these RE2 patterns is blocked

Rule semantics (a superset of mcpgw's ``version: v1`` format, which loads unchanged):

- Fields in ``match`` are ANDed, entries of one list ORed; an absent field matches anything. A rule
  without ``direction`` applies to messages in both directions (mcpgw looked at client requests only).
- ``methods``/``tools`` are globs compared case-insensitively (``case_sensitive: true`` on a rule turns that
  off); ``servers``/``subjects``/``roles`` are compared exactly as written (identities). An empty subject or
  an absent role never matches a ``subjects``/``roles`` condition. ``tools`` matches only messages that
  name a tool (``tools/call``).
- ``arguments`` (globs) and ``argument_patterns`` (RE2 regexes, searched) take a dot path into the call's
  arguments (``tools/call``: ``params.arguments``; other methods: ``params``); ``"*"`` means every value.
  Arrays on the way are entered element by element. A missing argument never matches.
- Values are compared in several readings (see :mod:`mcpwrap._policy.normalize`). A **deny** or **approve** rule
  matches when *any* reading of *any* element matches, case-insensitively: the raw string, its NFKC form
  without invisible characters, the normalised path, and for arrays/objects also their JSON text. An
  **allow** rule matches only when *every* element's canonical readings (as sent and as seen, paths
  normalised) match, case-sensitively. So a spelling trick can make a deny rule fire, never an allow rule.
- ``mode`` on a rule overrides the file's ``mode``.

One evaluation function, :meth:`PolicyView.decide`, decides ``tools/call`` admission, every other message
with a method, and ``tools/list`` filtering (a listed tool is a hypothetical ``tools/call`` with unknown
arguments: it is removed only if every possible outcome is an enforced deny). The same function answers
``policy test`` and ``--replay``, where unknown arguments make argument-dependent outcomes *undecided*.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .._config import Config, check_keys, expect, Section
from .._paths import overrides_path
from .._errors import ConfigError
from .._message import APPROVAL_CHANNELS, APPROVAL_REMEMBER, DEFAULT_APPROVAL_TIMEOUT
from .normalize import clean_text, compile_glob, glob_to_regex, is_path_like, normalize_path, stringify
from .risk import RISK_CLASSES

__all__ = [
    "ACTIONS",
    "APPROVAL_CHANNELS",
    "APPROVAL_REMEMBER",
    "ApproveOptions",
    "Call",
    "Decision",
    "Policy",
    "PolicyView",
    "Rule",
    "Unknown",
    "UNKNOWN",
    "UNKNOWN_RISK",
    "parse_rules",
    "policy_of",
    "overrides_path",
    "load_overrides",
    "add_override_rule",
    "DEFAULT_RULE_NAME",
]

ACTIONS = ("allow", "deny", "approve")
MODES = ("enforce", "audit")
DIRECTIONS = ("c2s", "s2c")
MAX_APPROVAL_TIMEOUT = 24 * 3600.0
DEFAULT_RULE_NAME = "(default)"  # the rule name recorded when no rule matched and default_action decided
CANDIDATE_CACHE_SIZE = 2048  # (direction, method, tool, risk) → matching rules; cleared when full
MAX_CACHED_NAME = 256  # longer (hostile) tool names are evaluated without caching

_RULE_KEYS = {"name", "description", "action", "mode", "reason", "match", "case_sensitive", "timeout", "on_timeout", "channels", "remember"}
_APPROVE_KEYS = ("timeout", "on_timeout", "channels", "remember")
_MATCH_KEYS = {"methods", "tools", "servers", "subjects", "roles", "direction", "risk", "arguments", "argument_patterns"}


class _Maybe:
    """The third truth value: depends on what is not known (arguments in replay, a tool's risk)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MAYBE"

    def __bool__(self) -> bool:  # pragma: no cover - guard against two-valued use
        raise TypeError("MAYBE has no truth value")


MAYBE: Any = _Maybe()


class Unknown:
    """Arguments that are not known. ``shape`` (the audit log's form: types and sizes) still tells which
    keys exist, so a condition on an absent key is decidably false."""

    __slots__ = ("shape",)

    def __init__(self, shape: Any = None) -> None:
        self.shape = shape


UNKNOWN = Unknown()
UNKNOWN_RISK = "?"


# --- sections -----------------------------------------------------------------------------------------------------


def _parse_version(raw: Any, path: tuple) -> str:
    value = expect(raw, (str, int), path, "string")
    if str(value) not in ("v1", "1"):
        raise ConfigError(f'unsupported version {value!r} (expected "v1")', path=path)
    return "v1"


def _parse_mode(raw: Any, path: tuple) -> str:
    return _one_of(raw, MODES, path)


def _parse_default_action(raw: Any, path: tuple) -> str:
    return _one_of(raw, ("allow", "deny"), path)


def _parse_subjects(raw: Any, path: tuple) -> dict[str, tuple[str, ...]]:
    expect(raw, dict, path)
    out: dict[str, tuple[str, ...]] = {}
    for subject, roles in raw.items():
        p = path + (subject,)
        if not isinstance(subject, str) or not subject:
            raise ConfigError("a subject must be a non-empty string", path=p)
        out[subject] = tuple(_str_list(roles, p))
    return out


def _parse_allowed_tools(raw: Any, path: tuple) -> tuple[str, ...]:
    return tuple(_str_list(raw, path))


def _parse_response_patterns(raw: Any, path: tuple) -> tuple[tuple[str, Any], ...]:
    from .._re2 import RegexError, compile_regex

    out = []
    for i, pattern in enumerate(_str_list(raw, path)):
        try:
            out.append((pattern, compile_regex(pattern).search))
        except RegexError as exc:
            raise ConfigError(f"invalid regular expression {pattern!r}: {exc}", path=path + (i,)) from None
    return tuple(out)


def _parse_rules_section(raw: Any, path: tuple) -> tuple["Rule", ...]:
    return parse_rules(raw, path)


def _one_of(raw: Any, choices: tuple, path: tuple) -> str:
    value = expect(raw, str, path)
    if value not in choices:
        raise ConfigError(f"must be one of {', '.join(choices)} (got {value!r})", path=path)
    return value


def _str_list(raw: Any, path: tuple, *, allow_empty: bool = False) -> list[str]:
    """A list of strings; one string stands for a list of one (``tools: echo`` = ``tools: [echo]``)."""
    if isinstance(raw, str):
        raw = [raw]
    expect(raw, list, path, "list")
    if not raw and not allow_empty:
        raise ConfigError("must list at least one entry", path=path)
    for i, item in enumerate(raw):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise ConfigError(f"expected a string, got {type(item).__name__}", path=path + (i,))
    return [str(item) for item in raw]


# --- compiled rules -------------------------------------------------------------------------------------------------


class _Names:
    """A set of name globs. Exact names are a set lookup; only real globs are tried one by one."""

    __slots__ = ("patterns", "exact", "globs", "fold")

    def __init__(self, patterns: list[str], fold: bool) -> None:
        self.patterns = tuple(patterns)
        self.fold = fold
        self.exact: set[str] = set()
        self.globs: list[Any] = []
        for p in patterns:
            p = clean_text(p)
            if fold:
                p = p.casefold()
            if "*" in p or "?" in p:
                self.globs.append(compile_glob(p))
            else:
                self.exact.add(p)

    def __call__(self, name: str | None) -> bool:
        if not name:
            return False
        if self.fold:
            name = clean_text(name).casefold()
        if name in self.exact:
            return True
        for g in self.globs:
            if g(name):
                return True
        return False

    def which(self, name: str | None) -> str | None:
        """The first pattern that matches (for explanations)."""
        if not name:
            return None
        for p in self.patterns:
            if _Names([p], self.fold)(name):
                return p
        return None


class _ArgCondition:
    """One ``arguments``/``argument_patterns`` entry: a dot path and its globs or regexes."""

    __slots__ = ("key", "keys", "kind", "patterns", "matchers", "any_reading", "fold")

    def __init__(self, key: str, kind: str, patterns: list[str], any_reading: bool, fold: bool, path: tuple) -> None:
        self.key = key
        self.keys = None if key == "*" else tuple(key.split("."))
        self.kind = kind  # "glob" | "regex"
        self.patterns = tuple(patterns)
        self.any_reading = any_reading
        self.fold = fold
        self.matchers: list[Any] = []
        for i, p in enumerate(patterns):
            if kind == "glob":
                for variant in _pattern_variants(p):
                    self.matchers.append(compile_glob(variant.casefold() if fold else variant))
            else:
                from .._re2 import RegexError, compile_regex

                try:
                    self.matchers.append(compile_regex(p, case_sensitive=not fold).search)
                except RegexError as exc:
                    raise ConfigError(f"invalid regular expression {p!r}: {exc}", path=path + (i,)) from None

    def _test(self, reading: str) -> bool:
        if self.kind == "glob":
            for m in self.matchers:
                if m(reading):
                    return True
            return False
        for m in self.matchers:  # RE2 search: None or a match object
            if m(reading) is not None:
                return True
        return False

    @property
    def casefolds(self) -> bool:
        """Whether readings are casefolded before matching (globs); regexes use RE2's case option instead."""
        return self.fold and self.kind == "glob"

    def readings(self, args: Any, cache: dict) -> list | None:
        """Deny mode: the list of readings; allow mode: the list of groups (one per element) of readings that
        must all match. None if the argument is missing. Shared through ``cache`` by every condition on the
        same argument within one decision."""
        values = _resolve_cached(args, self.key, self.keys, cache)
        if not values:
            return None
        ck = (self.key, self.any_reading, self.casefolds)
        found = cache.get(ck)
        if found is None:
            if self.any_reading:
                found = []
                for v in values:
                    if self.keys is None:
                        _wild_readings(v, found)
                    else:
                        _deny_readings(v, found)
                if self.casefolds:
                    found = [r.casefold() for r in found]
            else:
                found = []
                for v in values:
                    _allow_groups(v, found)
                if self.casefolds:
                    found = [[r.casefold() for r in g] for g in found]
            cache[ck] = found
        return found

    def evaluate(self, args: Any, cache: dict) -> Any:
        """True/False, or MAYBE when ``args`` is :class:`Unknown`."""
        if isinstance(args, Unknown):
            return _shape_presence(args.shape, self.keys)
        found = self.readings(args, cache)
        if found is None:
            return False
        if self.any_reading:
            for r in found:
                if self._test(r):
                    return True
            return False
        for group in found:
            for r in group:
                if not self._test(r):
                    return False
        return True

    def regexes(self) -> list[str]:
        """The condition's patterns as RE2 source, for batching into one automaton (see :class:`_Batch`)."""
        if self.kind == "regex":
            return list(self.patterns)
        out = []
        for p in self.patterns:
            for variant in _pattern_variants(p):
                out.append(glob_to_regex(variant.casefold() if self.fold else variant))
        return out

    def explain(self, args: Any) -> str | None:
        if isinstance(args, Unknown):
            return None
        values = _resolve_cached(args, self.key, self.keys, {})
        readings: list[str] = []
        for v in values:
            _deny_readings(v, readings)
        # Name the element that matched before the JSON text of the array/object holding it.
        readings.sort(key=lambda r: r[:1] in ("{", "["))
        for r in readings:
            probe = r.casefold() if self.fold and self.kind == "glob" else r
            for p in self.patterns:
                single = _ArgCondition(self.key, self.kind, [p], True, self.fold, ())
                if single._test(probe):
                    shown = r if len(r) <= 80 else r[:77] + "..."
                    what = "regex" if self.kind == "regex" else "glob"
                    return f"argument {self.key!r} = {shown!r} matched {what} {p!r}"
        return None


def _pattern_variants(pattern: str) -> list[str]:
    """A glob as written (NFKC, invisible characters removed) and, if it names a path, normalised the way
    values are, so ``~/.ssh/*`` and ``/etc/../etc/*`` in a rule mean the paths they spell."""
    p = clean_text(pattern)
    out = [p]
    if is_path_like(p) and not p.startswith("*"):
        n = normalize_path(p)
        if n not in out:
            out.append(n)
    return out


def _resolve(value: Any, keys: tuple | None) -> list:
    if keys is None:
        return [value]
    out: list = []
    stack = [(value, 0)]
    while stack:
        v, i = stack.pop()
        if i == len(keys):
            out.append(v)
            continue
        if isinstance(v, list):
            stack.extend((e, i) for e in reversed(v))
        elif isinstance(v, dict) and keys[i] in v:
            stack.append((v[keys[i]], i + 1))
    return out


def _resolve_cached(args: Any, key: str, keys: tuple | None, cache: dict) -> list:
    ck = ("v", key)
    values = cache.get(ck)
    if values is None:
        if args is None:
            values = []
        elif keys is None:
            values = [args]
        elif not isinstance(args, dict):
            values = []
        else:
            values = _resolve(args, keys)
            if len(keys) > 1 and key in args:  # an argument whose own name has a dot
                values = [args[key]] + values
        cache[ck] = values
    return values


def _shape_presence(shape: Any, keys: tuple | None) -> Any:
    if keys is None or not isinstance(shape, dict):
        return MAYBE
    v: Any = shape
    for k in keys:
        if isinstance(v, dict):
            if k not in v:
                return MAYBE if len(v) >= 50 else False  # the audit shape keeps at most 50 keys
            v = v[k]
        else:
            return MAYBE
    return MAYBE


def _leaves(value: Any, out: list) -> None:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(reversed(list(v.values())))
        elif isinstance(v, list):
            stack.extend(reversed(v))
        else:
            out.append(v)


def _str_readings(s: str, out: list) -> None:
    out.append(s)
    c = clean_text(s)
    if c != s:
        out.append(c)
    for x in (s, c) if c != s else (s,):
        if is_path_like(x):
            n = normalize_path(x)
            if n not in out:
                out.append(n)


def _deny_readings(value: Any, out: list) -> None:
    if isinstance(value, str):
        _str_readings(value, out)
    elif isinstance(value, (dict, list)):
        out.append(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
        leaves: list = []
        _leaves(value, leaves)
        for leaf in leaves:
            _deny_readings(leaf, out)
    elif value is None:
        out.extend(_NULL_READINGS)
    else:
        out.append(stringify(value))


# null reads as "" (how mcpgw compares it) and as "null" (its JSON text); an allow rule needs "null".
_NULL_READINGS = ("", "null")


def _wild_readings(value: Any, out: list) -> None:
    """``"*"``: every value anywhere, and every key (a payload can hide in a key as well as in a value)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            for k, item in v.items():
                _str_readings(k, out)
                stack.append(item)
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str):
            _str_readings(v, out)
        elif v is None:
            out.extend(_NULL_READINGS)
        else:
            out.append(stringify(v))


def _canonical(s: str) -> list[str]:
    c = clean_text(s)
    forms = [normalize_path(s) if is_path_like(s) else s]
    if c != s:
        cc = normalize_path(c) if is_path_like(c) else c
        if cc != forms[0]:
            forms.append(cc)
    return forms


def _allow_groups(value: Any, groups: list) -> None:
    if isinstance(value, str):
        groups.append(_canonical(value))
    elif isinstance(value, (dict, list)):
        leaves: list = []
        _leaves(value, leaves)
        if not leaves:
            groups.append([json.dumps(value, ensure_ascii=False, separators=(",", ":"))])
        for leaf in leaves:
            _allow_groups(leaf, groups)
    elif value is None:
        groups.append(["null"])
    else:
        groups.append([stringify(value)])


@dataclass(frozen=True)
class ApproveOptions:
    timeout: float = DEFAULT_APPROVAL_TIMEOUT
    on_timeout: str = "deny"
    channels: tuple[str, ...] = APPROVAL_CHANNELS
    remember: tuple[str, ...] = APPROVAL_REMEMBER


class Rule:
    """A compiled rule."""

    __slots__ = (
        "name", "index", "action", "mode", "reason", "description", "raw", "approve",
        "methods", "tools", "servers", "subjects", "roles", "directions", "risks", "conditions", "source",
    )

    def __init__(self, raw: dict, index: int, path: tuple, source: str = "policy") -> None:
        self.raw = raw
        self.index = index
        self.source = source
        check_keys(raw, _RULE_KEYS, path)
        if "name" not in raw:
            raise ConfigError("a rule needs a name", path=path)
        name = expect(raw["name"], (str, int), path + ("name",), "string")
        self.name = str(name)
        if not self.name.strip():
            raise ConfigError("a rule name must not be empty", path=path + ("name",))
        if "action" not in raw:
            raise ConfigError(f"rule {self.name!r} needs an action (allow, deny or approve)", path=path)
        self.action = _one_of(raw["action"], ACTIONS, path + ("action",))
        self.mode = _one_of(raw["mode"], MODES, path + ("mode",)) if "mode" in raw else None
        self.reason = expect(raw["reason"], str, path + ("reason",)) if "reason" in raw else None
        self.description = expect(raw["description"], str, path + ("description",)) if "description" in raw else None
        cs = raw.get("case_sensitive")
        if cs is not None:
            expect(cs, bool, path + ("case_sensitive",), "boolean")
        self.approve = self._parse_approve(raw, path)
        match = raw.get("match", {})
        if match is None:
            match = {}
        mpath = path + ("match",)
        expect(match, dict, mpath)
        check_keys(match, _MATCH_KEYS, mpath)
        names_fold = cs is not True
        self.methods = _Names(_str_list(match["methods"], mpath + ("methods",)), names_fold) if "methods" in match else None
        self.tools = _Names(_str_list(match["tools"], mpath + ("tools",)), names_fold) if "tools" in match else None
        self.servers = _Names(_str_list(match["servers"], mpath + ("servers",)), cs is False) if "servers" in match else None
        self.subjects = _Names(_str_list(match["subjects"], mpath + ("subjects",)), cs is False) if "subjects" in match else None
        self.roles = _Names(_str_list(match["roles"], mpath + ("roles",)), cs is False) if "roles" in match else None
        self.directions = None
        if "direction" in match:
            d = match["direction"]
            dlist = [d] if isinstance(d, str) else _str_list(d, mpath + ("direction",))
            for item in dlist:
                if item not in DIRECTIONS + ("both",):
                    raise ConfigError(f"direction must be c2s, s2c or both (got {item!r})", path=mpath + ("direction",))
            self.directions = None if "both" in dlist else frozenset(dlist)
        self.risks = None
        if "risk" in match:
            r = match["risk"]
            rlist = [r] if isinstance(r, str) else _str_list(r, mpath + ("risk",))
            for item in rlist:
                if item not in RISK_CLASSES:
                    raise ConfigError(f"risk must be one of {', '.join(RISK_CLASSES)} (got {item!r})", path=mpath + ("risk",))
            self.risks = frozenset(rlist)
        # Deny and approve catch any reading, case-insensitively; allow needs every canonical reading, exactly.
        any_reading = self.action != "allow"
        fold = (cs is not True) if any_reading else (cs is False)
        conditions: list[_ArgCondition] = []
        for field_name, kind in (("arguments", "glob"), ("argument_patterns", "regex")):
            if field_name not in match:
                continue
            fpath = mpath + (field_name,)
            spec = expect(match[field_name], dict, fpath)
            if not spec:
                raise ConfigError("must name at least one argument", path=fpath)
            for key, patterns in spec.items():
                kpath = fpath + (key,)
                if not isinstance(key, str) or (key != "*" and any(not part for part in key.split("."))):
                    raise ConfigError("an argument name must be a non-empty dot path or *", path=kpath)
                conditions.append(_ArgCondition(key, kind, _str_list(patterns, kpath), any_reading, fold, kpath))
        self.conditions = tuple(conditions)

    def _parse_approve(self, raw: dict, path: tuple) -> ApproveOptions | None:
        given = [k for k in _APPROVE_KEYS if k in raw]
        if self.action != "approve":
            if given:
                raise ConfigError(f"{given[0]} applies to action: approve only", path=path + (given[0],))
            return None
        opts: dict[str, Any] = {}
        if "timeout" in raw:
            t = expect(raw["timeout"], (int, float), path + ("timeout",), "number of seconds")
            if not 0 < t <= MAX_APPROVAL_TIMEOUT:
                raise ConfigError(f"timeout must be between 0 and {int(MAX_APPROVAL_TIMEOUT)} seconds", path=path + ("timeout",))
            opts["timeout"] = float(t)
        if "on_timeout" in raw:
            opts["on_timeout"] = _one_of(raw["on_timeout"], ("deny", "allow"), path + ("on_timeout",))
        for key, choices in (("channels", APPROVAL_CHANNELS), ("remember", APPROVAL_REMEMBER)):
            if key in raw:
                items = _str_list(raw[key], path + (key,))
                for i, item in enumerate(items):
                    if item not in choices:
                        raise ConfigError(f"must be one of {', '.join(choices)} (got {item!r})", path=path + (key, i))
                if len(set(items)) != len(items):
                    raise ConfigError("lists an entry twice", path=path + (key,))
                opts[key] = tuple(items)
        return ApproveOptions(**opts)

    # -- matching --
    def identity_match(self, server: str, subject: str, roles: tuple) -> bool:
        if self.servers is not None and not self.servers(server):
            return False
        if self.subjects is not None and not self.subjects(subject):
            return False
        if self.roles is not None and not any(self.roles(r) for r in roles):
            return False
        return True

    def message_match(self, direction: str, method: str, tool: str | None, risk: str | None) -> Any:
        if self.directions is not None and direction not in self.directions:
            return False
        if self.methods is not None and not self.methods(method):
            return False
        if self.tools is not None and not self.tools(tool):
            return False
        if self.risks is not None:
            if risk == UNKNOWN_RISK:
                return MAYBE
            if risk not in self.risks:
                return False
        return True

    def describe(self) -> str:
        return f"{self.name} ({self.action}{', ' + self.mode if self.mode else ''})"


def parse_rules(raw: Any, path: tuple = ("rules",), *, errors: list | None = None, source: str = "policy") -> tuple[Rule, ...]:
    """Compile a rule list. With ``errors`` given, collect every rule's error instead of raising the first."""
    expect(raw, list, path, "list of rules")
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw):
        p = path + (i,)
        try:
            expect(item, dict, p, "mapping (a rule)")
            rule = Rule(item, i, p, source)
            if rule.name in seen:
                raise ConfigError(f"duplicate rule name {rule.name!r} (also rule {seen[rule.name] + 1})", path=p + ("name",))
            seen[rule.name] = i
            rules.append(rule)
        except ConfigError as exc:
            if errors is None:
                raise
            errors.append(exc)
    return tuple(rules)


# --- calls and decisions ---------------------------------------------------------------------------------------------


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
        self.allowed_tools = _Names(list(allowed_tools), True) if allowed_tools is not None else None
        self.response_patterns = tuple(response_patterns)
        self.source = source
        self._subject_names = [(_Names([k], False), roles) for k, roles in self.subjects.items()]
        self._views: dict[tuple, PolicyView] = {}
        self._lock = threading.Lock()
        names: dict[str, str] = {}
        for r in self.rules:
            if r.name in names:
                raise ConfigError(f"rule name {r.name!r} is used by the {names[r.name]} and the {r.source}", path=("rules",))
            names[r.name] = r.source

    @classmethod
    def from_config(cls, config: Config, overrides: Iterable[Rule] = ()) -> "Policy":
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

    def view(self, server: str, subject: str, roles: Iterable[str] = ()) -> "PolicyView":
        """The rules that can apply to one identity (server, subject, roles incl. mapped ones), cached."""
        key = (server, subject, tuple(roles))
        v = self._views.get(key)
        if v is None:
            with self._lock:
                v = self._views.get(key) or PolicyView(self, server, subject, self.roles_for(subject, roles))
                self._views[key] = v
        return v


BATCH_MIN_CONDITIONS = 8  # this many argument conditions on one argument are matched by one RE2 set, not one by one
MAX_BATCH_MEMORY = 64 << 20  # bytes for one batched automaton; past this the conditions are tested one by one


class _Batch:
    """Many argument conditions on the same argument (same key, reading mode, case handling and kind), matched
    with one RE2 set: one linear pass per reading tells which of all their patterns match. With hundreds of
    rules on one tool this replaces hundreds of small matches by one."""

    __slots__ = ("conditions", "owner", "matcher", "index", "rule_pos")

    def __init__(self, conditions: list[_ArgCondition]) -> None:
        import re2

        self.conditions = conditions
        self.owner: list[int] = []  # pattern index → position of its condition
        options = re2.Options()
        options.log_errors = False
        options.max_mem = MAX_BATCH_MEMORY
        options.case_sensitive = not (conditions[0].kind == "regex" and conditions[0].fold)
        self.matcher = re2.Set.SearchSet(options)
        for pos, cond in enumerate(conditions):
            for rx in cond.regexes():
                self.matcher.Add(rx)
                self.owner.append(pos)
        self.matcher.Compile()
        self.index = {id(c): i for i, c in enumerate(conditions)}
        self.rule_pos: list[int] = []  # condition position → position of its rule among the candidates

    def _hits(self, reading: str) -> set[int]:
        owner = self.owner
        return {owner[i] for i in self.matcher.Match(reading) or ()}

    def hits(self, args: Any, cache: dict) -> set[int]:
        """Positions of the conditions that hold for ``args`` (computed once per decision)."""
        ck = ("batch", id(self))
        found = cache.get(ck)
        if found is not None:
            return found
        first = self.conditions[0]
        readings = first.readings(args, cache)
        if readings is None:
            found = set()
        elif first.any_reading:
            found = set()
            for r in readings:
                found |= self._hits(r)
        else:
            alive: set[int] | None = None
            for group in readings:
                for r in group:
                    h = self._hits(r)
                    alive = h if alive is None else alive & h
            found = set(range(len(self.conditions))) if alive is None else alive
        cache[ck] = found
        return found


class _Candidates:
    """The rules that can match one (direction, method, tool, risk), and their batched argument conditions."""

    __slots__ = ("items", "batches", "distinct", "fast", "first_unconditional")

    def __init__(self, items: tuple) -> None:
        self.items = items
        self.batches: dict[int, _Batch] | None = None
        self.distinct: list[_Batch] = []
        self.fast = False  # every condition batched and every static match certain: decide by set hits
        self.first_unconditional = len(items)

    def batch_of(self) -> dict[int, _Batch]:
        if self.batches is None:
            groups: dict[tuple, list[tuple[int, _ArgCondition]]] = {}
            for pos, (rule, _) in enumerate(self.items):
                for cond in rule.conditions:
                    groups.setdefault((cond.key, cond.any_reading, cond.casefolds, cond.kind, cond.fold), []).append((pos, cond))
            batches: dict[int, _Batch] = {}
            for members in groups.values():
                if len(members) >= BATCH_MIN_CONDITIONS:
                    try:
                        batch = _Batch([c for _, c in members])
                    except Exception:  # too large for one automaton: fall back to one match per condition
                        continue
                    batch.rule_pos = [pos for pos, _ in members]
                    for _, c in members:
                        batches[id(c)] = batch
            # Both pumps may get here at once: fill every field first, publish ``batches`` last.
            self.distinct = list({id(b): b for b in batches.values()}.values())
            self.first_unconditional = next((i for i, (rule, _) in enumerate(self.items) if not rule.conditions), len(self.items))
            self.fast = all(static is True for _, static in self.items) and all(
                id(c) in batches for rule, _ in self.items for c in rule.conditions
            )
            self.batches = batches
        return self.batches

    def first_match(self, args: Any, cache: dict) -> Rule | None:
        """Fast path: the rules worth checking are those one of whose conditions hit; the first of them whose
        conditions all hit wins, unless a rule without conditions comes before it."""
        assert self.batches is not None
        seen: set[int] = set()
        for batch in self.distinct:
            rule_pos = batch.rule_pos
            seen.update(rule_pos[i] for i in batch.hits(args, cache))
        batches = self.batches
        for pos in sorted(seen):
            if pos > self.first_unconditional:
                break
            rule = self.items[pos][0]
            if all(batches[id(c)].index[id(c)] in batches[id(c)].hits(args, cache) for c in rule.conditions):
                return rule
        return self.items[self.first_unconditional][0] if self.first_unconditional < len(self.items) else None


class PolicyView:
    """A policy for one identity. :meth:`decide` is the one evaluation function."""

    __slots__ = ("policy", "server", "subject", "roles", "rules", "_cache", "_default")

    def __init__(self, policy: Policy, server: str, subject: str, roles: tuple[str, ...]) -> None:
        self.policy = policy
        self.server = server
        self.subject = subject
        self.roles = roles
        self.rules = tuple(r for r in policy.rules if r.identity_match(server, subject, roles))
        self._cache: dict[tuple, tuple] = {}
        self._default = Decision(policy.default_action, None, policy.mode == "enforce")

    def rule_mode_enforces(self, rule: Rule) -> bool:
        return (rule.mode or self.policy.mode) == "enforce"

    def candidates(self, direction: str, method: str, tool: str | None, risk: str | None) -> _Candidates:
        key = (direction, method, tool, risk)
        found = self._cache.get(key)
        if found is None:
            found = _Candidates(tuple(
                (r, m) for r in self.rules for m in (r.message_match(direction, method, tool, risk),) if m is not False
            ))
            if tool is None or len(tool) <= MAX_CACHED_NAME:
                if len(self._cache) >= CANDIDATE_CACHE_SIZE:
                    self._cache.clear()
                self._cache[key] = found
        return found

    def decide(self, call: Call) -> Decision:
        """First match wins. With unknown arguments, a rule that may or may not match is noted and the walk
        goes on; the decision is undecided if the noted outcomes differ."""
        possible: list[tuple] = []
        cache: dict = {}
        args = call.arguments
        cands = self.candidates(call.direction, call.method, call.tool, call.risk)
        batches = cands.batch_of() if not isinstance(args, Unknown) and len(cands.items) >= BATCH_MIN_CONDITIONS else None
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
            text = cond.explain(call.arguments) if rule.action != "allow" else None
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


# --- the policy of a loaded configuration -------------------------------------------------------------------------------


def policy_of(config: Config, *, overrides: Iterable[Rule] | None = None) -> Policy:
    """The compiled policy of a configuration, with the overrides file's rules first unless ``overrides`` is
    given. Cached on the configuration while the overrides file is unchanged (one compile per reload)."""
    if overrides is not None:
        return Policy.from_config(config, overrides)
    stamp = _overrides_stamp()
    cached = getattr(config, "_mcpwrap_policy", None)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    policy = Policy.from_config(config, load_overrides())
    config._mcpwrap_policy = (stamp, policy)  # type: ignore[attr-defined]
    return policy


# --- overrides: "always" decisions a person made, kept apart from the policy file ---------------------------------------


def _overrides_stamp() -> tuple | None:
    try:
        st = os.stat(overrides_path())
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def load_overrides(path: str | os.PathLike | None = None, *, errors: list | None = None) -> tuple[Rule, ...]:
    """The rules of ``$MCPWRAP_HOME/policy.overrides.yaml`` (none if the file does not exist).

    Same rule format as the policy's ``rules``, in a file ``{version: v1, rules: [...]}``; evaluated before
    the policy file's rules. An unreadable or invalid file is a :class:`ConfigError` (fail closed).
    """
    from .._config import locate, read_yaml

    p = Path(path) if path is not None else overrides_path()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read overrides file: {exc}", file=str(p)) from None
    raw, positions = read_yaml(text, str(p))
    try:
        if raw is None or raw == {}:
            return ()
        expect(raw, dict, (), "mapping with a rules list")
        check_keys(raw, {"version", "rules"}, ())
        if "version" in raw:
            _parse_version(raw["version"], ("version",))
        collected: list | None = [] if errors is not None else None
        rules = parse_rules(raw.get("rules") or [], ("rules",), errors=collected, source="overrides file")
        if collected:
            errors.extend(locate(e, positions, str(p)) for e in collected)  # type: ignore[union-attr]
        return rules
    except ConfigError as exc:
        raise locate(exc, positions, str(p)) from None


def add_override_rule(rule: dict, *, path: str | os.PathLike | None = None) -> Path:
    """Append (or replace, by name) one rule in the overrides file, atomically and under a lock.

    Used for "always" answers to approval prompts, e.g.::

        add_override_rule({"name": "always-allow-echo@everything", "action": "allow",
                           "match": {"methods": ["tools/call"], "tools": ["echo"], "servers": ["everything"]}})

    The rule is validated with the policy's own parser first (a ConfigError if invalid). Running wrappers
    notice the changed file and reload. Returns the file's path.
    """
    import yaml

    Rule(rule, 0, ("rule",), "overrides file")  # validate before touching the file
    p = Path(path) if path is not None else overrides_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    lock_path = p.with_name(p.name + ".lock")
    with open(lock_path, "a+") as lock:
        try:
            import fcntl

            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - Windows: the atomic rename still prevents torn files
            pass
        existing: dict = {}
        if p.exists():
            load_overrides(p)  # refuse to build on an invalid file
            existing = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        rules = [r for r in existing.get("rules") or [] if r.get("name") != rule["name"]]
        rules.append(rule)
        doc = {"version": "v1", "rules": rules}
        text = (
            "# Decisions a person made to always allow or deny a call (mcpwrap approvals).\n"
            "# Same format as the policy's rules; evaluated before them. Safe to edit or delete.\n"
        ) + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    return p



# The policy-file sections this module owns (declared by the interceptor that uses them).
VERSION_SECTION = Section("version", _parse_version, default=lambda: "v1", doc="policy format version (only v1)")
MODE_SECTION = Section("mode", _parse_mode, default=lambda: "enforce", doc="enforce, or audit: record decisions without applying them")
DEFAULT_ACTION_SECTION = Section("default_action", _parse_default_action, default=lambda: None, doc="allow or deny when no rule matches")
SUBJECTS_SECTION = Section("subjects", _parse_subjects, default=dict, doc="subject (glob) → list of roles")
ALLOWED_TOOLS_SECTION = Section("allowed_tools", _parse_allowed_tools, default=lambda: None, doc="(mcpgw) globs of the tools a server may list; any other blocks the listing")
RESPONSE_PATTERNS_SECTION = Section("response_patterns", _parse_response_patterns, default=tuple, doc="(mcpgw) RE2 patterns; a server message matching one is blocked")
RULES_SECTION = Section("rules", _parse_rules_section, default=lambda: None, doc="admission rules, first match wins")
POLICY_SECTIONS: tuple[Section, ...] = (
    VERSION_SECTION, MODE_SECTION, DEFAULT_ACTION_SECTION, SUBJECTS_SECTION, RULES_SECTION, ALLOWED_TOOLS_SECTION, RESPONSE_PATTERNS_SECTION,
)
