#!/usr/bin/env python3
"""Relay overhead: the same workloads direct and through `mcpwrap wrap`, side by side, in one run.

    .venv/bin/python benchmarks/bench_relay.py [--rounds N] [--markdown]

Workloads (targets from the core issue):
  small tools/call round trip, raw pipe client        wrapped/direct p50 <= 1.3 (p99 reported)
  small tools/call round trip, official SDK client     same, as a client application feels it
  200 KB result / 10 MB result round trip              ratio <= 1.2 at 200 KB; 10 MB adds <= 100 ms
  startup: spawn -> first response (initialize)        adds <= 60 ms
  peak RSS of mcpwrap relaying a 10 MB message          <= 3 x message + 40 MB
  10 000 pipelined notifications                       >= 50 000 msg/s through mcpwrap

The server is tests/fake_server.py (a fast echo). The audit log is written for every message, as in use.
Each wrapped workload runs twice: with the built-in default policy (every interceptor on: policy, integrity,
schema, secrets, injection, approval, audit) and with a relay-only policy (interceptors switched off, audit
on), so the relay's own cost and the inspection's cost are told apart. Start-up is also measured against
real servers (mcp-server-time, server-everything), whose boot overlaps mcpwrap's own start-up work.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAKE = [sys.executable, str(ROOT / "tests" / "fake_server.py")]
TIME = [str(Path(sys.executable).parent / "mcp-server-time")]
EVERYTHING = [str(ROOT / "tests" / "servers" / "node_modules" / ".bin" / "mcp-server-everything"), "stdio"]
MCPWRAP = [sys.executable, "-m", "mcpwrap"]


RELAY_ONLY = """\
default_action: allow
integrity: {enabled: false}
schema: {enabled: false}
secrets: {enabled: false}
injection: {enabled: false, sanitize: false}
"""
POLICY: list[str] = []  # set in main(): [] = the built-in default, or ["--policy", <relay-only file>]


def wrapped(server: list[str], audit: str) -> list[str]:
    return [*MCPWRAP, "wrap", "--audit-log", audit, *POLICY, "--", *server]


class Pipe:
    def __init__(self, cmd: list[str]) -> None:
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        self.out = self.proc.stdout
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)

    def line(self) -> bytes:
        while b"\n" not in self.buf:
            chunk = self.out.read1(1 << 20) if hasattr(self.out, "read1") else os.read(self.out.fileno(), 1 << 20)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


def call(i: int, name: str = "echo") -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": name, "arguments": {"message": "hello"}}}).encode() + b"\n"


INIT = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}}).encode() + b"\n"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def round_trips(cmd: list[str], n: int, payload_call: str = "echo") -> list[float]:
    p = Pipe(cmd)
    p.send(INIT)
    p.line()
    times = []
    for i in range(1, n + 1):
        t = time.perf_counter()
        p.send(call(i, payload_call))
        p.line()
        times.append(time.perf_counter() - t)
    p.close()
    return times[min(20, n // 10):]  # warm-up excluded


def sdk_round_trips(cmd: list[str], n: int) -> list[float]:
    import anyio
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    times: list[float] = []

    async def run() -> None:
        params = StdioServerParameters(command=cmd[0], args=cmd[1:], env=dict(os.environ))
        async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
            await s.initialize()
            for _ in range(n):
                t = time.perf_counter()
                await s.call_tool("echo", {"message": "hello"})
                times.append(time.perf_counter() - t)

    anyio.run(run)
    return times[min(20, n // 10):]


def startup(cmd: list[str], n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        p = Pipe(cmd)
        p.send(INIT)
        p.line()
        times.append(time.perf_counter() - t)
        p.close()
    return times


def peak_rss_mb(audit: str, size: int) -> float:
    p = Pipe(wrapped([*FAKE, "--payload-bytes", str(size)], audit))
    p.send(INIT)
    p.line()
    for i in range(1, 4):
        p.send(call(i))
        p.line()
    with open(f"/proc/{p.proc.pid}/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
    p.close()
    return hwm / 1024


def notifications_rate(cmd: list[str], n: int) -> float:
    p = Pipe(cmd)
    p.send(INIT)
    p.line()
    note = b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}\n'
    data = note * n + json.dumps({"jsonrpc": "2.0", "id": 99, "method": "ping"}).encode() + b"\n"
    t = time.perf_counter()
    import threading

    writer = threading.Thread(target=p.send, args=(data,))
    writer.start()
    p.line()
    elapsed = time.perf_counter() - t
    writer.join()
    p.close()
    return n / elapsed


def measure(args: argparse.Namespace, audit: str, rows: list, label: str) -> None:
    def ms(x: float) -> str:
        return f"{x * 1000:.3f} ms"

    tag = f" [{label}]"
    d = round_trips(FAKE, args.rounds)
    w = round_trips(wrapped(FAKE, audit), args.rounds)
    rows.append(("small tools/call, raw client p50" + tag, ms(pct(d, .5)), ms(pct(w, .5)), f"{pct(w, .5) / pct(d, .5):.2f}x (+{(pct(w, .5) - pct(d, .5)) * 1e6:.0f} us)", "<= 1.3x"))
    rows.append(("small tools/call, raw client p99" + tag, ms(pct(d, .99)), ms(pct(w, .99)), f"{pct(w, .99) / pct(d, .99):.2f}x", "report"))
    n_sdk = max(200, args.rounds // 4)
    d = sdk_round_trips(FAKE, n_sdk)
    w = sdk_round_trips(wrapped(FAKE, audit), n_sdk)
    rows.append(("small tools/call, SDK client p50" + tag, ms(pct(d, .5)), ms(pct(w, .5)), f"{pct(w, .5) / pct(d, .5):.2f}x (+{(pct(w, .5) - pct(d, .5)) * 1e6:.0f} us)", "<= 1.3x"))
    rows.append(("small tools/call, SDK client p99" + tag, ms(pct(d, .99)), ms(pct(w, .99)), f"{pct(w, .99) / pct(d, .99):.2f}x", "report"))
    for name, size, n in (("200 KB result p50", 200 * 1024, 300), ("10 MB result p50", 10 * 1024 * 1024, 15)):
        server = [*FAKE, "--payload-bytes", str(size)]
        d = round_trips(server, n)
        w = round_trips(wrapped(server, audit), n)
        extra = pct(w, .5) - pct(d, .5)
        target = "<= 1.2x" if size < 1e6 else "adds <= 100 ms"
        rows.append((name + tag, ms(pct(d, .5)), ms(pct(w, .5)), f"{pct(w, .5) / pct(d, .5):.2f}x (+{extra * 1000:.1f} ms)", target))
    d = startup(FAKE, 15)
    w = startup(wrapped(FAKE, audit), 15)
    rows.append(("startup, fake server (boots ~50 ms), p50" + tag, ms(pct(d, .5)), ms(pct(w, .5)), f"+{(pct(w, .5) - pct(d, .5)) * 1000:.1f} ms", "adds <= 60 ms"))
    if not args.quick:
        for name, server in (("mcp-server-time", TIME), ("server-everything", EVERYTHING)):
            d = startup(server, 7)
            w = startup(wrapped(server, audit), 7)
            rows.append((f"startup, {name}, p50" + tag, ms(pct(d, .5)), ms(pct(w, .5)), f"+{(pct(w, .5) - pct(d, .5)) * 1000:.1f} ms", "adds <= 60 ms"))
    size = 10 * 1024 * 1024
    rss = peak_rss_mb(audit, size)
    rows.append(("peak RSS of mcpwrap, 10 MB message" + tag, "-", f"{rss:.1f} MB", f"{rss / (3 * size / 2**20 + 40):.2f} of budget", "<= 70 MB"))
    n = 10_000
    d_rate = notifications_rate(FAKE, n)
    w_rate = notifications_rate(wrapped(FAKE, audit), n)
    rows.append(("10 000 pipelined notifications" + tag, f"{d_rate:,.0f} msg/s", f"{w_rate:,.0f} msg/s", f"{w_rate / d_rate:.2f}x", ">= 50,000 msg/s"))


def baseline(args: argparse.Namespace, rows: list) -> None:
    """What any relay process costs here: the bare byte-copying relay beside the direct server."""
    bare = [sys.executable, str(ROOT / "benchmarks" / "bare_relay.py"), *FAKE]
    d = round_trips(FAKE, args.rounds)
    w = round_trips(bare, args.rounds)
    rows.append(("small tools/call, raw client p50 [bare byte-copying relay]", f"{pct(d, .5) * 1000:.3f} ms", f"{pct(w, .5) * 1000:.3f} ms", f"{pct(w, .5) / pct(d, .5):.2f}x (+{(pct(w, .5) - pct(d, .5)) * 1e6:.0f} us)", "floor for any relay"))
    n_sdk = max(200, args.rounds // 4)
    d = sdk_round_trips(FAKE, n_sdk)
    w = sdk_round_trips(bare, n_sdk)
    rows.append(("small tools/call, SDK client p50 [bare byte-copying relay]", f"{pct(d, .5) * 1000:.3f} ms", f"{pct(w, .5) * 1000:.3f} ms", f"{pct(w, .5) / pct(d, .5):.2f}x (+{(pct(w, .5) - pct(d, .5)) * 1e6:.0f} us)", "floor for any relay"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--quick", action="store_true", help="skip the real-server start-up rows")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="mcpwrap-bench-")
    os.environ["MCPWRAP_HOME"] = os.path.join(tmp, "home")  # pins, approvals: never the real home
    audit = os.path.join(tmp, "audit.jsonl")
    relay_only = os.path.join(tmp, "relay-only.yaml")
    with open(relay_only, "w") as f:
        f.write(RELAY_ONLY)
    rows: list[tuple[str, str, str, str, str]] = []
    baseline(args, rows)
    POLICY[:] = ["--policy", relay_only]
    measure(args, audit, rows, "relay only")
    POLICY[:] = []
    measure(args, audit, rows, "full default chain")

    header = ("workload", "direct", "wrapped", "ratio / added", "target")
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
        for r in (header, *rows):
            print("  ".join(str(x).ljust(wd) for x, wd in zip(r, widths)))
    load = os.getloadavg()[0]
    print(f"\n(audit records written: {sum(1 for _ in open(audit))}; python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {load:.2f})")


if __name__ == "__main__":
    main()
