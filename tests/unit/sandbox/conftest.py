from __future__ import annotations

import sys

import pytest

from mcpwrap._sandbox import landlock


def pytest_collection_modifyitems(items):
    # Everything here drives Linux system calls; on another system the sandbox reports itself absent instead.
    if not sys.platform.startswith("linux"):
        for item in items:
            item.add_marker(pytest.mark.skip(reason="the sandbox's kernel mechanisms are Linux only"))


def need_abi(abi: int) -> None:
    have = landlock.abi_version()
    if have < abi:
        pytest.skip(f"this kernel's Landlock ABI is {have}; the test needs {abi}")
