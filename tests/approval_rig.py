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
