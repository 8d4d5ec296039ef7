"""The test rig: where the real servers are, and how to reach them through the real mcpwrap process."""

from __future__ import annotations

import json
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

ROOT = Path(__file__).resolve().parent.parent
NODE_BIN = ROOT / "tests" / "servers" / "node_modules" / ".bin"
VENV_BIN = Path(sys.executable).parent

EVERYTHING = [str(NODE_BIN / "mcp-server-everything"), "stdio"]
FILESYSTEM = [str(NODE_BIN / "mcp-server-filesystem")]  # + allowed directories
TIME = [str(VENV_BIN / "mcp-server-time")]
CLAUDE = str(NODE_BIN / "claude")
FAKE = [sys.executable, str(ROOT / "tests" / "fake_server.py")]
MCPWRAP = [sys.executable, "-m", "mcpwrap"]


def wrap_command(server: list[str], *options: str, audit_log: str | os.PathLike | None = None) -> list[str]:
    cmd = [*MCPWRAP, "wrap"]
    if audit_log is not None:
        cmd += ["--audit-log", str(audit_log)]
    return [*cmd, *options, "--", *server]


def read_audit(path: str | os.PathLike) -> list[dict]:
    p = Path(path)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


@asynccontextmanager
async def sdk_session(command: list[str], *, env: dict | None = None, **session_kw: Any) -> AsyncIterator[Any]:
    """An initialised official-SDK ClientSession over stdio to ``command``."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=command[0], args=command[1:], env=env or child_env())
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, **session_kw) as session:
            await session.initialize()
            yield session
