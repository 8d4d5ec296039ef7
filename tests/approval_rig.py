"""Stand-in for the policy's ``approve`` rules in the approval tests, loaded into the real mcpwrap process.

``python -m mcpwrap.testing wrap …`` with ``MCPWRAP_TEST_HOOKS=approval_rig:NoteSetter,
mcpwrap.interceptors.approval:ApprovalInterceptor`` (and this directory on PYTHONPATH) puts a
requirement-setting interceptor in front of a second approval interceptor, exactly as the policy interceptor
does for a rule with ``action: approve``. ``MCPWRAP_TEST_APPROVAL`` (JSON) says which calls need approval and
with which options::

    {"tools": ["echo"], "timeout": 30, "on_timeout": "deny", "channels": ["elicitation"], "remember": ["once"]}
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from mcpwrap._chain import ChainContext, Interceptor
from mcpwrap._message import ApprovalNeed, Direction

ENV = "MCPWRAP_TEST_APPROVAL"
HOOKS = "approval_rig:NoteSetter,mcpwrap.interceptors.approval:ApprovalInterceptor"


class NoteSetter(Interceptor):
    name = "test-approve-rule"

    def __init__(self, context: ChainContext) -> None:
        super().__init__(context)
        script = json.loads(os.environ.get(ENV, "{}"))
        self.tools = set(script.get("tools", ()))
        self.need = ApprovalNeed(
            rule=script.get("rule", "confirm-test"),
            reason=script.get("reason", "test rule: a person must confirm"),
            timeout=float(script.get("timeout", 30)),
            on_timeout=script.get("on_timeout", "deny"),
            channels=tuple(script.get("channels", ["elicitation", "stateless", "terminal"])),
            remember=tuple(script.get("remember", ["once", "session", "always"])),
        )

    def inspect(self, msg):
        if msg.direction is Direction.CLIENT_TO_SERVER and msg.is_request and msg.tool_name in self.tools:
            msg.notes.approval = self.need
        return None


# --- the person's screen: a desktop notification command that records what it shows ---------------------------------

NOTIFICATIONS = "notifications.log"
_RECORD_END = "\x1e"


def fake_notifier(directory: Path, *, works: bool = True) -> Path:
    """A ``notify-send`` in ``directory`` that records each notification in ``directory/notifications.log`` (what
    the person sees) — or, with ``works=False``, fails as it does without a notification service. Returns the
    directory, to put first on PATH."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "notify-send"
    if works:
        script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{directory / NOTIFICATIONS}"\nprintf "{_RECORD_END}\\n" >> "{directory / NOTIFICATIONS}"\n')
    else:
        script.write_text('#!/bin/sh\necho "GDBus.Error: Cannot autolaunch D-Bus without X11 $DISPLAY" >&2\nexit 1\n')
    script.chmod(0o755)
    return directory


def notifications(directory: Path) -> list[str]:
    log = directory / NOTIFICATIONS
    if not log.exists():
        return []
    return [record.strip("\n") for record in log.read_text().split(_RECORD_END + "\n") if record.strip()]


def code_in(text: str) -> tuple[str, str] | None:
    """(approval id, one-time code) from what a notification or form shows, or None."""
    found = re.search(r"mcpwrap approve ([0-9a-f]{8})\b.*?code[: ]+([0-9A-Z]{4}-[0-9A-Z]{4})", text, re.S)
    return (found.group(1), found.group(2)) if found else None


def wait_for_code(directory: Path, timeout: float = 20.0) -> tuple[str, str]:
    """The approval id and code of the first notification that carries one (what the person reads)."""
    deadline = time.monotonic() + timeout
    while True:
        for text in notifications(directory):
            found = code_in(text)
            if found:
                return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no notification with a code within {timeout} s: {notifications(directory)}")
        time.sleep(0.05)
