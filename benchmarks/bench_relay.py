#!/usr/bin/env python3
"""Relay overhead: direct, through the floor relay, and through ``mcpwrap wrap``, side by side in one run.

    python benchmarks/bench_relay.py [--rounds N] [--quick] [--markdown] [--mcpwrap-python PATH]

Three ways to reach the same server, measured in the same run and interleaved (each round runs every variant
once, in a rotating order, so a burst of load elsewhere on the machine hits all of them alike):

- **direct** — the client talks to the server's pipes;
- **floor** — through ``benchmarks/floor_relay.py``: one thread, a selector loop, ``os.read``/``os.write`` of
  whole lines, no parsing. What any Python relay pays here (interpreter start, two pipe hops, a wake-up per
  read); the targets are stated against it;
- **mcpwrap** — ``python -m mcpwrap wrap`` with the built-in default policy: the full default chain (policy,
  integrity, schema, secrets, injection, approval, audit), every detector on, the hash-chained audit log
  written for every message.

Each session does what a client does first (``initialize``, ``notifications/initialized``, ``tools/list``),
then the workload. The server is ``benchmarks/echo_server.py`` (a fast Python echo server) unless a row names
a real one. Times are medians over all rounds unless the row says p99. The targets are issue 14's; the last
column says whether this run meets them. The load average (``uptime``) is printed before and after: on a
shared machine compare the columns of one run, not runs.

``--mcpwrap-python`` measures another installation (e.g. another checkout's ``.venv/bin/python``) in the
mcpwrap column.
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
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
PY = sys.executable
ECHO = [PY, str(HERE / "echo_server.py")]
TIME = [str(Path(PY).parent / "mcp-server-time")]
EVERYTHING = [str(ROOT / "tests" / "servers" / "node_modules" / ".bin" / "mcp-server-everything"), "stdio"]
FLOOR = [PY, str(HERE / "floor_relay.py")]

MB = 1024 * 1024
EXIT_TIMEOUT = 60.0  # seconds a variant may take to exit once its stdin is closed, before it is killed
# Content detectors off, everything else as the default: the prose row's reference for "what the detectors add".
DETECTORS_OFF = "secrets: {enabled: false}\ninjection: {enabled: false, sanitize: false}\n"

INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST = {"jsonrpc": "2.0", "id": "list", "method": "tools/list"}


def line(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def call(i: int, tool: str = "echo") -> bytes:
    args = {"message": "hello"} if tool == "echo" else {}
    return line({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": tool, "arguments": args}})


class Peer:
    """A raw-pipe client: writes lines, reads lines (scanning only new bytes, so a 10 MB line costs one pass)."""

    def __init__(self, cmd: list[str], env: dict) -> None:
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0, env=env)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.fd_in = self.proc.stdin.fileno()
        self.fd_out = self.proc.stdout.fileno()
        self.buf = bytearray()
        self.scanned = 0

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd_in, view):]

    def recv(self) -> bytes:
        while True:
            nl = self.buf.find(b"\n", self.scanned)
            if nl >= 0:
                out = bytes(self.buf[:nl])
                del self.buf[: nl + 1]
                self.scanned = 0
                return out
            self.scanned = len(self.buf)
            chunk = os.read(self.fd_out, 1 << 20)
            if not chunk:
                raise EOFError(f"{self.proc.args[0]} closed its stdout")
            self.buf += chunk

    def request(self, data: bytes) -> bytes:
        self.send(data)
        return self.recv()

    def handshake(self) -> None:
        self.request(line(INIT))
        self.send(line(INITIALIZED))
        self.request(line(LIST))

    def peak_rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            return next(int(x.split()[1]) for x in f if x.startswith("VmHWM")) / 1024

    def close(self) -> None:
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: str) -> None:
        self.args = args
        self.tmp = tmp
        self.env = dict(os.environ, MCPWRAP_HOME=os.path.join(tmp, "home"))  # pins, approvals: never the real home
        self.audit = os.path.join(tmp, "audit.jsonl")
        self.detectors_off = os.path.join(tmp, "detectors-off.yaml")
        Path(self.detectors_off).write_text(DETECTORS_OFF)
        mcpwrap_python = args.mcpwrap_python or PY
        self.mcpwrap = [mcpwrap_python, "-m", "mcpwrap", "wrap", "--audit-log", self.audit]

    def variants(self, server: list[str], *, detectors_off: bool = False) -> dict[str, list[str]]:
        v = {"direct": server, "floor": [*FLOOR, *server], "mcpwrap": [*self.mcpwrap, "--", *server]}
        if detectors_off:
            v["mcpwrap, detectors off"] = [*self.mcpwrap, "--policy", self.detectors_off, "--", *server]
        return v

    def interleaved(self, variants: dict[str, list[str]], rounds: int, one_round) -> dict[str, list]:
        """``one_round(cmd)`` returns a list of samples; each round runs every variant, in a rotating order."""
        names = list(variants)
        samples: dict[str, list] = {n: [] for n in names}
        for r in range(rounds):
            for n in names[r % len(names):] + names[: r % len(names)]:
                samples[n].extend(one_round(variants[n]))
        return samples

    # --- workloads ---------------------------------------------------------------------------------------------

    def round_trips(self, cmd: list[str], n: int, tool: str = "echo", warmup: int = 50) -> list[tuple[float, float]]:
        """(seconds, CPU seconds the process at the client's end used per call) for ``n`` sequential calls."""
        p = Peer(cmd, self.env)
        try:
            p.handshake()
            for i in range(warmup):
                p.request(call(10_000_000 + i, tool))
            times = []
            cpu = cpu_seconds(p.proc.pid)
            for i in range(1, n + 1):
                data = call(i, tool)
                t = time.perf_counter()
                p.request(data)
                times.append(time.perf_counter() - t)
            per_call = (cpu_seconds(p.proc.pid) - cpu) / n
            return [(t, per_call) for t in times]
        finally:
            p.close()

    def big_results(self, cmd: list[str], n: int) -> list[tuple[float, float]]:
        """(seconds, peak RSS in MB of the process at the client's end) per call of a large result."""
        p = Peer(cmd, self.env)
        try:
            p.handshake()
            p.request(call(0))  # warm-up: the first large result pays one-time costs (lazy imports, allocations)
            out = []
            for i in range(1, n + 1):
                data = call(i)
                t = time.perf_counter()
                p.request(data)
                out.append((time.perf_counter() - t, 0.0))
            rss = p.peak_rss_mb()
            return [(s, rss) for s, _ in out]
        finally:
            p.close()

    def startup(self, cmd: list[str]) -> list[float]:
        t = time.perf_counter()
        p = Peer(cmd, self.env)
        try:
            p.request(line(INIT))
            return [time.perf_counter() - t]
        finally:
            p.close()

    def notifications(self, cmd: list[str], n: int = 10_000) -> list[float]:
        p = Peer(cmd, self.env)
        try:
            p.handshake()
            note = b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}\n'
            data = note * n + line({"jsonrpc": "2.0", "id": "end", "method": "ping"})
            writer = threading.Thread(target=p.send, args=(data,))
            t = time.perf_counter()
            writer.start()
            p.recv()  # the ping's answer: every notification before it has passed
            elapsed = time.perf_counter() - t
            writer.join()
            return [n / elapsed]
        finally:
            p.close()


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by every thread of ``pid`` (schedstat: nanoseconds on the CPU, user and system)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return float("nan")
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def ms(x: float) -> str:
    return f"{x * 1000:.3f} ms" if x < 0.01 else f"{x * 1000:.1f} ms"


def load_average() -> str:
    try:
        text = subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
        return text[text.index("load average"):]
    except (OSError, ValueError, subprocess.SubprocessError):
        return "load average: {:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())


def run(args: argparse.Namespace, bench: Bench) -> list[tuple]:
    rows: list[tuple] = []
    R = args.rounds

    def add(case: str, d: str, f: str, w: str, f_add: str, w_add: str, target: str, met: bool | None) -> None:
        rows.append((case, d, f, w, f_add, w_add, target, "-" if met is None else ("yes" if met else "NO")))
        if args.verbose:
            print("  ", rows[-1], file=sys.stderr, flush=True)

    def say(what: str) -> None:
        if args.verbose:
            print(f"{time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)

    # small tools/call round trip
    say("small round trips")
    n_small = max(50, args.calls // R)
    s = bench.interleaved(bench.variants(ECHO), R, lambda cmd: bench.round_trips(cmd, n_small))
    cpu = {k: statistics.median(x[1] for x in v) for k, v in s.items()}
    s = {k: [x[0] for x in v] for k, v in s.items()}
    d, f, w = (pct(s[k], .5) for k in ("direct", "floor", "mcpwrap"))
    add("small tools/call p50", ms(d), ms(f), ms(w), f"+{(f - d) * 1e6:.0f} us", f"+{(w - d) * 1e6:.0f} us ({(w - d) / (f - d):.1f}x floor's)",
        "mcpwrap adds <= 1.5x what floor adds", (w - d) <= 1.5 * (f - d))
    d, f, w = (pct(s[k], .99) for k in ("direct", "floor", "mcpwrap"))
    add("small tools/call p99", ms(d), ms(f), ms(w), f"+{(f - d) * 1e6:.0f} us", f"+{(w - d) * 1e6:.0f} us", "report", None)
    add("  CPU of the process at the client's end, per small call", f"{cpu['direct'] * 1e6:.0f} us (server)", f"{cpu['floor'] * 1e6:.0f} us",
        f"{cpu['mcpwrap'] * 1e6:.0f} us", "-", f"{cpu['mcpwrap'] / cpu['floor']:.1f}x floor's", "report (steadier than latency under load)", None)

    # 4 KB prose result, every detector on; the detectors' share is mcpwrap minus mcpwrap with them off
    say("4 KB prose")
    n_prose = max(50, args.calls // (2 * R))
    s = bench.interleaved(bench.variants(ECHO, detectors_off=True), R, lambda cmd: bench.round_trips(cmd, n_prose, "prose"))
    s = {k: [x[0] for x in v] for k, v in s.items()}
    d, f, w, off = (pct(s[k], .5) for k in ("direct", "floor", "mcpwrap", "mcpwrap, detectors off"))
    add("4 KB prose result p50, every detector on", ms(d), ms(f), ms(w), f"+{(f - d) * 1e6:.0f} us", f"+{(w - d) * 1e6:.0f} us",
        "report", None)
    add("  detectors' share (mcpwrap - mcpwrap without secrets/injection)", "-", "-", ms(off) + " off", "-", f"+{(w - off) * 1e6:.0f} us",
        "adds <= 0.3 ms", (w - off) <= 0.0003)

    # large results
    say("200 KB results")
    server = [*ECHO, "--payload-bytes", str(200 * 1024)]
    s = bench.interleaved(bench.variants(server), R, lambda cmd: bench.round_trips(cmd, max(10, 300 // R), warmup=10))
    s = {k: [x[0] for x in v] for k, v in s.items()}
    d, f, w = (pct(s[k], .5) for k in ("direct", "floor", "mcpwrap"))
    add("200 KB result p50", ms(d), ms(f), ms(w), f"+{(f - d) * 1000:.2f} ms", f"+{(w - d) * 1000:.2f} ms",
        "mcpwrap <= floor + 2 ms", w <= f + 0.002)

    say("10 MB results")
    size = 10 * MB
    server = [*ECHO, "--payload-bytes", str(size)]
    s = bench.interleaved(bench.variants(server), R, lambda cmd: bench.big_results(cmd, max(2, 15 // R)))
    d, f, w = (pct([x[0] for x in s[k]], .5) for k in ("direct", "floor", "mcpwrap"))
    add("10 MB result p50", ms(d), ms(f), ms(w), f"+{(f - d) * 1000:.0f} ms", f"+{(w - d) * 1000:.0f} ms",
        "mcpwrap <= direct + 100 ms", w <= d + 0.1)
    f_rss, w_rss = (max(x[1] for x in s[k]) for k in ("floor", "mcpwrap"))
    budget = 3 * size / MB + 40
    add("peak RSS relaying 10 MB results", "-", f"{f_rss:.1f} MB", f"{w_rss:.1f} MB", "-", f"{w_rss / budget:.2f} of budget",
        f"mcpwrap <= 3 x message + 40 MB = {budget:.0f} MB", w_rss <= budget)

    # spawn -> first reply
    servers = [("echo server", ECHO, max(5, 3 * R))]
    if not args.quick:
        servers += [("mcp-server-time", TIME, max(3, R + 2)), ("server-everything", EVERYTHING, max(3, R + 2))]
    for name, server, n in servers:
        say(f"start-up {name}")
        s = bench.interleaved(bench.variants(server), n, bench.startup)
        d, f, w = (pct(s[k], .5) for k in ("direct", "floor", "mcpwrap"))
        add(f"spawn -> first reply, {name}", ms(d), ms(f), ms(w), f"+{(f - d) * 1000:.1f} ms", f"+{(w - d) * 1000:.1f} ms",
            "mcpwrap <= floor + 40 ms", w <= f + 0.040)

    # pipelined notifications
    say("notifications")
    s = bench.interleaved(bench.variants(ECHO), R, bench.notifications)
    d, f, w = (statistics.median(s[k]) for k in ("direct", "floor", "mcpwrap"))
    add("10 000 pipelined notifications", f"{d:,.0f} msg/s", f"{f:,.0f} msg/s", f"{w:,.0f} msg/s", f"{f / d:.2f}x direct", f"{w / d:.2f}x direct",
        "mcpwrap >= 50,000 msg/s", w >= 50_000)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds per workload (default 5)")
    ap.add_argument("--calls", type=int, default=2000, help="small round trips per variant, over all rounds (default 2000)")
    ap.add_argument("--quick", action="store_true", help="skip the real servers' start-up rows")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--mcpwrap-python", help="the Python whose `-m mcpwrap` is measured (default: this one)")
    ap.add_argument("-v", "--verbose", action="store_true", help="progress on stderr")
    args = ap.parse_args()
    mcpwrap_python = args.mcpwrap_python or PY
    if subprocess.run([mcpwrap_python, "-c", "import mcpwrap"], capture_output=True).returncode != 0:
        sys.exit(f"{mcpwrap_python} cannot import mcpwrap: run `bash .ci/setup.sh`, then `.venv/bin/python {sys.argv[0]}`")
    for cmd in (TIME[0], EVERYTHING[0]):
        if not args.quick and not os.path.exists(cmd):
            sys.exit(f"{cmd} is missing: run `bash .ci/setup.sh` first, or pass --quick")
    tmp = tempfile.mkdtemp(prefix="mcpwrap-bench-")
    before = load_average()
    started = time.time()
    try:
        rows = run(args, Bench(args, tmp))
        records = sum(1 for _ in open(os.path.join(tmp, "audit.jsonl"), "rb"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    after = load_average()

    header = ("case", "direct", "floor", "mcpwrap", "floor adds", "mcpwrap adds", "target", "met")
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
        for r in (header, *rows):
            print("  ".join(str(x).ljust(wd) for x, wd in zip(r, widths, strict=False)).rstrip())
    print(
        f"\n{args.rounds} interleaved rounds, {time.time() - started:.0f} s; mcpwrap wrote {records} audit records; "
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores\n"
        f"before: {before}\nafter:  {after}"
    )


if __name__ == "__main__":
    main()
