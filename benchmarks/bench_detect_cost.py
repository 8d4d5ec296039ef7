"""What detection adds to one tool result: the schema, secrets and injection interceptors in-process.

    .venv/bin/python benchmarks/bench_detect_cost.py [--runs N]

For results of 4 KB, 200 KB and 10 MB of real prose/source/log text from this machine (bench_content's corpus),
the median time of ``inspect`` of the three content interceptors with the default policy, in three
configurations: every detector on (the injection interceptor's learned tier in its default mode), the learned
tier off, and the injection interceptor off. The relay's own cost is not included (bench_relay measures it):
these are the milliseconds detection adds to a result over relaying it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from bench_content import corpus_text  # noqa: E402

SIZES = {"4 KB": 4 * 1024, "200 KB": 200 * 1024, "10 MB": 10 * 1024 * 1024}
RUNS = {"4 KB": 200, "200 KB": 40, "10 MB": 5}


def measure(text: str, runs: int, injection: dict) -> float:
    from mcpwrap._chain import ChainContext
    from mcpwrap._message import Direction, Message, PendingRequest, Session
    from mcpwrap.interceptors import InjectionInterceptor, SchemaInterceptor, SecretsInterceptor, parse_policy

    config = parse_policy({"injection": injection})
    session = Session(session_id="bench", server="filesystem")
    session.tools.record_page(
        [{"name": "read_text_file", "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}],
        first_page=True,
        last_page=True,
    )
    icpts = [cls.from_config(config, ChainContext(session)) for cls in (SchemaInterceptor, SecretsInterceptor, InjectionInterceptor)]
    request = PendingRequest(1, "tools/call", Direction.CLIENT_TO_SERVER, {"name": "read_text_file", "arguments": {"path": "/x"}})
    totals = []
    for i in range(runs + 2):
        fresh = text[:-1] + text[-1:]  # a new string per run, as every relayed message is
        env = {"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": fresh}]}}
        msg = Message(Direction.SERVER_TO_CLIENT, b"", env, session, request)
        t = time.perf_counter()
        for icpt in icpts:
            if icpt.active:
                icpt.inspect(msg)
        if i >= 2:  # the first runs compile patterns and load the weights
            totals.append(time.perf_counter() - t)
    return statistics.median(totals) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=float, default=1.0, help="multiply the number of runs")
    args = ap.parse_args()
    corpus = corpus_text(max(SIZES.values()))
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| size | every detector on (ms) | learned tier off (ms) | injection off (ms) | target |")
    print("|---|---|---|---|---|")
    targets = {"4 KB": "≤ 0.3 ms", "200 KB": "≤ 3 ms", "10 MB": "≤ +100 ms"}
    for label, size in SIZES.items():
        text = corpus[:size]
        runs = max(3, int(RUNS[label] * args.runs))
        on = measure(text, runs, {})
        no_model = measure(text, runs, {"model": "off"})
        off = measure(text, runs, {"enabled": False})
        print(f"| {label} | {on:.3f} | {no_model:.3f} | {off:.3f} | {targets[label]} |", flush=True)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
