#!/usr/bin/env python3
"""Where mcpwrap's time goes per message, stage by stage, in-process (no pipes, no threads, no other process).

    python benchmarks/profile_relay.py [--markdown] [--policy FILE] [--cases small,prose,...]

The relay's own per-message code is driven directly: the same ``LineReader.feed``, strict decode, envelope
check, ``Relay._handle_message`` (request tracking, ``Chain.run``, ``Chain.observe``), ``AuditLog.flush`` and
``writev`` that a pump runs, on the built-in default policy (every interceptor on) with a real hash-chained
audit log in a temporary directory. Each stage is timed (CPU time of the thread, see ``CLOCK``) around the real call, and
every interceptor's ``inspect``/``observe`` is timed on its own. Writes go to ``/dev/null`` (the pipe hops are
what ``bench_relay.py`` measures against the floor relay).

This is CPU work only, so it is steady on a loaded machine where the end-to-end figures are not: the medians
of many repetitions, in microseconds per message. What the end-to-end "added latency" holds beyond these
sums is scheduling and I/O: thread wake-ups, GIL hand-offs, pipe hops.

The audit flush is then taken apart (sealing, ``flock``/``funlock``, the ``fstat``+``stat`` that notice a
rotation by another writer, the ``write``), and the cost of start-up is read from ``python -X importtime``.
It reaches into mcpwrap's private modules on purpose: it is a study tool, to be re-run after each change.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from echo_server import TOOLS, prose  # noqa: E402  (the same tools and prose as the end-to-end benchmark)

from mcpwrap._audit.writer import AuditLog  # noqa: E402
from mcpwrap._chain import Interceptor  # noqa: E402
from mcpwrap._message import Direction, Session  # noqa: E402
from mcpwrap._relay import jsonrpc as rpc  # noqa: E402
from mcpwrap._relay.framing import LineReader  # noqa: E402
from mcpwrap._relay.io import PipeWriter as _Writer  # noqa: E402
from mcpwrap._relay.relay import _DROPPED, Relay, _Batch  # noqa: E402
from mcpwrap.interceptors import build_chain, load_policy  # noqa: E402

C2S, S2C = Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT
# CPU time of this thread, not wall time: on a shared machine the process is descheduled often, and a wall
# clock would count the other processes' turns. Each reading costs ~0.5 µs; that is measured and subtracted.
CLOCK = time.thread_time_ns
CLOCK_OVERHEAD = [0]


def calibrate() -> None:
    samples = []
    for _ in range(20000):
        t = CLOCK()
        samples.append(CLOCK() - t)
    CLOCK_OVERHEAD[0] = int(statistics.median(samples))


MB = 1024 * 1024


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def request(i: int, tool: str = "echo") -> bytes:
    args = {"message": "hello"} if tool == "echo" else {}
    return dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": tool, "arguments": args}})


def result(i: int, text: str) -> bytes:
    return dumps({"jsonrpc": "2.0", "id": i, "result": {"content": [{"type": "text", "text": text}]}})


NOTE = b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}'

# case -> (messages per iteration as (direction, line-maker), repetitions)
CASES: dict[str, tuple[list[tuple[Direction, Callable[[int], bytes]]], int]] = {
    "small": ([(C2S, lambda i: request(i)), (S2C, lambda i: result(i, '{"message": "hello"}'))], 3000),
    "prose": ([(C2S, lambda i: request(i, "prose")), (S2C, lambda i: result(i, prose(4096)))], 2000),
    "200KB": ([(C2S, lambda i: request(i)), (S2C, lambda i: result(i, "x" * (200 * 1024)))], 200),
    "10MB": ([(C2S, lambda i: request(i)), (S2C, lambda i: result(i, "x" * (10 * MB)))], 7),
    # a result the secrets interceptor redacts: the relay re-encodes the modified message
    "200KB redacted": ([(C2S, lambda i: request(i)), (S2C, lambda i: result(i, prose(200 * 1024) + " key AKIAIOSFODNN7EXAMPLE"))], 100),
    "notification": ([(C2S, lambda i: NOTE)], 5000),
}


class Timer:
    """Accumulates nanoseconds per stage name; ``wrap`` times a callable under a name."""

    def __init__(self) -> None:
        self.ns: dict[str, list[int]] = defaultdict(list)
        self.current: dict[str, int] = defaultdict(int)

    def wrap(self, name: str, fn: Callable) -> Callable:
        current = self.current
        clock = CLOCK
        overhead = CLOCK_OVERHEAD[0]

        def timed(*a: Any, **kw: Any) -> Any:
            t = clock()
            try:
                return fn(*a, **kw)
            finally:
                current[name] += clock() - t - overhead

        return timed

    def end_iteration(self) -> None:
        for k, v in self.current.items():
            self.ns[k].append(v)
        self.current.clear()


INIT_PARAMS = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}
SERVER_INFO = {"name": "echo", "version": "1.0"}


def build(tmp: str, policy: str | None) -> tuple[Relay, AuditLog, Timer]:
    session = Session(session_id="profile", server="echo", subject="bench")
    relay = Relay(["true"], session)
    config = load_policy(policy)
    audit = AuditLog(os.path.join(tmp, "audit.jsonl"), session, config["audit"])
    chain = build_chain(config, session, audit)
    timer = Timer()
    for icpt in chain.interceptors:
        if type(icpt).inspect is not Interceptor.inspect:  # overridden: time it
            icpt.inspect = timer.wrap(f"inspect: {icpt.name}", icpt.inspect)  # type: ignore[method-assign]
        if type(icpt).observe is not Interceptor.observe:
            icpt.observe = timer.wrap(f"observe: {icpt.name}", icpt.observe)  # type: ignore[method-assign]
    relay.chain = chain
    relay.audit = audit
    devnull = os.open(os.devnull, os.O_WRONLY)
    relay.to_server = _Writer(devnull, "server")
    relay.to_client = _Writer(devnull, "client")
    audit.record("session-start")
    audit.flush()
    # What a client does first, through the chain: the session learns the protocol version and the tools
    # (schema validation has schemas to check, integrity pins the definitions and passes them).
    handshake = [
        (C2S, {"jsonrpc": "2.0", "id": "i", "method": "initialize", "params": INIT_PARAMS}),
        (S2C, {"jsonrpc": "2.0", "id": "i", "result": {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}}, "serverInfo": SERVER_INFO}}),
        (C2S, {"jsonrpc": "2.0", "method": "notifications/initialized"}),
        (C2S, {"jsonrpc": "2.0", "id": "l", "method": "tools/list"}),
        (S2C, {"jsonrpc": "2.0", "id": "l", "result": {"tools": TOOLS}}),
    ]
    for direction, envelope in handshake:
        relay._handle_message(direction, dumps(envelope), envelope, _Batch())
    audit.flush()
    assert relay.session.tools.get("prose") is not None
    return relay, audit, timer


def run_case(relay: Relay, audit: AuditLog, timer: Timer, messages: list, reps: int) -> None:
    readers = {C2S: LineReader(-1), S2C: LineReader(-1)}
    writers = {C2S: relay.to_server, S2C: relay.to_client}
    clock = CLOCK
    oh = CLOCK_OVERHEAD[0]
    current = timer.current
    lines = [[(d, make(i) + b"\n") for d, make in messages] for i in range(1, reps + 1)]
    warm = max(3, reps // 10)
    for it, batch in enumerate(lines):
        for direction, data in batch:
            t0 = clock()
            frames = readers[direction].feed(data)
            framed = clock()
            out = _Batch()
            for frame in frames:
                t1 = clock()
                value = rpc.decode(frame.raw)
                rpc.check_envelope(value)
                t2 = clock()
                res = relay._handle_message(direction, frame.raw, value, out)
                t3 = clock()
                if res is None:
                    out.forward += (frame.raw, b"\n")
                elif res is not _DROPPED:  # modified: mcpwrap serialises it, as the pump does
                    out.forward.append(rpc.encode(res))
                t4 = clock()
                current["decode + envelope check"] += t2 - t1 - oh
                current["handle_message (incl. chain)"] += t3 - t2 - oh
                current["encode (modified messages)"] += t4 - t3 - oh
            t4 = clock()
            relay._flush_audit()
            t5 = clock()
            writers[direction].write(*out.forward)
            if out.reply:
                writers[direction.reverse].write(*out.reply)
            t6 = clock()
            current["framing (feed)"] += framed - t0 - oh
            current["audit flush"] += t5 - t4 - oh
            current["writev"] += t6 - t5 - oh
            current["total"] += t6 - t0 - oh
        if it >= warm:
            timer.end_iteration()
        else:
            current.clear()


def profile_cases(args: argparse.Namespace) -> list[tuple[str, dict[str, float]]]:
    out = []
    for case in args.cases:
        messages, reps = CASES[case]
        with tempfile.TemporaryDirectory(prefix="mcpwrap-profile-") as tmp:
            os.environ["MCPWRAP_HOME"] = os.path.join(tmp, "home")
            relay, audit, timer = build(tmp, args.policy)
            run_case(relay, audit, timer, messages, reps)
            audit.close()
        med = {k: statistics.median(v) / 1000 for k, v in timer.ns.items()}
        out.append((case, med))
    return out


# --- the audit flush taken apart -----------------------------------------------------------------------------------


def audit_parts(reps: int = 20000) -> list[tuple[str, float]]:
    """Median µs of each part of one flush of one typical record (a small tools/call result)."""
    try:
        from mcpwrap._audit.seal import Sealer
    except ImportError:  # before the audit package was split
        from mcpwrap._audit.chain import Sealer  # type: ignore[no-redef]

    rows = []
    with tempfile.TemporaryDirectory(prefix="mcpwrap-audit-") as tmp:
        path = os.path.join(tmp, "audit.jsonl")
        session = Session(session_id="profile", server="echo", subject="bench")
        log = AuditLog(path, session, key=b"k" * 32)
        fields = {"direction": "s2c", "kind": "result", "id": 7, "method": "tools/call", "tool": "echo", "action": "pass", "size": 84, "latency_ms": 0.211}

        def med(fn: Callable[[], Any], n: int = reps) -> float:
            samples = []
            clock = CLOCK
            oh = CLOCK_OVERHEAD[0]
            for _ in range(n):
                t = clock()
                fn()
                samples.append(clock() - t - oh)
            return statistics.median(samples) / 1000

        log.record("session-start")
        log.flush()
        rows.append(("record(): build + serialise one record", med(lambda: log.record_fields("message", dict(fields)))))
        log._pending.clear()

        def one_flush() -> None:
            log.record_fields("message", dict(fields))
            log.flush()

        rows.append(("record() + flush() of one record (today, per message)", med(one_flush)))

        def sixteen() -> None:
            for _ in range(16):
                log.record_fields("message", dict(fields))
            log.flush()

        rows.append(("record() + flush() of 16 records, per record (group commit)", med(sixteen, reps // 16) / 16))
        body = log._body("message", dict(fields))[1]
        sealer = Sealer(b"k" * 32)
        prev = b"0" * 64
        rows.append(("seal one record (HMAC-SHA256)", med(lambda: sealer.seal([body], 0, 0, prev))))
        lock_fd = os.open(path + ".lock", os.O_RDWR)
        fd = os.open(path, os.O_RDWR | os.O_APPEND)

        def lock_unlock() -> None:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            fcntl.flock(lock_fd, fcntl.LOCK_UN)

        rows.append(("flock + unlock (uncontended)", med(lock_unlock)))
        rows.append(("fstat(fd) + stat(path): notice a rotation", med(lambda: (os.fstat(fd), os.stat(path)))))
        line = sealer.seal([body], 0, 0, prev)[0]
        data = b"".join(line)
        wfd = os.open(os.path.join(tmp, "w.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        rows.append((f"write() of one sealed record ({len(data)} B, O_APPEND, page cache)", med(lambda: os.write(wfd, data))))
        rows.append(("fdatasync() after that write (what fsync durability costs)", med(lambda: (os.write(wfd, data), os.fdatasync(wfd)), 300)))
        os.close(wfd)
        os.close(fd)
        os.close(lock_fd)
        log.close()
    return rows


# --- start-up ---------------------------------------------------------------------------------------------------------


def importtime(runs: int = 5) -> tuple[float, list[tuple[str, float, float]]]:
    """(best total of `wrap`'s imports in ms, [(top-level module, self ms, cumulative ms)] best of ``runs``)."""
    best: dict[str, tuple[float, float]] = {}
    totals = []
    with tempfile.TemporaryDirectory(prefix="mcpwrap-importtime-") as tmp:
        init = dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INIT_PARAMS}) + b"\n"
        env = dict(os.environ, MCPWRAP_HOME=os.path.join(tmp, "home"))
        for _ in range(runs):
            audit = os.path.join(tmp, "a.jsonl")
            cmd = [sys.executable, "-X", "importtime", "-m", "mcpwrap", "wrap", "--audit-log", audit, "--", sys.executable, str(HERE / "echo_server.py")]
            proc = subprocess.run(cmd, input=init, capture_output=True, env=env, timeout=60)
            total = 0.0
            for ln in proc.stderr.decode().splitlines():
                if not ln.startswith("import time:") or "self [us]" in ln:
                    continue
                self_us, cum_us, raw_name = ln[len("import time:"):].split("|")
                self_ms, cum_ms = int(self_us) / 1000, int(cum_us) / 1000
                key = raw_name[1:].rstrip()  # one space after the bar; more means nested
                if not key.startswith(" "):
                    total += cum_ms
                old = best.get(key)
                if old is None or cum_ms < old[1]:
                    best[key] = (self_ms, cum_ms)
            totals.append(total)
    tops = sorted(((k.strip(), v[0], v[1]) for k, v in best.items() if not k.startswith("  ")), key=lambda r: -r[2])
    return min(totals), tops


# --- output -------------------------------------------------------------------------------------------------------------


def table(header: tuple, rows: list[tuple], markdown: bool) -> str:
    rows = [tuple(str(x) for x in r) for r in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=False)]
    return "\n".join("  ".join(x.ljust(w) for x, w in zip(r, widths, strict=False)).rstrip() for r in (header, *rows))


STAGE_ORDER = ["framing (feed)", "decode + envelope check", "handle_message (incl. chain)", "encode (modified messages)"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--policy", help="policy file (default: the built-in default policy, every interceptor on)")
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    ap.add_argument("--no-startup", action="store_true", help="skip the importtime runs")
    args = ap.parse_args()
    args.cases = [c for c in args.cases.split(",") if c]
    calibrate()
    results = profile_cases(args)
    stages: list[str] = []
    for _, med in results:
        for k in med:
            if k not in stages:
                stages.append(k)
    first = [s for s in STAGE_ORDER if s in stages]
    inner = sorted(s for s in stages if s.startswith(("inspect:", "observe:")))
    last = [s for s in ("audit flush", "writev", "total") if s in stages]
    header = ("stage (µs per iteration: request + response)", *(c for c, _ in results))
    rows = []
    for s in first + inner + last:
        label = "    " + s if s in inner else s
        rows.append((label, *(f"{med.get(s, 0.0):.1f}" for _, med in results)))
    print(table(header, rows, args.markdown))
    print("\n(inspect:/observe: rows are inside handle_message; 'notification' is one c2s message per iteration)\n")
    print(table(("one audit flush, taken apart", "µs (median)"), [(k, f"{v:.2f}") for k, v in audit_parts()], args.markdown))
    if not args.no_startup:
        total, tops = importtime()
        print(f"\nimports of `mcpwrap wrap` up to the first reply (python -X importtime, best of 5): {total:.1f} ms")
        print(table(("top-level import", "self ms", "cumulative ms"), [(n, f"{s:.1f}", f"{c:.1f}") for n, s, c in tops[:15]], args.markdown))
    print(f"\npython {sys.version.split()[0]}; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
