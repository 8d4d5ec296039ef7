"""Policy rules: what one rule says, compiled once, and how it matches a message.

::

    rules:
      - name: no-secrets            # required, unique (also across the overrides file)
        action: deny                # allow | deny | approve
        mode: audit                 # optional: overrides the file's mode for this rule
        reason: "..."               # optional: the block reason shown to the client
        case_sensitive: true        # optional (see below)
        match: {methods, tools, servers, subjects, roles, direction, risk, arguments, argument_patterns, exact}
        timeout: 120                # approve only: timeout, on_timeout, channels, remember

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
- Values are compared in several readings (:mod:`mcpwrap._policy.readings`). A **deny** or **approve** rule
  matches when *any* reading of *any* element matches, case-insensitively; an **allow** rule matches only
  when *every* element's canonical readings match, case-sensitively. So a spelling trick can make a deny
  rule fire, never an allow rule. Globs in a rule that name a path are normalised the way values are.
- ``exact`` (:mod:`mcpwrap._policy.exact`) matches one call and nothing else: literal server, tool and
  subject, and the canonical digest of the whole arguments object. "Remember always" writes it.
- ``mode`` on a rule overrides the file's ``mode``.

Matching is three-valued where something is not known: a ``risk`` condition on a tool of unknown class
(:data:`UNKNOWN_RISK`), or an argument condition on :class:`~mcpwrap._policy.readings.Unknown` arguments,
gives :data:`~mcpwrap._policy.readings.MAYBE`; :mod:`mcpwrap._policy.engine` turns that into an undecided
outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._config import check_keys, expect
from .._errors import ConfigError
from .._message import APPROVAL_CHANNELS, APPROVAL_REMEMBER, DEFAULT_APPROVAL_TIMEOUT
from .._re2 import RegexError, compile_regex
from .exact import ExactCall
from .normalize import clean_text, compile_glob, glob_to_regex, is_path_like, normalize_path
from .readings import MAYBE, Recorded, Unknown, allow_groups, deny_readings, has_redaction, resolve, shape_presence, wild_readings
from .risk import RISK_CLASSES
from .terms import ACTIONS, DIRECTIONS, MODES, NameSet, one_of, str_list

__all__ = ["Rule", "ArgCondition", "ApproveOptions", "parse_rules", "UNKNOWN_RISK", "MAX_APPROVAL_TIMEOUT"]

MAX_APPROVAL_TIMEOUT = 24 * 3600.0
UNKNOWN_RISK = "?"  # the risk class of a tool that was never listed: a risk condition may or may not match

_RULE_KEYS = {"name", "description", "action", "mode", "reason", "match", "case_sensitive", "timeout", "on_timeout", "channels", "remember"}
_APPROVE_KEYS = ("timeout", "on_timeout", "channels", "remember")
_MATCH_KEYS = {"methods", "tools", "servers", "subjects", "roles", "direction", "risk", "arguments", "argument_patterns", "exact"}


class ArgCondition:
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
        values = resolve(args, self.key, self.keys, cache)
        if not values:
            return None
        ck = (self.key, self.any_reading, self.casefolds)
        found = cache.get(ck)
        if found is None:
            found = self._readings_of(values)
            cache[ck] = found
        return found

    def _readings_of(self, values: list) -> list:
        found: list = []
        if self.any_reading:
            for v in values:
                if self.keys is None:
                    wild_readings(v, found)
                else:
                    deny_readings(v, found)
            return [r.casefold() for r in found] if self.casefolds else found
        for v in values:
            allow_groups(v, found)
        return [[r.casefold() for r in g] for g in found] if self.casefolds else found

    def _evaluate_recorded(self, args: Recorded) -> Any:
        """On arguments recorded with secrets redacted: decided on the elements that hold no redaction; MAYBE
        when an element that does could change the answer."""
        values = resolve(args.value, self.key, self.keys, {})
        if not values:
            return False  # the record holds every key the call had (a redacted key is never a rule's name)
        known = [v for v in values if not has_redaction(v)]
        hidden = len(known) < len(values)
        result = self._match(self._readings_of(known)) if known else (False if self.any_reading else True)
        if self.any_reading:  # any element may match: a known match decides; otherwise a hidden one might
            return True if result else (MAYBE if hidden else False)
        return False if not result else (MAYBE if hidden else True)  # every element must match

    def evaluate(self, args: Any, cache: dict) -> Any:
        """True/False, or MAYBE when ``args`` is :class:`Unknown` (or :class:`Recorded` and it depends on a
        redacted value)."""
        if isinstance(args, Recorded):
            return self._evaluate_recorded(args)
        if isinstance(args, Unknown):
            return shape_presence(args.shape, self.keys)
        found = self.readings(args, cache)
        if found is None:
            return False
        return self._match(found)

    def _match(self, found: list) -> bool:
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
        """The condition's patterns as RE2 source, for batching into one automaton (see :mod:`mcpwrap._policy.batch`)."""
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
        values = resolve(args, self.key, self.keys, {})
        readings: list[str] = []
        for v in values:
            deny_readings(v, readings)
        # Name the element that matched before the JSON text of the array/object holding it.
        readings.sort(key=lambda r: r[:1] in ("{", "["))
        for r in readings:
            probe = r.casefold() if self.fold and self.kind == "glob" else r
            for p in self.patterns:
                single = ArgCondition(self.key, self.kind, [p], True, self.fold, ())
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


@dataclass(frozen=True)
class ApproveOptions:
    """What an ``approve`` rule asks for: how long to wait, what a timeout means, the channels a person is
    asked on, and what the person may choose to remember."""

    timeout: float = DEFAULT_APPROVAL_TIMEOUT
    on_timeout: str = "deny"
    channels: tuple[str, ...] = APPROVAL_CHANNELS
    remember: tuple[str, ...] = APPROVAL_REMEMBER


class Rule:
    """A compiled rule."""

    __slots__ = (
        "name", "index", "action", "mode", "reason", "description", "raw", "approve",
        "methods", "tools", "servers", "subjects", "roles", "directions", "risks", "conditions", "source", "exact",
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
        self.action = one_of(raw["action"], ACTIONS, path + ("action",))
        self.mode = one_of(raw["mode"], MODES, path + ("mode",)) if "mode" in raw else None
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
        self.methods = NameSet(str_list(match["methods"], mpath + ("methods",)), names_fold) if "methods" in match else None
        self.tools = NameSet(str_list(match["tools"], mpath + ("tools",)), names_fold) if "tools" in match else None
        self.servers = NameSet(str_list(match["servers"], mpath + ("servers",)), cs is False) if "servers" in match else None
        self.subjects = NameSet(str_list(match["subjects"], mpath + ("subjects",)), cs is False) if "subjects" in match else None
        self.roles = NameSet(str_list(match["roles"], mpath + ("roles",)), cs is False) if "roles" in match else None
        self.directions = None
        if "direction" in match:
            d = match["direction"]
            dlist = [d] if isinstance(d, str) else str_list(d, mpath + ("direction",))
            for item in dlist:
                if item not in DIRECTIONS + ("both",):
                    raise ConfigError(f"direction must be c2s, s2c or both (got {item!r})", path=mpath + ("direction",))
            self.directions = None if "both" in dlist else frozenset(dlist)
        self.risks = None
        if "risk" in match:
            r = match["risk"]
            rlist = [r] if isinstance(r, str) else str_list(r, mpath + ("risk",))
            for item in rlist:
                if item not in RISK_CLASSES:
                    raise ConfigError(f"risk must be one of {', '.join(RISK_CLASSES)} (got {item!r})", path=mpath + ("risk",))
            self.risks = frozenset(rlist)
        # Deny and approve catch any reading, case-insensitively; allow needs every canonical reading, exactly.
        any_reading = self.action != "allow"
        fold = (cs is not True) if any_reading else (cs is False)
        conditions: list[ArgCondition | ExactCall] = []
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
                conditions.append(ArgCondition(key, kind, str_list(patterns, kpath), any_reading, fold, kpath))
        self.exact = ExactCall(match["exact"], mpath + ("exact",)) if "exact" in match else None
        if self.exact is not None:
            conditions.append(self.exact)  # its arguments test: the digest (never batched, see batch.py)
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
            opts["on_timeout"] = one_of(raw["on_timeout"], ("deny", "allow"), path + ("on_timeout",))
        for key, choices in (("channels", APPROVAL_CHANNELS), ("remember", APPROVAL_REMEMBER)):
            if key in raw:
                items = str_list(raw[key], path + (key,))
                for i, item in enumerate(items):
                    if item not in choices:
                        raise ConfigError(f"must be one of {', '.join(choices)} (got {item!r})", path=path + (key, i))
                if len(set(items)) != len(items):
                    raise ConfigError("lists an entry twice", path=path + (key,))
                opts[key] = tuple(items)
        return ApproveOptions(**opts)

    # -- matching --
    def identity_match(self, server: str, subject: str, roles: tuple) -> bool:
        """Whether the rule can apply to this identity at all (decided once per policy view)."""
        if self.servers is not None and not self.servers(server):
            return False
        if self.subjects is not None and not self.subjects(subject):
            return False
        if self.roles is not None and not any(self.roles(r) for r in roles):
            return False
        if self.exact is not None and not self.exact.identity_match(server, subject):
            return False
        return True

    def message_match(self, direction: str, method: str, tool: str | None, risk: str | None) -> Any:
        """True, False, or MAYBE (a risk condition on a tool of unknown class); arguments are not looked at."""
        if self.directions is not None and direction not in self.directions:
            return False
        if self.methods is not None and not self.methods(method):
            return False
        if self.tools is not None and not self.tools(tool):
            return False
        if self.exact is not None and not self.exact.message_match(method, tool):
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
