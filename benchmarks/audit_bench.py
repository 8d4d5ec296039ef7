"""Audit log cost: the sealed writer alone, and 10 000 pipelined notifications through the real mcpwrap.

    .venv/bin/python benchmarks/audit_bench.py [--messages 10000] [--rounds 5] [--compare-with main]

Table 1 — the writer alone, in CPU time of this process (steadier than wall time on a shared machine):
records per CPU-second for the unsealed design with the same serialiser (queue, one write per flush: the
cost floor), the SHA-256 chain, the HMAC-SHA256 chain, and — with ``--compare-with`` — the writer of that
revision, flushing every record or every 64 records (the relay flushes once per read, so a pipelined burst
is written in large batches).

Table 2 — end to end: a sink server that reads notifications and says "done" after the last one; the client
writes all of them at once. Direct (client ↔ server) vs wrapped (client ↔ mcpwrap ↔ server, one audit
record per message, without and with a key). Best of ``--rounds``; ratios against direct. With
``--compare-with REF`` the mcpwrap package of that git revision (e.g. ``main``, the unsealed writer) runs in
the same table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcpwrap._audit.writer import AuditLog, AuditSettings, _dumps, utc_now  # noqa: E402
from mcpwrap._message import Session  # noqa: E402

SINK = r"""
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
note = b'{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"%s"}}\n'
seen = -1
for line in sys.stdin.buffer:
    seen += 1
    if seen == 0 or seen == n:
        out.write(note % (b"ready" if seen == 0 else b"done"))
        out.flush()
"""
NOTE = b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":%d,"total":100000}}\n'


def bench_writer(records: int, batch: int, key: bytes | None, sealed: bool) -> float:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "a.jsonl")
        fields = {"direction": "c2s", "kind": "notification", "method": "notifications/progress", "action": "pass", "size": 96}
        if sealed:
            log = AuditLog(path, Session("bench", "bench", "me"), AuditSettings(rotate_size=0), key=key)
            start = time.process_time()
            for i in range(records):
                log.record("message", **fields)
                if (i + 1) % batch == 0:
                    log.flush()
            log.close()
        else:  # the unsealed design: serialise, queue, one O_APPEND write per flush
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            pending = []
            start = time.process_time()
            for i in range(records):
                rec = {"ts": utc_now(), "event": "message", "session": "bench", "server": "bench", "subject": "me", **fields}
                pending.append(_dumps(rec) + b"\n")
                if (i + 1) % batch == 0:
                    os.write(fd, b"".join(pending))
                    pending.clear()
            os.close(fd)
        return records / (time.process_time() - start)


def run_burst(cmd: list[str], n: int, env: dict) -> float:
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdin and proc.stdout
    proc.stdin.write(NOTE % -1)
    proc.stdin.flush()
    assert b"ready" in proc.stdout.readline()
    payload = b"".join(NOTE % i for i in range(n))
    start = time.perf_counter()
    proc.stdin.write(payload)
    proc.stdin.flush()
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    assert b"done" in line, line
    proc.stdin.close()
    proc.wait(timeout=30)
    return n / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--compare-with", metavar="REF", help="also run the mcpwrap package of this git revision")
    ap.add_argument("--skip-writer", action="store_true", help="only the end-to-end table")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as d:
        ref = extract(args.compare_with, Path(d)) if args.compare_with else None
        if not args.skip_writer:
            writer_table(args, ref)
        end_to_end_table(args, ref)


def extract(rev: str, into: Path) -> Path:
    """The mcpwrap package of a git revision, importable with PYTHONPATH=<returned dir>."""
    src = into / "ref"
    src.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "mcpwrap"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    return src


REF_WRITER = r"""
import os, sys, tempfile, time
from mcpwrap._audit.writer import AuditLog
from mcpwrap._message import Session
records, batch, rounds = map(int, sys.argv[1:4])
fields = {"direction": "c2s", "kind": "notification", "method": "notifications/progress", "action": "pass", "size": 96}
best = 0.0
for _ in range(rounds):
    with tempfile.TemporaryDirectory() as d:
        log = AuditLog(os.path.join(d, "a.jsonl"), Session("bench", "bench", "me"))
        start = time.process_time()
        for i in range(records):
            log.record("message", **fields)
            if (i + 1) % batch == 0:
                log.flush()
        log.close()
        best = max(best, records / (time.process_time() - start))
print(best)
"""


def writer_table(args: argparse.Namespace, ref: Path | None) -> None:
    print(f"## audit writer alone ({args.records} records, best of {args.rounds})\n")
    print("| writer | flush every | records/CPU-s | CPU µs/record | vs unsealed |")
    print("|---|---:|---:|---:|---:|")
    for batch in (1, 64):
        base = max(bench_writer(args.records, batch, None, sealed=False) for _ in range(args.rounds))
        for name, key, sealed in (("unsealed, same serialiser", None, False), ("SHA-256 chain", None, True), ("HMAC-SHA256 chain", b"k" * 32, True)):
            rate = base if not sealed else max(bench_writer(args.records, batch, key, sealed) for _ in range(args.rounds))
            print(f"| {name} | {batch} | {rate:,.0f} | {1e6 / rate:.2f} | {rate / base:.2f} |")
        if ref is not None:
            out = subprocess.run(
                [sys.executable, "-c", REF_WRITER, str(args.records), str(batch), str(args.rounds)],
                env=dict(os.environ, PYTHONPATH=str(ref)), check=True, capture_output=True, text=True,
            ).stdout
            rate = float(out)
            print(f"| writer at {args.compare_with} | {batch} | {rate:,.0f} | {1e6 / rate:.2f} | {rate / base:.2f} |")



def end_to_end_table(args: argparse.Namespace, ref: Path | None) -> None:
    print(f"\n## {args.messages} pipelined notifications, one audit record each (best of {args.rounds})\n")
    print("| path | msg/s | vs direct |")
    print("|---|---:|---:|")
    with tempfile.TemporaryDirectory() as d:
        sink = [sys.executable, "-c", SINK, str(args.messages)]
        env = dict(os.environ, MCPWRAP_HOME=d)
        env.pop("MCPWRAP_AUDIT_KEY", None)
        direct = max(run_burst(sink, args.messages, env) for _ in range(args.rounds))
        print(f"| direct | {direct:,.0f} | 1.00 |")
        wrap = [sys.executable, "-m", "mcpwrap", "wrap", "--audit-log", os.path.join(d, "audit.jsonl"), "--"]
        plain = max(run_burst(wrap + sink, args.messages, env) for _ in range(args.rounds))
        print(f"| mcpwrap, SHA-256 chain | {plain:,.0f} | {plain / direct:.2f} |")
        keyed_env = dict(env, MCPWRAP_AUDIT_KEY="benchmark-key-0123456789abcdef")
        keyed = max(run_burst(wrap + sink, args.messages, keyed_env) for _ in range(args.rounds))
        print(f"| mcpwrap, HMAC-SHA256 chain | {keyed:,.0f} | {keyed / direct:.2f} |")
        if ref is not None:
            ref_env = dict(env, PYTHONPATH=str(ref))
            ref_wrap = wrap[:-2] + [os.path.join(d, "audit-ref.jsonl"), "--"]
            ref_rate = max(run_burst(ref_wrap + sink, args.messages, ref_env) for _ in range(args.rounds))
            print(f"| mcpwrap at {args.compare_with} | {ref_rate:,.0f} | {ref_rate / direct:.2f} |")
        lines = Path(d, "audit.jsonl").read_bytes().count(b"\n")
        print(f"\n(audit log: {lines} records written)")


if __name__ == "__main__":
    main()
