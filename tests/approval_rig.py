"""Stand-in for the policy's ``approve`` rules in the approval tests, loaded into the real mcpwrap process.

``MCPWRAP_EXTRA_INTERCEPTORS=approval_rig:build,mcpwrap.interceptors.approval:build`` (with this directory on
PYTHONPATH) puts a note-setting interceptor in front of a second approval interceptor, exactly as the policy
interceptor does for a rule with ``action: approve``. ``MCPWRAP_TEST_APPROVAL`` (JSON) says which calls need
approval and with which options::

    {"tools": ["echo"], "timeout": 30, "on_timeout": "deny", "channels": ["elicitation"], "remember": ["once"]}
"""

from __future__ import annotations

import json
import os

from mcpwrap._chain import Interceptor

ENV = "MCPWRAP_TEST_APPROVAL"
EXTRA = "approval_rig:build,mcpwrap.interceptors.approval:build"


class NoteSetter(Interceptor):
    name = "test-approve-rule"

    def __init__(self, script: dict) -> None:
        self.tools = set(script.get("tools", ()))
        self.note = {
            "rule": script.get("rule", "confirm-test"),
            "timeout": float(script.get("timeout", 30)),
            "on_timeout": script.get("on_timeout", "deny"),
            "channels": script.get("channels", ["elicitation", "stateless", "terminal"]),
            "remember": script.get("remember", ["once", "session", "always"]),
            "reason": script.get("reason", "test rule: a person must confirm"),
        }

    def inspect(self, msg):
        if msg.direction.value == "c2s" and msg.is_request and msg.tool_name in self.tools:
            msg.notes["approval"] = dict(self.note)
        return None


def build(config, session):
    return NoteSetter(json.loads(os.environ.get(ENV, "{}")))
