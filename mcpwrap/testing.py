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

:func:`use_backtracking_engine` compiles the detectors' patterns with Python's ``re`` instead of RE2, for
benchmarks/bench_content.py to show what the linear-time engine buys. The shipped code has no such switch.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import sys

from ._chain import ChainContext, Interceptor
from ._message import Message, Verdict

__all__ = ["HOOKS_ENV", "SCRIPT_ENV", "ScriptedInterceptor", "load_hooks", "use_backtracking_engine", "main"]

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


def use_backtracking_engine() -> None:
    """Make :mod:`mcpwrap._re2`'s detector helpers use Python's ``re`` (patterns in their ``fallback``
    spelling where they have one). The detectors compile their patterns when imported, so this must run first.
    """
    import re

    from . import _re2

    loaded = sorted(name for name in sys.modules if name.startswith(("mcpwrap.detect", "mcpwrap.interceptors")))
    if loaded:
        raise RuntimeError(f"use_backtracking_engine() must run before the detectors are imported ({loaded[0]} is)")

    def compile_bytes(pattern: str, fallback: str | None = None) -> re.Pattern[bytes]:
        # RE2 accepts flags inside a joined alternative, "(?:(?i)a)|(?:b)"; Python wants them scoped: "(?i:a)".
        source = re.sub(r"\(\?:\(\?([imsx]+)\)", r"(?\1:", fallback or pattern)
        return re.compile(source.encode("utf-8"))

    def search_span(rx: re.Pattern[bytes], buf: bytes, pos: int, endpos: int) -> tuple[int, int] | None:
        m = rx.search(buf, pos, endpos)
        return None if m is None else m.span()

    class SignalSet:  # every pattern's own search: what a set without RE2 comes down to
        def __init__(self, patterns: dict[str, str]) -> None:
            self.exact = {name: compile_bytes(p) for name, p in patterns.items()}

        def search(self, buf: bytes, start: int = 0, end: int | None = None) -> set[str]:
            end = len(buf) if end is None else end
            return {name for name, rx in self.exact.items() if rx.search(buf, start, end) is not None}

    _re2.compile_bytes = compile_bytes
    _re2.search_span = search_span
    _re2.SignalSet = SignalSet  # type: ignore[assignment,misc]


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "wrap":
        sys.stderr.write("usage: python -m mcpwrap.testing wrap [OPTIONS] -- COMMAND [ARGS...]\n")
        return 2
    from ._cli.wrap import main as wrap_main

    return wrap_main(argv[1:], extra=load_hooks(os.environ.get(HOOKS_ENV, "")))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
