#!/usr/bin/env python3
"""What the sandbox costs at start-up: each mechanism against no sandbox, in one run.

    .venv/bin/python benchmarks/bench_sandbox.py [--rounds N] [--markdown]

1. Spawn to first byte, in-process: ``prepare`` + ``Popen`` of a program that writes one byte, until the
   parent reads it (what the server's boot waits for), for: plain ``subprocess.Popen``; Landlock + seccomp
   without namespaces; the default (user, PID, mount, IPC namespaces + Landlock + seccomp); with a network
   namespace (``network: deny``); with the proxy (``network: {hosts}``). ``prepare`` alone is listed too.
   If bubblewrap is installed, ``bwrap`` with comparable namespaces is timed as a reference.
2. End to end: a fresh ``mcpwrap wrap`` process until the first response (initialize) from tests/fake_server.py,
   with ``sandbox: {enabled: false}`` and with the default sandbox.

Median and the 10th-90th percentile spread over N rounds; rows of one run are comparable, runs on a loaded
2-core VM move by tens of percent. Print ``uptime`` with the numbers.
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
sys.path.insert(0, str(ROOT))

from mcpwrap._sandbox import prepare  # noqa: E402
from mcpwrap._sandbox.settings import HostRule, ServerSandbox  # noqa: E402

FAKE = [sys.executable, str(ROOT / "tests" / "fake_server.py")]
FIRST_BYTE = ["/bin/echo", "x"]


def spread(samples: list[float]) -> tuple[float, float, float]:
    s = sorted(samples)
    q = statistics.quantiles(s, n=10) if len(s) >= 10 else [s[0]] * 9
    return statistics.median(s), q[0], q[-1]


def first_byte(spawn) -> float:
    t = time.perf_counter()
    child = spawn()
    child.stdout.read(1)
    elapsed = time.perf_counter() - t
    child.stdout.close()
    child.wait()
    return elapsed * 1000


def in_process(rounds: int) -> list[tuple[str, list[float]]]:
    home = tempfile.mkdtemp(prefix="bench-home-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPWRAP")}
    env["HOME"] = home
    popen_kw = dict(stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    cases = {
        "no sandbox (subprocess.Popen)": lambda: subprocess.Popen(FIRST_BYTE, env=env, **popen_kw),
    }

    def sandboxed(settings: ServerSandbox, use_ns: bool = True):
        def spawn():
            plan = prepare(FIRST_BYTE, env, None, settings, "bench", use_namespaces=use_ns)
            child = plan.popen(FIRST_BYTE, **popen_kw)
            child._bench_plan = plan  # closed below
            return child

        return spawn

    cases["Landlock + seccomp, no namespaces"] = sandboxed(ServerSandbox(), use_ns=False)
    cases["default: + user/PID/mount/IPC namespaces"] = sandboxed(ServerSandbox())
    cases["network: deny (+ network namespace)"] = sandboxed(ServerSandbox(network="deny"))
    cases["network: {hosts} (+ proxy)"] = sandboxed(ServerSandbox(network="hosts", hosts=(HostRule("example.com"),)))
    if shutil.which("bwrap"):
        bwrap = [
            "bwrap", "--unshare-user", "--unshare-pid", "--unshare-ipc", "--ro-bind", "/", "/", "--dev", "/dev",
            "--proc", "/proc", "--die-with-parent", "--", *FIRST_BYTE,
        ]
        cases["reference: bwrap (user/PID/IPC ns, ro /, new /proc)"] = lambda: subprocess.Popen(bwrap, env=env, **popen_kw)
    results: dict[str, list[float]] = {name: [] for name in cases}
    prep: list[float] = []
    for _ in range(rounds):  # interleaved: load changes hit every case alike
        for name, spawn in cases.items():
            child = None
            t = time.perf_counter()
            child = spawn()
            child.stdout.read(1)
            results[name].append((time.perf_counter() - t) * 1000)
            child.stdout.close()
            child.wait()
            plan = getattr(child, "_bench_plan", None)
            if plan is not None:
                plan.close()
        t = time.perf_counter()
        plan = prepare(FIRST_BYTE, env, None, ServerSandbox(), "bench")
        prep.append((time.perf_counter() - t) * 1000)
        if plan.launcher and plan.launcher.ruleset:
            plan.launcher.ruleset.close()
    shutil.rmtree(home, ignore_errors=True)
    return [("prepare() alone (rules, seccomp program)", prep)] + list(results.items())


def end_to_end(rounds: int) -> list[tuple[str, list[float]]]:
    # Not under /tmp: mcpwrap's files there would split /tmp (see docs/sandbox.md), which real setups never do.
    work = Path(tempfile.mkdtemp(prefix=".mcpwrap-bench-", dir=os.path.expanduser("~")))
    off = work / "off.yaml"
    off.write_text("version: v1\nsandbox: {enabled: false}\n")
    plain = work / "plain.yaml"
    plain.write_text("version: v1\n")  # the default sandbox, settings known without parsing (see _sandbox/wrap.py)
    deny = work / "deny.yaml"
    deny.write_text("version: v1\nsandbox: {network: deny}\n")  # parsed before the spawn
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCPWRAP")}
    env["MCPWRAP_HOME"] = str(work / "home")
    params = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "b", "version": "0"}}
    init = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}).encode() + b"\n"
    cases = {
        "mcpwrap wrap, sandbox: {enabled: false}": off,
        "mcpwrap wrap, default sandbox": plain,
        "mcpwrap wrap, sandbox: {network: deny}": deny,
    }
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, policy in cases.items():
            cmd = [sys.executable, "-m", "mcpwrap", "wrap", "--audit-log", str(work / "home" / "a.jsonl"), "--policy", str(policy)]
            t = time.perf_counter()
            p = subprocess.Popen([*cmd, "--", *FAKE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=str(work))
            p.stdin.write(init)
            p.stdin.flush()
            p.stdout.readline()
            results[name].append((time.perf_counter() - t) * 1000)
            p.stdin.close()
            p.wait()
    shutil.rmtree(work, ignore_errors=True)
    return list(results.items())


def main() -> None:
    # Start-up is measured as installed: from compiled bytecode (pip compiles it; PYTHONDONTWRITEBYTECODE, set in
    # some shells, would make every fresh mcpwrap process compile its modules again).
    import compileall

    compileall.compile_dir(str(ROOT / "mcpwrap"), quiet=1)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    load = os.getloadavg()
    rows = []
    base = None
    for name, samples in in_process(args.rounds):
        med, lo, hi = spread(samples)
        if name.startswith("no sandbox"):
            base = med
        rows.append((name, med, lo, hi, None if base is None or name.startswith(("no sandbox", "prepare")) else med - base))
    e2e_base = None
    for name, samples in end_to_end(args.rounds):
        med, lo, hi = spread(samples)
        if "enabled: false" in name:
            e2e_base = med
        rows.append((name, med, lo, hi, None if e2e_base is None or "enabled: false" in name else med - e2e_base))
    user = "root" if os.geteuid() == 0 else "user"
    if args.markdown:
        print(f"load average {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}; as {user}; {args.rounds} rounds\n")
        print("| case | median | p10-p90 | added |")
        print("|---|---|---|---|")
        for name, med, lo, hi, added in rows:
            print(f"| {name} | {med:.1f} ms | {lo:.1f}-{hi:.1f} ms | {'' if added is None else f'{added:+.1f} ms'} |")
    else:
        print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}  ({user}, {args.rounds} rounds)")
        for name, med, lo, hi, added in rows:
            print(f"{name:<58} {med:8.1f} ms  [{lo:6.1f} - {hi:6.1f}]  {'' if added is None else f'{added:+.1f} ms'}")


if __name__ == "__main__":
    main()
