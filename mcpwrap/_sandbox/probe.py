"""What the running system offers the sandbox, for ``mcpwrap sandbox check`` (and nothing on the start path:
``prepare`` tries namespaces for real at the spawn and falls back, instead of probing first)."""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from . import _linux, landlock, namespaces, seccomp

__all__ = ["kernel_support"]


def kernel_support() -> dict[str, Any]:
    """Landlock ABI and what it brings, user/PID/network namespaces, seccomp, bubblewrap."""
    if not sys.platform.startswith("linux"):
        return {"platform": sys.platform, "sandbox": False, "reason": "mcpwrap's sandbox uses Linux kernel features"}
    abi = landlock.abi_version()
    userns, why = namespaces.userns_available()
    return {
        "platform": sys.platform,
        "kernel": os.uname().release,
        "machine": _linux.MACHINE,
        "landlock": {
            "abi": abi,
            "filesystem": abi >= 1,
            "refer": abi >= 2,
            "truncate": abi >= 3,
            "tcp": abi >= 4,
            "ioctl_dev": abi >= 5,
            "scopes": abi >= 6,
        },
        "namespaces": {"user": userns, "pid": userns, "mount": userns, "net": userns, **({"reason": why} if why else {})},
        "seccomp": seccomp.available(),
        "bubblewrap": shutil.which("bwrap"),  # informational: mcpwrap creates its namespaces itself
    }
