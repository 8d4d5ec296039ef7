"""Content-security throughput: a 10 MB text result through the schema, secrets and injection interceptors.

    .venv/bin/python benchmarks/bench_content.py              # interceptors in-process + end to end
    .venv/bin/python benchmarks/bench_content.py --markdown   # tables for docs/benchmarks.md

Part 1 (in-process): one ``tools/call`` result carrying 10 MB of text (real Python standard-library source,
Debian documentation and system logs from this machine, with a little non-ASCII text), run through each
interceptor's ``inspect`` with the default policy; best of N runs, MB/s of text. It is run twice, with the
linear-time RE2 engine (what mcpwrap ships) and with Python's ``re`` (``mcpwrap.testing.
use_backtracking_engine()``, which only a benchmark can call), in separate processes, to show why google-re2 is
a dependency.

Part 2 (end to end): ``@modelcontextprotocol/server-filesystem`` reads a 10 MB file, direct and through
``mcpwrap wrap`` (default policy: every interceptor on), in the same run; time per call and the ratio.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

SIZE = 10 * 1024 * 1024
RUNS = 5


def python_text(size: int = SIZE) -> str:
    """Python standard-library source only (what a coding agent reads most)."""
    stdlib = sysconfig.get_paths()["stdlib"]
    parts, total = [], 0
    for p in sorted(glob.glob(os.path.join(stdlib, "**", "*.py"), recursive=True)):
        t = Path(p).read_text(encoding="utf-8", errors="replace")
        if not t.isascii():
            continue
        parts.append(t)
        total += len(t)
        if total >= size:
            break
    return "".join(parts)[:size]


def corpus_text(size: int = SIZE) -> str:
    """Real text from this machine, interleaved: Python source, documentation, logs."""
    parts: list[str] = []
    stdlib = sysconfig.get_paths()["stdlib"]
    sources = sorted(glob.glob(os.path.join(stdlib, "*.py")))
    docs = sorted(glob.glob("/usr/share/doc/*/changelog*.gz"))[:200]
    logs = [p for p in ("/var/log/dpkg.log", "/var/log/apt/history.log", "/var/log/alternatives.log") if os.path.exists(p)]
    pools: list[list[str]] = [[], [], []]
    for p in sources:
        pools[0].append(Path(p).read_text(encoding="utf-8", errors="replace"))
    for p in docs:
        try:
            with gzip.open(p, "rt", encoding="utf-8", errors="replace") as f:
                pools[1].append(f.read(200_000))
        except OSError:
            pass
    for p in logs:
        pools[2].append(Path(p).read_text(encoding="utf-8", errors="replace"))
    pools = [p for p in pools if p]
    total = 0
    i = 0
    while total < size:
        pool = pools[i % len(pools)]
        chunk = pool[(i // len(pools)) % len(pool)]
        parts.append(chunk)
        total += len(chunk)
        i += 1
    return "".join(parts)[:size]


def measure_interceptors(runs: int, kind: str = "mixed", size: int = SIZE, engine: str = "re2") -> dict:
    if engine == "re":
        from mcpwrap.testing import use_backtracking_engine

        use_backtracking_engine()  # before the detectors are imported: they compile their patterns then
    from mcpwrap._chain import ChainContext
    from mcpwrap._message import Direction, Message, PendingRequest, Session
    from mcpwrap.interceptors import InjectionInterceptor, SchemaInterceptor, SecretsInterceptor
    from mcpwrap.interceptors import parse_policy as parse_config

    text = corpus_text(size) if kind == "mixed" else python_text(size)
    config = parse_config({})
    session = Session(session_id="bench", server="filesystem")
    session.tools.record_page(
        [{"name": "read_text_file", "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}],
        first_page=True,
        last_page=True,
    )
    icpts = [cls.from_config(config, ChainContext(session)) for cls in (SchemaInterceptor, SecretsInterceptor, InjectionInterceptor)]
    result = {"content": [{"type": "text", "text": text}]}
    envelope = {"jsonrpc": "2.0", "id": 1, "result": result}
    request = PendingRequest(1, "tools/call", Direction.CLIENT_TO_SERVER, {"name": "read_text_file", "arguments": {"path": "/x"}})
    times: dict[str, list[float]] = {i.name: [] for i in icpts}
    totals: list[float] = []
    verdicts = {}
    for _ in range(runs + 1):  # the first run also compiles the patterns: not counted
        # A new string object per run, as every relayed message is: nothing remembered from the last run counts.
        fresh = text[:-1] + text[-1:]
        envelope = {"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": fresh}]}}
        msg = Message(Direction.SERVER_TO_CLIENT, b"", envelope, session, request)
        t_all = time.perf_counter()
        for icpt in icpts:
            t = time.perf_counter()
            v = icpt.inspect(msg)
            times[icpt.name].append(time.perf_counter() - t)
            verdicts[icpt.name] = None if v is None else f"{v.action.value}:{v.rule}"
        totals.append(time.perf_counter() - t_all)
    mb = len(text.encode("utf-8")) / 1e6
    return {
        "kind": kind,
        "engine": engine,
        "mb": mb,
        "ascii": text.isascii(),
        "per": {k: min(v[1:]) for k, v in times.items()},
        "total": min(totals[1:]),
        "median": statistics.median(totals[1:]),
        "verdicts": verdicts,
    }


def end_to_end(runs: int) -> dict:
    from rig import FILESYSTEM, RawPeer, wrap_command

    text = corpus_text()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.txt"
        path.write_text(text, encoding="utf-8")
        server = [*FILESYSTEM, tmp]
        out = {}
        for label, cmd in (("direct", server), ("wrapped", wrap_command(server, audit_log=Path(tmp) / "audit.jsonl"))):
            with RawPeer(cmd) as peer:
                peer.initialize()
                peer.request(1, "tools/list")
                samples = []
                for i in range(runs + 1):
                    t = time.perf_counter()
                    reply = peer.request(10 + i, "tools/call", {"name": "read_text_file", "arguments": {"path": str(path)}}, timeout=120)
                    samples.append(time.perf_counter() - t)
                    assert "result" in reply, reply
                out[label] = statistics.median(samples[1:])
                out[label + "_action"] = (reply["result"].get("_meta") or {}).get("mcpwrap", {}).get("action", "pass")
        out["bytes"] = len(text.encode())
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--runs", type=int, default=RUNS)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--text", default="mixed", help=argparse.SUPPRESS)
    ap.add_argument("--engine", default="re2", choices=("re2", "re"), help=argparse.SUPPRESS)
    ap.add_argument("--skip-e2e", action="store_true")
    ap.add_argument("--size-kb", type=int, default=SIZE // 1024, help="size of the text result (default 10240 = 10 MB)")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure_interceptors(args.runs, args.text, args.size_kb * 1024, args.engine)))
        return
    rows = []
    for kind, engine in (("mixed", "re2"), ("python", "re2"), ("mixed", "re"), ("python", "re")):
        runs = args.runs if engine == "re2" else 1
        cmd = [sys.executable, __file__, "--child", "--runs", str(runs), "--text", kind, "--size-kb", str(args.size_kb), "--engine", engine]
        rows.append(json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout))
    sep = "|" if args.markdown else ""

    def line(cells: list[str]) -> str:
        return ("| " + " | ".join(cells) + " |") if args.markdown else "  ".join(c.ljust(16) for c in cells)

    print(
        f"{args.size_kb / 1024:g} MB text result, default policy, best of {args.runs} runs (re: 1 run). mixed = Python source + Debian changelogs + system logs"
        f" ({rows[0]['mb']:.1f} MB UTF-8, some non-ASCII); python = standard-library source ({rows[1]['mb']:.1f} MB, ASCII)\n"
    )
    head = ["text", "engine", "schema", "secrets", "injection", "all three", "throughput"]
    print(line(head))
    if args.markdown:
        print("|" + "|".join("---" for _ in head) + "|")
    for r in rows:
        print(
            line(
                [
                    r["kind"],
                    r["engine"],
                    *(f"{r['per'][k] * 1000:.2f} ms" for k in ("schema", "secrets", "injection")),
                    f"{r['total'] * 1000:.2f} ms",
                    f"{r['mb'] / r['total']:.0f} MB/s",
                ]
            )
        )
    print(f"\nverdicts (mixed, re2): {rows[0]['verdicts']}; (python, re2): {rows[1]['verdicts']}")
    if args.skip_e2e:
        return
    e2e = end_to_end(args.runs)
    print()
    head = ["server-filesystem read_text_file, 10 MB", "direct", "wrapped", "ratio", "wrapped action"]
    print(line(head))
    if args.markdown:
        print("|" + "|".join("---" for _ in head) + "|")
    print(
        line(
            [
                "median per call",
                f"{e2e['direct'] * 1000:.0f} ms",
                f"{e2e['wrapped'] * 1000:.0f} ms",
                f"{e2e['wrapped'] / e2e['direct']:.2f}×",
                e2e["wrapped_action"],
            ]
        )
    )
    del sep


if __name__ == "__main__":
    main()
