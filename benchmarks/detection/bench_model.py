"""Cost of the learned injection tier per tool result, beside the phrase detector, in one run.

    .venv/bin/python benchmarks/detection/bench_model.py [--repeat N]

For each size (4 KB, 200 KB, 1 MB, 10 MB) and shape (a log with no word the model's pre-pass stops at; prose
dense with such words, one every few words — the model's worst case; pretty-printed JSON as a text item, as
TypeScript servers return it; HTML) a tool result is built, decoded once with ``json.loads`` (the
"direct" cost every relay pays), then scored by ``mcpwrap.detect.model.score`` and scanned string by string
by ``mcpwrap.detect.injection.scan``. Times are medians of N runs (the model's first call, which loads the
weights, is not counted); the last column is the model's time relative to decoding the message. Print
``uptime`` with the figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mcpwrap._strings import iter_strings  # noqa: E402
from mcpwrap.detect import injection  # noqa: E402
from mcpwrap.detect import model as M  # noqa: E402

WORDS = ("the of and to in is for that on with as was by this it from are be at or an have not which "
         "server request file result order invoice meeting report config build release user data value "
         # words the learned tier's pre-pass stops at: without them most texts would skip the model entirely
         "you your send please email share").split()


def prose(n: int, rng: random.Random) -> str:
    out, size = [], 0
    while size < n:
        s = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 18))).capitalize() + ". "
        out.append(s)
        size += len(s)
    return "".join(out)[:n]


def shapes(n: int, rng: random.Random) -> dict[str, str]:
    text = prose(n, rng)
    rows = []
    size = 0
    while size < n:
        r = {"id": rng.randint(1, 10**6), "name": prose(24, rng), "note": prose(80, rng), "tags": ["a", "b"]}
        rows.append(r)
        size += 160
    pretty = json.dumps({"items": rows}, indent=2)[: max(n, 64)]
    html = "".join(f"<p class='x'>{prose(200, rng)}</p><a href='https://example.com/{i}'>link</a>" for i in range(n // 260 + 1))[:n]
    log, size = [], 0
    while size < n:
        line = f"2026-11-28T12:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z INFO worker[{rng.randint(1, 64)}] batch {rng.randint(1, 10**6)} done in {rng.randint(1, 999)} ms"
        log.append(line)
        size += len(line) + 1
    return {
        "log": json.dumps({"content": [{"type": "text", "text": "\n".join(log)[:n]}]}),
        "prose": json.dumps({"content": [{"type": "text", "text": text}]}),
        "json-pretty": json.dumps({"content": [{"type": "text", "text": json.dumps({"items": rows}, indent=2)}]}) if len(pretty) else "",
        "html": json.dumps({"content": [{"type": "text", "text": html}]}),
    }


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=0, help="runs per cell (default: 200 / 30 / 10 / 3 by size)")
    args = ap.parse_args()
    rng = random.Random(1)
    M.score("warm up")
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    rows = []
    for label, n, rep in (("4 KB", 4096, 200), ("200 KB", 200 * 1024, 30), ("1 MB", 1 << 20, 10), ("10 MB", 10 << 20, 3)):
        for shape, line in shapes(n, rng).items():
            value = json.loads(line)["content"]
            result = {"content": value}
            r = args.repeat or rep
            t_decode = median_ms(lambda line=line: json.loads(line), r)
            t_model = median_ms(lambda result=result: M.score(result, explain=False), r)
            t_phr = median_ms(lambda result=result: [injection.scan(t) for _p, t in iter_strings(result)], r)
            rows.append([label, shape, f"{len(line) / 1024:.0f} KB", f"{t_decode:.3f}", f"{t_model:.3f}", f"{t_phr:.3f}", f"{t_model / t_decode:.1f}×"])
    headers = ["size", "shape", "line", "json.loads ms", "model ms", "phrases ms", "model / decode"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    print(fmt.format(*headers))
    for r in rows:
        print(fmt.format(*r))
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
