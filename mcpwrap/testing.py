"""Test-only hooks. Never imported by the shipped entry points (``mcpwrap``, ``python -m mcpwrap``).

``python -m mcpwrap.testing wrap [OPTIONS] -- COMMAND`` runs the very same wrapper with extra interceptors
placed after the built-in ones (before audit), so that the test suite can drive the real process through
faults no real server produces. The extras are factories named by ``MCPWRAP_TEST_HOOKS``
("module:attribute,…", each a callable taking the chain's context, e.g. an Interceptor class).

:class:`ScriptedInterceptor` (``mcpwrap.testing:ScriptedInterceptor``) blocks, modifies or raises on chosen
methods and tools, as ``MCPWRAP_TEST_SCRIPT`` (JSON) says::

    {"block": ["tools/call:echo", "notifications/progress"], "raise": ["resources/list"],
     "modify": ["tools/call:get-sum"]}

Entries are ``method`` or ``method:tool`` (``…#response`` for the response to such a request). ``modify``
appends ``" [modified]"`` to the text content of results.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import sys

from ._chain import ChainContext, Interceptor
from ._message import Message, Verdict

__all__ = ["HOOKS_ENV", "SCRIPT_ENV", "ScriptedInterceptor", "load_hooks", "main"]

HOOKS_ENV = "MCPWRAP_TEST_HOOKS"
SCRIPT_ENV = "MCPWRAP_TEST_SCRIPT"


class ScriptedInterceptor(Interceptor):
    name = "test"

    def __init__(self, context: ChainContext, script: dict | None = None) -> None:
        super().__init__(context)
        if script is None:
            script = json.loads(os.environ.get(SCRIPT_ENV, "{}"))
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


def load_hooks(spec: str) -> list:
    """The factories a ``module:attribute,…`` list names."""
    factories = []
    for target in filter(None, (t.strip() for t in spec.split(","))):
        module, _, attr = target.partition(":")
        factories.append(getattr(importlib.import_module(module), attr))
    return factories


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "wrap":
        sys.stderr.write("usage: python -m mcpwrap.testing wrap [OPTIONS] -- COMMAND [ARGS...]\n")
        return 2
    from ._cli.wrap import main as wrap_main

    return wrap_main(argv[1:], extra=load_hooks(os.environ.get(HOOKS_ENV, "")))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
