"""The test rig: where the real servers are, and how to reach them through the real mcpwrap process."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NODE_BIN = ROOT / "tests" / "servers" / "node_modules" / ".bin"
VENV_BIN = Path(sys.executable).parent

EVERYTHING = [str(NODE_BIN / "mcp-server-everything"), "stdio"]
FILESYSTEM = [str(NODE_BIN / "mcp-server-filesystem")]  # + allowed directories
TIME = [str(VENV_BIN / "mcp-server-time")]
CLAUDE = str(NODE_BIN / "claude")
FAKE = [sys.executable, str(ROOT / "tests" / "fake_server.py")]
MCPWRAP = [sys.executable, "-m", "mcpwrap"]
# The same wrapper with test-only interceptors (MCPWRAP_TEST_HOOKS, see mcpwrap/testing.py).
MCPWRAP_HOOKED = [sys.executable, "-m", "mcpwrap.testing"]


def wrap_command(server: list[str], *options: str, audit_log: str | os.PathLike | None = None, hooked: bool = False) -> list[str]:
    cmd = [*(MCPWRAP_HOOKED if hooked else MCPWRAP), "wrap"]
    if audit_log is not None:
        cmd += ["--audit-log", str(audit_log)]
    return [*cmd, *options, "--", *server]


def read_audit(path: str | os.PathLike) -> list[dict]:
    p = Path(path)
    if not p.exists():
        return []
    # JSONL records are separated by "\n" only: str.splitlines() would also split inside a record at a raw
    # U+2028/U+2029/U+0085, which json.dumps(ensure_ascii=False) leaves unescaped in recorded arguments.
    # A record still being written has no newline yet: a reader running beside the writer leaves it for later.
    text = p.read_bytes().decode("utf-8", "replace")
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.split("\n") if line.strip()]


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


class RawPeer:
    """A client that speaks raw lines to a process (to see exact bytes, and to send what no SDK would)."""

    def __init__(self, command: list[str], *, env: dict | None = None, stderr: Any = None) -> None:
        import queue
        import subprocess
        import threading

        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr if stderr is not None else subprocess.DEVNULL,
            env=env or child_env(), bufsize=0,
        )
        self.lines: queue.Queue[bytes | None] = queue.Queue()

        def pump() -> None:
            assert self.proc.stdout is not None
            buf = b""
            while True:
                data = self.proc.stdout.read1(1 << 20) if hasattr(self.proc.stdout, "read1") else self.proc.stdout.read(65536)
                if not data:
                    if buf:
                        self.lines.put(buf)
                    self.lines.put(None)
                    return
                buf += data
                *complete, buf = buf.split(b"\n")
                for line in complete:
                    self.lines.put(line)

        self._reader = threading.Thread(target=pump, daemon=True)
        self._reader.start()

    def send(self, data: bytes | dict | list) -> None:
        if not isinstance(data, bytes):
            data = json.dumps(data).encode() + b"\n"
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def recv_line(self, timeout: float = 20.0) -> bytes:
        line = self.lines.get(timeout=timeout)
        if line is None:
            raise EOFError("peer closed its stdout")
        return line

    def recv(self, timeout: float = 20.0) -> Any:
        return json.loads(self.recv_line(timeout))

    def request(self, msg_id: Any, method: str, params: dict | None = None, timeout: float = 20.0) -> Any:
        """Send a request and return its response, skipping notifications that arrive first."""
        msg: dict = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        while True:
            reply = self.recv(timeout)
            if isinstance(reply, dict) and reply.get("id") == msg_id and "method" not in reply:
                return reply

    def initialize(self, version: str = "2025-06-18", capabilities: dict | None = None) -> Any:
        reply = self.request(0, "initialize", {"protocolVersion": version, "capabilities": capabilities or {}, "clientInfo": {"name": "raw", "version": "0"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return reply

    def close(self, timeout: float = 15.0) -> int:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        except OSError:
            pass
        return self.proc.wait(timeout)

    def __enter__(self) -> RawPeer:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc.poll() is None:
            try:
                self.close(timeout=10)
            except Exception:
                self.proc.kill()
                self.proc.wait()


def sdk_client(command: list[str], *, env: dict | None = None, **kw: Any) -> Any:
    """The SDK's high-level ``mcp.Client`` (probes ``server/discover``; stateless 2026-07-28 when the server can)."""
    from mcp import Client, StdioServerParameters

    return Client(StdioServerParameters(command=command[0], args=command[1:], env=env or child_env()), **kw)
