"""How held calls wait for a person: the ``approval`` policy section, and the requirement one call carries."""

from __future__ import annotations

import os
from typing import Any

from ..._config import ConfigError, Section, check_keys, expect
from ..._message import APPROVAL_CHANNELS, DEFAULT_APPROVAL_TIMEOUT, ApprovalNeed
from ..._state.approvals import REMEMBER_CHOICES

__all__ = [
    "APPROVAL_SECTION",
    "ApprovalRequirement",
    "ApprovalSettings",
    "DEFAULT_MAX_WAIT_WITHOUT_PROGRESS",
    "DEFAULT_PROGRESS_INTERVAL",
    "INPUT_KEY",
    "ON_TIMEOUT",
    "STATELESS_METHODS",
    "TERMINAL_POLL_INTERVAL",
    "CONTINUATION_SECONDS",
]

ON_TIMEOUT = ("deny", "allow")
# The TypeScript SDK (most clients) fails a request after 60 s unless it was sent with a longer timeout;
# answering a little before keeps the client from giving up on a call mcpwrap still holds.
DEFAULT_MAX_WAIT_WITHOUT_PROGRESS = 55.0
DEFAULT_PROGRESS_INTERVAL = 10.0
TERMINAL_POLL_INTERVAL = 0.2  # how often a held call looks for a decision written by `mcpwrap approve`
# Server rounds of an approved stateless call: the client's retry carrying the server's requestState continues
# the approved call once, within this many seconds of the server's answer (the person may be answering the
# server's own form meanwhile).
CONTINUATION_SECONDS = 300.0
INPUT_KEY = "mcpwrap.approval"  # the key of mcpwrap's input request in a stateless input_required result
STATELESS_METHODS = ("tools/call", "prompts/get", "resources/read")  # the methods that may be input_required


class ApprovalSettings:
    __slots__ = ("default_timeout", "max_wait_without_progress", "progress_interval", "queue", "desktop_notification")

    def __init__(self) -> None:
        self.default_timeout = DEFAULT_APPROVAL_TIMEOUT
        self.max_wait_without_progress = DEFAULT_MAX_WAIT_WITHOUT_PROGRESS
        self.progress_interval = DEFAULT_PROGRESS_INTERVAL
        self.queue: str | None = None
        # The notification carries the one-time code to a person when the client's form does not: without it,
        # a call the form cannot reach is denied (see notify.py).
        self.desktop_notification = True


def _positive(raw: Any, path: tuple) -> float:
    value = expect(raw, (int, float), path, "number")
    if value <= 0:
        raise ConfigError("must be a positive number of seconds", path=path)
    return float(value)


def _parse_approval(raw: Any, path: tuple) -> ApprovalSettings:
    expect(raw, dict, path)
    check_keys(raw, set(ApprovalSettings.__slots__), path)
    s = ApprovalSettings()
    for key in ("default_timeout", "max_wait_without_progress", "progress_interval"):
        if key in raw:
            setattr(s, key, _positive(raw[key], path + (key,)))
    if "queue" in raw:
        s.queue = os.path.expanduser(expect(raw["queue"], str, path + ("queue",)))
    if "desktop_notification" in raw:
        s.desktop_notification = expect(raw["desktop_notification"], bool, path + ("desktop_notification",))
    return s


APPROVAL_SECTION = Section("approval", _parse_approval, default=ApprovalSettings, doc="how held calls wait for a person (rules with action approve)")


class ApprovalRequirement:
    """The policy's requirement, checked: a malformed one raises, and the chain blocks the call (fail closed)."""

    __slots__ = ("rule", "timeout", "on_timeout", "channels", "remember", "reason")

    def __init__(self, need: ApprovalNeed, settings: ApprovalSettings) -> None:
        if not isinstance(need, ApprovalNeed):
            raise TypeError("the approval requirement is not an ApprovalNeed")
        self.rule = need.rule or "approve"
        timeout = need.timeout
        self.timeout = float(timeout) if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0 else settings.default_timeout
        self.on_timeout = need.on_timeout or "deny"
        if self.on_timeout not in ON_TIMEOUT:
            raise ValueError(f"on_timeout must be one of {', '.join(ON_TIMEOUT)}")
        channels = list(need.channels) or list(APPROVAL_CHANNELS)
        remember = list(need.remember) or ["once"]
        if any(c not in APPROVAL_CHANNELS for c in channels):
            raise ValueError(f"channels must be a list of {', '.join(APPROVAL_CHANNELS)}")
        if any(r not in REMEMBER_CHOICES for r in remember):
            raise ValueError(f"remember must be a list of {', '.join(REMEMBER_CHOICES)}")
        self.channels: list[str] = list(dict.fromkeys(channels))
        self.remember: list[str] = list(dict.fromkeys(["once", *remember]))  # approving just this call is always possible
        self.reason = need.reason or ""
