#!/usr/bin/env python3
"""Cost of tool-definition integrity: listings and calls direct, wrapped without it, wrapped with it.

    .venv/bin/python benchmarks/bench_integrity.py [--rounds N]

Workloads
  tools/list round trip of server-filesystem (14 tools): direct | wrapped, integrity off | wrapped, integrity on
      (steady state: the definitions are pinned; every listing is still scanned-or-cached and compared)
  tools/call round trip of a pinned tool (list_allowed_directories): same three
  scanning every tool definition of the three reference servers in process, cold (no cache): µs per tool
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import rig  # noqa: E402


class Pipe:
    def __init__(self, cmd: list[str], env: dict) -> None:
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0, env=env)
        self.buf = b""

    def request(self, i: int, method: str, params: dict) -> dict:
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}).encode() + b"\n")
        while True:
            while b"\n" not in self.buf:
                chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
                if not chunk:
                    raise EOFError
                self.buf += chunk
            line, _, self.buf = self.buf.partition(b"\n")
            msg = json.loads(line)
            if msg.get("id") == i:
                return msg

    def notify(self, method: str) -> None:
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", "method": method}).encode() + b"\n")

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


def session(cmd: list[str], env: dict) -> Pipe:
    p = Pipe(cmd, env)
    p.request(0, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}})
    p.notify("notifications/initialized")
    return p


def timed(p: Pipe, n: int, method: str, params: dict, start: int) -> list[float]:
    out = []
    for i in range(start, start + n):
        t = time.perf_counter()
        reply = p.request(i, method, params)
        out.append((time.perf_counter() - t) * 1000)
        assert "result" in reply, reply
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mcpwrap-bench-"))
    off_policy = work / "off.yaml"
    off_policy.write_text("integrity:\n  enabled: false\n")
    on_policy = work / "on.yaml"
    on_policy.write_text("integrity:\n  enabled: true\n")
    env = {**os.environ, "MCPWRAP_HOME": str(work / "home")}
    server = [*rig.FILESYSTEM, str(work)]
    variants = {
        "direct": server,
        "wrapped, integrity off": rig.wrap_command(server, "--policy", str(off_policy), "--name", "fs", audit_log=work / "a1.jsonl"),
        "wrapped, integrity on": rig.wrap_command(server, "--policy", str(on_policy), "--name", "fs", audit_log=work / "a2.jsonl"),
    }
    rows = []
    for label, cmd in variants.items():
        p = session(cmd, env)
        timed(p, 5, "tools/list", {}, 1)  # warm-up; pins the definitions on first sight
        lists = timed(p, args.rounds, "tools/list", {}, 100)
        calls = timed(p, args.rounds, "tools/call", {"name": "list_allowed_directories", "arguments": {}}, 100 + args.rounds)
        p.close()
        rows.append((label, statistics.median(lists), statistics.median(calls)))
    base_list, base_call = rows[0][1], rows[0][2]
    print(f"server-filesystem, {args.rounds} rounds each, p50 in ms (ratio to direct)")
    print(f"{'variant':<26}{'tools/list':>22}{'tools/call':>22}")
    for label, lst, cl in rows:
        print(f"{label:<26}{lst:>12.3f} ({lst / base_list:4.2f}x){cl:>12.3f} ({cl / base_call:4.2f}x)")

    import anyio

    from mcpwrap.detect.poison import scan_tool

    async def collect() -> list[dict]:
        tools = []
        for cmd in (rig.EVERYTHING, server, rig.TIME):
            async with rig.sdk_session(cmd, env=env) as s:
                tools += [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in (await s.list_tools()).tools]
        return tools

    tools = anyio.run(collect)
    scan_tool(tools[0])  # compile the patterns once
    t = time.perf_counter()
    reps = 20
    for _ in range(reps):
        for tool in tools:
            scan_tool(tool)
    per_tool = (time.perf_counter() - t) / (reps * len(tools)) * 1e6
    print(f"\nscan, cold: {per_tool:.0f} µs per tool definition ({len(tools)} definitions of the three reference servers)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
