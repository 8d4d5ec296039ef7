"""The admission-control sections of the policy file (top-level keys), each with its parser.

::

    version: v1                # optional; only "v1" exists
    mode: enforce | audit      # audit: record what would have been decided, let everything pass
    default_action: allow | deny   # when no rule matches (default: deny if the file has rules, else allow)
    subjects: {alice: [admin]} # subject (glob) → roles
    rules: [...]               # first match wins (see mcpwrap._policy.rules)
    allowed_tools: [globs]     # mcpgw: a tools/list result naming another tool is blocked
    response_patterns: [re]    # mcpgw: a server message matching one of these RE2 patterns is blocked

``rate_limits`` is declared by :mod:`mcpwrap._policy.ratelimit`. The policy interceptor declares these
sections (:data:`POLICY_SECTIONS`); :class:`mcpwrap._policy.engine.Policy` compiles their values.
"""

from __future__ import annotations

from typing import Any

from .._config import Section, expect
from .._errors import ConfigError
from .._re2 import RegexError, compile_regex
from .rules import Rule, parse_rules
from .terms import MODES, one_of, str_list

__all__ = [
    "parse_version",
    "VERSION_SECTION",
    "MODE_SECTION",
    "DEFAULT_ACTION_SECTION",
    "SUBJECTS_SECTION",
    "RULES_SECTION",
    "ALLOWED_TOOLS_SECTION",
    "RESPONSE_PATTERNS_SECTION",
    "POLICY_SECTIONS",
]


def parse_version(raw: Any, path: tuple) -> str:
    """The format version: only ``v1`` (also written ``1``). Used by the overrides file too."""
    value = expect(raw, (str, int), path, "string")
    if str(value) not in ("v1", "1"):
        raise ConfigError(f'unsupported version {value!r} (expected "v1")', path=path)
    return "v1"


def _parse_mode(raw: Any, path: tuple) -> str:
    return one_of(raw, MODES, path)


def _parse_default_action(raw: Any, path: tuple) -> str:
    return one_of(raw, ("allow", "deny"), path)


def _parse_subjects(raw: Any, path: tuple) -> dict[str, tuple[str, ...]]:
    expect(raw, dict, path)
    out: dict[str, tuple[str, ...]] = {}
    for subject, roles in raw.items():
        p = path + (subject,)
        if not isinstance(subject, str) or not subject:
            raise ConfigError("a subject must be a non-empty string", path=p)
        out[subject] = tuple(str_list(roles, p))
    return out


def _parse_allowed_tools(raw: Any, path: tuple) -> tuple[str, ...]:
    return tuple(str_list(raw, path))


def _parse_response_patterns(raw: Any, path: tuple) -> tuple[tuple[str, Any], ...]:
    out = []
    for i, pattern in enumerate(str_list(raw, path)):
        try:
            out.append((pattern, compile_regex(pattern).search))
        except RegexError as exc:
            raise ConfigError(f"invalid regular expression {pattern!r}: {exc}", path=path + (i,)) from None
    return tuple(out)


def _parse_rules_section(raw: Any, path: tuple) -> tuple[Rule, ...]:
    return parse_rules(raw, path)


VERSION_SECTION = Section("version", parse_version, default=lambda: "v1", doc="policy format version (only v1)")
MODE_SECTION = Section("mode", _parse_mode, default=lambda: "enforce", doc="enforce, or audit: record decisions without applying them")
DEFAULT_ACTION_SECTION = Section("default_action", _parse_default_action, default=lambda: None, doc="allow or deny when no rule matches")
SUBJECTS_SECTION = Section("subjects", _parse_subjects, default=dict, doc="subject (glob) → list of roles")
ALLOWED_TOOLS_SECTION = Section(
    "allowed_tools", _parse_allowed_tools, default=lambda: None, doc="(mcpgw) globs of the tools a server may list; any other blocks the listing"
)
RESPONSE_PATTERNS_SECTION = Section(
    "response_patterns", _parse_response_patterns, default=tuple, doc="(mcpgw) RE2 patterns; a server message matching one is blocked"
)
RULES_SECTION = Section("rules", _parse_rules_section, default=lambda: None, doc="admission rules, first match wins")
POLICY_SECTIONS: tuple[Section, ...] = (
    VERSION_SECTION,
    MODE_SECTION,
    DEFAULT_ACTION_SECTION,
    SUBJECTS_SECTION,
    RULES_SECTION,
    ALLOWED_TOOLS_SECTION,
    RESPONSE_PATTERNS_SECTION,
)
