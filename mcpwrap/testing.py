"""A scriptable interceptor for tests: block, modify or raise on chosen methods/tools.

Configured by the environment variable ``MCPWRAP_TEST_SCRIPT`` (JSON), so the real ``mcpwrap`` process can
be driven through faults by the test suite::

    {"block": ["tools/call:echo", "notifications/progress"], "raise": ["resources/list"],
     "modify": ["tools/call:get-sum"]}

Entries are ``method`` or ``method:tool``. ``modify`` appends ``" [modified]"`` to text content of results.
"""

from __future__ import annotations

import copy
import json
import os

from ._chain import Interceptor
from ._message import Message, Verdict

SCRIPT_ENV = "MCPWRAP_TEST_SCRIPT"


class ScriptedInterceptor(Interceptor):
    name = "test"

    def __init__(self, script: dict) -> None:
        self.block = set(script.get("block", ()))
        self.raise_on = set(script.get("raise", ()))
        self.modify = set(script.get("modify", ()))

    @staticmethod
    def _keys(msg: Message) -> set[str]:
        keys = {str(msg.method)}
        if msg.tool_name:
            keys.add(f"{msg.method}:{msg.tool_name}")
        if msg.is_response:
            keys = {f"{k}#response" for k in keys}
        return keys

    def inspect(self, msg: Message) -> Verdict | None:
        keys = self._keys(msg)
        if keys & self.raise_on:
            raise RuntimeError("scripted failure")
        if keys & self.block:
            return Verdict.block(f"test script blocks {sorted(keys & self.block)[0]}", rule="test-block")
        if keys & self.modify and msg.is_response and isinstance(msg.result, dict):
            env = copy.deepcopy(msg.envelope)
            for item in env["result"].get("content", []):
                if item.get("type") == "text":
                    item["text"] += " [modified]"
            return Verdict.modify(env, {"appended": " [modified]"}, rule="test-modify")
        return None


def build(config: object, session: object) -> ScriptedInterceptor:
    return ScriptedInterceptor(json.loads(os.environ.get(SCRIPT_ENV, "{}")))
