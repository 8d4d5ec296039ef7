#!/usr/bin/env python3
"""Human approval: what the approval machinery costs, direct vs wrapped, side by side in one run.

    .venv/bin/python benchmarks/bench_approval.py [--calls N]

Rows (official SDK client, server-everything, `echo`):
  direct                               the server alone
  wrapped, no approve rule             the approval interceptor in the chain, nothing to approve
  wrapped, elicitation (instant)       every call held; the client's form callback approves at once
  wrapped, terminal (instant)          every call held; a watcher reads the one-time code from the notification
                                       and approves through the queue as `mcpwrap approve` does, at once
The last two measure mcpwrap's own round trip (the person's thinking and typing time excluded). The terminal row
is bounded below by the queue's poll interval and includes the code's key stretching (scrypt) twice: once by
the approving side, once by the wrapper verifying it. Also printed: the interceptor's cost on a message without
an approval note (the common case), in microseconds, and the cost of one code stretching.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]

import anyio  # noqa: E402
from approval_rig import ENV, HOOKS, code_in, fake_notifier, notifications  # noqa: E402
from mcp import types  # noqa: E402
from rig import EVERYTHING, child_env, sdk_session, wrap_command  # noqa: E402


def env_for(home: str, channels: list[str] | None) -> dict:
    extra = {"MCPWRAP_HOME": home}
    if channels is not None:
        extra.update(
            fake_notifier(Path(home).parent / "screen"),  # a private session bus whose notification service records
            MCPWRAP_TEST_HOOKS=HOOKS,
            PYTHONPATH=str(ROOT / "tests"),
            **{ENV: json.dumps({"tools": ["echo"], "channels": channels, "timeout": 60})},
        )
    return child_env(**extra)


async def run_calls(cmd: list[str], env: dict, calls: int, **kw) -> list[float]:
    times = []
    async with sdk_session(cmd, env=env, **kw) as s:
        await s.call_tool("echo", {"message": "warm-up"})
        for i in range(calls):
            t0 = time.perf_counter()
            result = await s.call_tool("echo", {"message": f"call {i}"})
            times.append(time.perf_counter() - t0)
            assert not result.is_error, result
    return times


def terminal_watcher(home: str, stop: threading.Event) -> None:
    """A person who approves each call the moment its notification appears (what `mcpwrap approve` writes)."""
    from mcpwrap._state.approvals import ApprovalError, ApprovalQueue, call_digest, decision_mac, normalize_code

    queue = ApprovalQueue(Path(home) / "approvals")
    screen = Path(home).parent / "screen"
    done: set[str] = set()
    while not stop.is_set():
        codes = dict(filter(None, (code_in(text) for text in notifications(screen))))
        for entry in queue.pending() if queue.dir.exists() else []:
            code = codes.get(entry["id"])
            if code is None or entry["id"] in done:
                continue
            digest = call_digest(entry["server"], entry["call"])
            try:
                mac = decision_mac(normalize_code(code) or "", entry["id"], digest, "approve", "once")
                queue.send_decision(entry["id"], "approve", digest=digest, mac=mac)
                done.add(entry["id"])
            except ApprovalError:
                pass
        time.sleep(0.01)


async def approve_now(ctx, params):
    return types.ElicitResult(action="accept", content={"decision": "approve"})


def interceptor_cost() -> float:
    from mcpwrap._chain import ChainContext
    from mcpwrap._message import Direction, Message, Session
    from mcpwrap.interceptors.approval import ApprovalInterceptor, ApprovalSettings

    session = Session(session_id="bench", server="bench")
    icpt = ApprovalInterceptor(ChainContext(session))
    icpt.configure(ApprovalSettings())
    msg = Message(
        Direction.CLIENT_TO_SERVER, b"", {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "x"}}}, session
    )
    n = 200_000
    return min(timeit.repeat(lambda: icpt.inspect(msg), number=n, repeat=5)) / n * 1e6


async def main(calls: int) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = os.path.join(tmp, "home")
        audit = os.path.join(tmp, "audit.jsonl")
        rows.append(("direct", await run_calls(EVERYTHING, env_for(home, None), calls)))
        rows.append(("wrapped, no approve rule", await run_calls(wrap_command(EVERYTHING, audit_log=audit), env_for(home, None), calls)))
        rows.append(
            (
                "wrapped, elicitation (instant)",
                await run_calls(
                    wrap_command(EVERYTHING, audit_log=audit, hooked=True), env_for(home, ["elicitation"]), calls, elicitation_callback=approve_now
                ),
            )
        )
        stop = threading.Event()
        watcher = threading.Thread(target=terminal_watcher, args=(home, stop), daemon=True)
        watcher.start()
        try:
            rows.append(
                ("wrapped, terminal (instant)", await run_calls(wrap_command(EVERYTHING, audit_log=audit, hooked=True), env_for(home, ["terminal"]), calls))
            )
        finally:
            stop.set()
    base = statistics.median(rows[0][1])
    print(f"{'echo round trip (' + str(calls) + ' calls)':<34} {'p50 ms':>9} {'p95 ms':>9} {'x direct':>9}")
    for name, times in rows:
        times.sort()
        p50 = statistics.median(times)
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"{name:<34} {p50 * 1000:>9.2f} {p95 * 1000:>9.2f} {p50 / base:>9.2f}")
    print(f"\napproval interceptor on a call without an approval note: {interceptor_cost():.2f} µs per message")
    print(f"one-time code stretching (scrypt, once per side of a terminal approval): {code_stretch_cost():.1f} ms")


def code_stretch_cost() -> float:
    from mcpwrap._state.approvals import decision_mac

    return min(timeit.repeat(lambda: decision_mac("7KQ2M9XD", "1a2b3c4d", "sha256:x", "approve", "once"), number=1, repeat=5)) * 1000


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    anyio.run(main, args.calls)
