"""Policy cost per message: how much a 1 000-rule policy adds to a ``tools/call``, and to a whole round trip.

Part 1 (in process) times the policy interceptor's decision for one ``tools/call`` at a time, the way the
relay calls it, for policies of 0, 10 and 1 000 rules — a realistic 1 000-rule policy (rules spread over
many tools, subjects and argument globs, with the called tool's rules at the end) and a worst case where all
1 000 rules name the called tool and each must test its argument globs. Each call is timed on its own
(perf_counter_ns) and p50/p99 are reported, with the difference to no policy.

Part 2 (end to end) runs the official SDK client against server-everything directly, through mcpwrap with the
built-in policy, and through mcpwrap with the 1 000-rule policy, and reports p50/p99 round-trip latency of
``echo`` calls and the ratios to direct.

    .venv/bin/python benchmarks/bench_policy.py [--calls N] [--e2e-calls N] [--no-e2e]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from mcpwrap._chain import ChainContext  # noqa: E402
from mcpwrap._message import Direction, Message, Session  # noqa: E402
from mcpwrap._policy.engine import policy_of  # noqa: E402
from mcpwrap.interceptors import parse_policy as parse_config  # noqa: E402
from mcpwrap.interceptors.policy import PolicyInterceptor  # noqa: E402

BUDGET_US = 50.0  # the target: what a 1 000-rule policy may add to one tools/call
E2E_ROUNDS = 5  # end-to-end runs alternate the setups this many times


def realistic_rules(n: int) -> list[dict]:
    rules = []
    for i in range(n - 4):
        kind = i % 4
        if kind == 0:
            rules.append(
                {
                    "name": f"deny-{i}",
                    "action": "deny",
                    "match": {"methods": ["tools/call"], "tools": [f"tool_{i}"], "arguments": {"path": ["/etc/*", "*.pem"]}},
                }
            )
        elif kind == 1:
            rules.append({"name": f"team-{i}", "action": "allow", "match": {"tools": [f"svc{i}_*"], "subjects": [f"team-{i}-*"]}})
        elif kind == 2:
            rules.append({"name": f"cmd-{i}", "action": "deny", "match": {"tools": [f"exec_{i}"], "argument_patterns": {"command": [rf"\brm\s+-rf\b{i}"]}}})
        else:
            rules.append({"name": f"server-{i}", "action": "deny", "match": {"servers": [f"srv-{i}"], "tools": ["*"]}})
    rules += [
        {"name": "keys", "action": "deny", "match": {"tools": ["read_file"], "arguments": {"path": ["*/.ssh/*", "/etc/*", "*.env"]}}},
        {"name": "exec", "action": "deny", "match": {"tools": ["exec_command"], "arguments": {"command": ["*rm -rf*", "*sudo*"]}}},
        {"name": "meta", "action": "deny", "match": {"methods": ["tools/call"], "arguments": {"*": ["*169.254.169.254*"]}}},
        {"name": "rest", "action": "allow"},
    ]
    return rules


def worst_rules(n: int) -> list[dict]:
    # Every rule names the called tool and has argument globs that do not match: all n are tested per call.
    return [
        {"name": f"w{i}", "action": "deny", "match": {"tools": ["read_file"], "arguments": {"path": [f"/forbidden/{i}/*", f"*.secret{i}"]}}}
        for i in range(n - 1)
    ] + [{"name": "rest", "action": "allow"}]


def message(session: Session, i: int, tool: str, args: dict) -> Message:
    env = {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": tool, "arguments": args}}
    return Message(Direction.CLIENT_TO_SERVER, json.dumps(env).encode(), env, session)


def time_inspect(doc: dict | None, calls: int, tool: str, args_for) -> list[float]:
    session = Session(session_id=f"bench-{time.monotonic_ns()}", server="everything", subject="bob")
    icpt = None
    if doc is not None:
        icpt = PolicyInterceptor(ChainContext(session))
        icpt.configure(policy_of(parse_config(doc), overrides=()))
    msgs = [message(session, i, tool, args_for(i)) for i in range(calls)]
    out = []
    clock = time.perf_counter_ns
    for m in msgs:
        t0 = clock()
        if icpt is not None:
            icpt.inspect(m)
        out.append((clock() - t0) / 1000.0)
    return out


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def part1(calls: int) -> dict:
    # Distinct argument values per call, so no per-call cache can hide the matching work.
    read_args = lambda i: {"path": f"/home/bob/project/src/module_{i}.py"}  # noqa: E731
    long_args = lambda i: {"path": f"/home/bob/{'x' * 10_000}/{i}.txt"}  # noqa: E731
    cases = [
        ("no policy", None, "read_file", read_args),
        ("10 rules", {"rules": realistic_rules(10)}, "read_file", read_args),
        ("1 000 rules (realistic)", {"rules": realistic_rules(1000)}, "read_file", read_args),
        ("1 000 rules, 10 KB argument", {"rules": realistic_rules(1000)}, "read_file", long_args),
        ("1 000 rules (worst: all test args)", {"rules": worst_rules(1000)}, "read_file", read_args),
    ]
    rows = []
    base50 = 0.0
    for name, doc, tool, args_for in cases:
        time_inspect(doc, 200, tool, args_for)  # warm caches and the allocator
        samples = time_inspect(doc, calls, tool, args_for)
        p50, p99 = pct(samples, 0.5), pct(samples, 0.99)
        if doc is None:
            base50 = p50
        rows.append((name, p50, p99, p50 - base50, statistics.fmean(samples)))
    print(f"\nPart 1 — policy decision per tools/call, in process ({calls} calls each)")
    print(f"{'policy':38} {'p50 µs':>9} {'p99 µs':>9} {'added p50':>10} {'mean µs':>9}")
    for name, p50, p99, added, mean in rows:
        print(f"{name:38} {p50:9.1f} {p99:9.1f} {added:10.1f} {mean:9.1f}")
    realistic = rows[2]
    verdict = "within" if realistic[1] <= BUDGET_US else "OVER"
    print(
        f"→ a realistic 1 000-rule policy adds {realistic[3]:.1f} µs (p50), {realistic[2]:.1f} µs (p99) per tools/call: {verdict} the {BUDGET_US:.0f} µs budget"
    )
    return {name: {"p50": p50, "p99": p99} for name, p50, p99, _, _ in rows}


async def _round_trips(command: list[str], calls: int) -> list[float]:
    from rig import child_env, sdk_session

    out = []
    async with sdk_session(command, env=child_env()) as s:
        for _ in range(20):
            await s.call_tool("echo", {"message": "warm"})
        for i in range(calls):
            t0 = time.perf_counter_ns()
            await s.call_tool("echo", {"message": f"m{i}"})
            out.append((time.perf_counter_ns() - t0) / 1000.0)
    return out


def part2(calls: int) -> None:
    import anyio
    from rig import EVERYTHING, wrap_command

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MCPWRAP_HOME"] = tmp
        big = Path(tmp) / "policy-1000.yaml"
        doc = {"rules": realistic_rules(1000)}
        doc["rules"].insert(-1, {"name": "echo-ok", "action": "allow", "match": {"tools": ["echo"]}})
        import yaml

        big.write_text(yaml.safe_dump(doc))
        audit = str(Path(tmp) / "audit.jsonl")
        setups = [
            ("direct", EVERYTHING),
            ("mcpwrap, built-in policy", wrap_command(EVERYTHING, audit_log=audit)),
            ("mcpwrap, 1 000-rule policy", wrap_command(EVERYTHING, "--policy", str(big), audit_log=audit)),
        ]
        # Rounds alternate the setups, so a change in machine load hits all of them alike.
        samples: dict[str, list[float]] = {name: [] for name, _ in setups}
        for _ in range(E2E_ROUNDS):
            for name, cmd in setups:
                samples[name] += anyio.run(_round_trips, cmd, max(1, calls // E2E_ROUNDS))
        rows = [(name, pct(samples[name], 0.5), pct(samples[name], 0.99)) for name, _ in setups]
    d50, d99 = rows[0][1], rows[0][2]
    print(f"\nPart 2 — echo round trip, SDK client ↔ server-everything ({calls} calls each)")
    print(f"{'setup':30} {'p50 µs':>9} {'p99 µs':>9} {'p50 ratio':>10} {'p99 ratio':>10}")
    for name, p50, p99 in rows:
        print(f"{name:30} {p50:9.0f} {p99:9.0f} {p50 / d50:10.2f} {p99 / d99:10.2f}")
    print(f"→ the 1 000-rule policy vs the built-in one: {rows[2][1] - rows[1][1]:+.0f} µs at p50")


def part0() -> None:
    """Why RE2: a hostile pattern on a short hostile argument, Python's backtracking ``re`` vs RE2."""
    import re

    from mcpwrap._re2 import compile_regex

    pattern = r"(a+)+$"
    rx = compile_regex(pattern)
    print(f"\nPart 0 — regex engine, pattern {pattern!r} on 'a'*n + '!'")
    print(f"{'n':>9} {'python re ms':>13} {'RE2 ms':>9} {'ratio':>9}")
    for n in (16, 18, 20, 1_000_000):
        text = "a" * n + "!"
        t0 = time.perf_counter()
        rx.search(text)
        r2 = (time.perf_counter() - t0) * 1000
        if n <= 20:
            t0 = time.perf_counter()
            re.search(pattern, text)
            py = (time.perf_counter() - t0) * 1000
            print(f"{n:9d} {py:13.1f} {r2:9.3f} {py / r2:9.0f}")
        else:
            print(f"{n:9d} {'(years)':>13} {r2:9.3f} {'':>9}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--e2e-calls", type=int, default=500)
    ap.add_argument("--no-e2e", action="store_true")
    a = ap.parse_args()
    part0()
    part1(a.calls)
    if not a.no_e2e:
        part2(a.e2e_calls)


if __name__ == "__main__":
    main()
