"""Where mcpwrap keeps its files: ``MCPWRAP_HOME`` and every default path beneath it.

``MCPWRAP_HOME`` (default ``~/.mcpwrap``) holds::

    policy.yaml             the policy `mcpwrap wrap` uses when no --policy is given
    policy.overrides.yaml   "always" answers to approval prompts (rules evaluated before the policy's)
    audit.jsonl             the audit log (rotated files beside it), audit.jsonl.lock the writers' lock
    audit.key               the audit log's HMAC key (0600)
    approval.key            the key that seals stateless approval state (0600)
    pins/                   pinned tool definitions, one file per server
    approvals/              calls waiting for a person's decision
    backups/                the previous version of every client configuration file mcpwrap rewrote
    locks/                  lock files for client configuration edits

Every path is also a command-line flag (or a policy key), so tests never touch a real home. This module is
the only place that knows these names; it imports nothing of mcpwrap.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "HOME_ENV",
    "home",
    "default_policy_path",
    "overrides_path",
    "default_audit_path",
    "audit_key_path",
    "approval_key_path",
    "pins_dir",
    "approvals_dir",
    "backups_dir",
    "locks_dir",
    "resolve_policy_path",
]

HOME_ENV = "MCPWRAP_HOME"
POLICY_FILE = "policy.yaml"
OVERRIDES_FILE = "policy.overrides.yaml"
AUDIT_FILE = "audit.jsonl"
AUDIT_KEY_FILE = "audit.key"
APPROVAL_KEY_FILE = "approval.key"


def home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".mcpwrap")


def default_policy_path() -> Path:
    return home() / POLICY_FILE


def overrides_path() -> Path:
    return home() / OVERRIDES_FILE


def default_audit_path() -> Path:
    return home() / AUDIT_FILE


def audit_key_path() -> Path:
    return home() / AUDIT_KEY_FILE


def approval_key_path() -> Path:
    return home() / APPROVAL_KEY_FILE


def pins_dir() -> Path:
    return home() / "pins"


def approvals_dir() -> Path:
    return home() / "approvals"


def backups_dir() -> Path:
    return home() / "backups"


def locks_dir() -> Path:
    return home() / "locks"


def resolve_policy_path(explicit: str | os.PathLike | None) -> str | None:
    """The policy file ``wrap`` uses: the flag, else ``$MCPWRAP_HOME/policy.yaml`` if present, else None
    (the built-in default)."""
    if explicit:
        return os.fspath(explicit)
    p = default_policy_path()
    return str(p) if p.is_file() else None
