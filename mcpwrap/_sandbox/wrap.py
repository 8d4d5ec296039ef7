"""The sandbox in ``mcpwrap wrap``: settings before the spawn, and the check once the policy is loaded.

mcpwrap starts the server before it loads its policy (the server boots meanwhile). The sandbox must be in
place at that start, so its settings are read first, cheaply (:func:`spawn_settings`): a policy whose text
cannot hold a ``sandbox`` section or a relocated audit log, key, pins or approvals (no such words outside
comments, no escapes or unusual YAML that could spell them: :func:`_needs_parse`) needs no YAML parser at all — the defaults apply; otherwise the
file is parsed with the C YAML loader. Once the full policy is loaded, :func:`confirm` compares what the
server got with what the policy says; a difference (a spelling the quick read did not see) restarts the
server with the right sandbox before any message has reached it, and the audit log says so.
"""

from __future__ import annotations

import os
from typing import Any

from .._config import ConfigError
from .._paths import home as mcpwrap_home
from .._paths import overrides_path, resolve_policy_path
from .plan import SandboxPlan, prepare
from .settings import SandboxSettings, parse_sandbox

__all__ = ["spawn_settings", "protected_paths", "plan_for", "confirm"]

# The keys of other sections that move mcpwrap's files (they must be protected from the server's start on).
_RELOCATING = {"audit": ("path", "key_file"), "integrity": ("pins_dir",), "approval": ("queue",)}
_UNUSUAL_START = tuple("{[&*!%?|>@`\"'")


def _escape_in_double_quotes(line: str) -> bool:
    """A backslash inside a double-quoted part of the line (or ending it): where YAML reads escapes."""
    quote = ""
    for ch in line:
        if quote == '"' and ch == "\\":
            return True
        if ch in "'\"":
            quote = "" if quote == ch else (quote or ch)
    return line.endswith("\\")


def _needs_parse(text: str) -> bool:
    """Whether the policy text may hold a ``sandbox`` section or a relocated mcpwrap file (then it is parsed
    before the spawn). A line scan, conservative: an escape in a double-quoted line (it could spell a key), the word
    ``sandbox`` outside comments, unusual YAML at the top level (flow mappings, anchors, tags, explicit keys,
    quoted keys), an alias or merge key inside a relocating section, or one of its keys. What a stranger
    spelling slips past is caught by :func:`confirm` (a restart before any message)."""
    section = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "sandbox" in line or ("\\" in line and _escape_in_double_quotes(line)):
            return True
        if line[0] not in " \t":
            if stripped in ("---", "..."):
                continue
            if line.startswith(_UNUSUAL_START) or stripped.startswith("<<"):
                return True
            section, _, line = stripped.partition(":")
        words = _RELOCATING.get(section.strip(), ())
        if words and (any(w in line for w in words) or "*" in line or "<<" in line):
            return True
    return False


def _read_policy(policy_path: str | None) -> tuple[dict | None, str | None]:
    """The decoded policy document when its text may matter for the sandbox, else None."""
    if policy_path is None:
        return None, None
    try:
        with open(policy_path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return None, None  # the full load reports it; the defaults apply to the start meanwhile
    if not _needs_parse(text):
        return None, text
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        raw = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return None, text
    return raw if isinstance(raw, dict) else None, text


def spawn_settings(policy_path: str | None) -> tuple[SandboxSettings, dict]:
    """The sandbox settings to start with, and the raw policy document (or {}) for :func:`protected_paths`.

    A section that does not parse falls back to the defaults here; the full load then refuses the policy.
    """
    raw, _text = _read_policy(policy_path)
    raw = raw or {}
    try:
        return parse_sandbox(raw.get("sandbox")), raw
    except ConfigError:
        return SandboxSettings(), raw


def protected_paths(policy_path: str | None, audit_log: str | None, raw: Any) -> list[str]:
    """mcpwrap's own files for this session: never granted to the server, whatever the policy says."""
    # The default home as well as this session's: a per-project MCPWRAP_HOME must not open the person's own
    # ~/.mcpwrap (its audit key seals their main log).
    paths = [str(mcpwrap_home()), str(overrides_path()), os.path.join(os.path.expanduser("~"), ".mcpwrap")]
    if policy_path:
        paths.append(policy_path)
    if audit_log:
        paths += [audit_log, audit_log + ".*"]
    if isinstance(raw, dict):
        for section, key in (("audit", "path"), ("audit", "key_file"), ("integrity", "pins_dir"), ("approval", "queue")):
            value = raw.get(section, {}).get(key) if isinstance(raw.get(section), dict) else None
            if isinstance(value, str) and value:
                paths.append(value)
                if key == "path":
                    paths.append(value + ".*")
    return [os.path.expanduser(p) for p in paths]


def to_create(audit_log: str | None, raw: Any) -> list[str]:
    """mcpwrap's files that must exist before the server starts (Landlock protects inodes; see plan.py)."""
    paths = [str(mcpwrap_home()) + "/"]
    audit = raw.get("audit") if isinstance(raw, dict) else None
    path = audit_log or (audit.get("path") if isinstance(audit, dict) else None)
    if isinstance(path, str) and path:
        paths.append(os.path.expanduser(path))
    return paths


def plan_for(command: list[str], server: str, policy: str | None, audit_log: str | None) -> SandboxPlan:
    policy_path = resolve_policy_path(policy)
    settings, raw = spawn_settings(policy_path)
    return _plan(command, server, settings, protected_paths(policy_path, audit_log, raw), to_create(audit_log, raw))


def _plan(command: list[str], server: str, settings: SandboxSettings, protect: list[str], create: list[str]) -> SandboxPlan:
    from glob import glob

    expanded: list[str] = []
    for p in protect:
        expanded += glob(p) if "*" in p else [p]
    plan = prepare(command, None, None, settings.for_server(server), server, protect=expanded, create=create)
    plan.settings_source = settings
    plan.protect_source = protect
    return plan


def confirm(plan: SandboxPlan, config: Any, command: list[str], server: str, policy: str | None, audit_log: str | None) -> SandboxPlan | None:
    """After the full policy load: None when ``plan`` is what the policy says, else the plan to restart with."""
    settings = config["sandbox"] if "sandbox" in getattr(config, "sections", {}) else SandboxSettings()
    policy_path = resolve_policy_path(policy)
    raw = getattr(config, "raw", {}) or {}
    protect = protected_paths(policy_path, audit_log, raw)
    if settings.for_server(server) == plan.settings and set(protect) <= set(plan.protect_source):
        return None
    return _plan(command, server, settings, protect, to_create(audit_log, raw))

