"""Quality of the learned injection tier: held-out sources, leave-sources-out, and the phrase detector beside it.

    .venv/bin/python benchmarks/detection/model_quality.py [--markdown] [--heldout]

Needs ``benchmarks/detection/training/data/`` (``extract.py``, ``synth.py``, ``synth2.py``, ``train2.py``; see that folder's
README). Without ``--heldout`` only validation figures are printed (leave-sources-out scores written by
``train2.py``); the held-out sources are scored only with ``--heldout``, which is meant to be run once, after the
model and its threshold are frozen.

Per sample (a whole tool result or text):
- model: ``mcpwrap.detect.model.score(value, context).flagged`` with the packaged weights and threshold;
- phrases: the existing detector, as the injection interceptor applies it: any string of the result with
  ``mcpwrap.detect.injection.scan(text).is_injection`` (default sensitivity);
- either: flagged by one or the other (the combination phase 2 is to ship: both tiers stay).
Rates come with 95% Wilson intervals. Classes: framed attacks, planted plain instructions, benign tool
results, documents about prompt injection (the hard negatives).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE / "training"))

from mcpwrap._strings import iter_strings  # noqa: E402
from mcpwrap.detect import injection  # noqa: E402
from mcpwrap.detect import model as M  # noqa: E402

CLASSES = ("framed", "planted", "benign", "about")


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def rate(k: int, n: int) -> str:
    if n == 0:
        return "–"
    lo, hi = wilson(k, n)
    return f"{100 * k / n:.1f}% [{100 * lo:.1f}–{100 * hi:.1f}]"


def table(headers: list[str], rows: list[list], markdown: bool) -> str:
    rows = [[str(c) for c in r] for r in rows]
    if markdown:
        out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        return "\n".join(out + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*headers), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows])


def phrase_flagged(sample: dict) -> bool:
    value = sample["value"] if "value" in sample else sample["text"]
    if isinstance(value, str):
        return injection.scan(value).is_injection
    return any(injection.scan(t).is_injection for _p, t in iter_strings(value, keys=True))


def load_heldout() -> list[dict]:

    rows = []
    for name in ("raw.jsonl", "synth.jsonl", "synth2.jsonl"):
        rows += [json.loads(line) for line in open(HERE / "training" / "data" / name)]
    return [r for r in rows if r["split"] == "heldout"]


def main() -> None:
    import train2 as T

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--heldout", action="store_true", help="score the held-out sources (once, after freezing)")
    args = ap.parse_args()
    md = args.markdown
    model = M.load()
    thr = model.threshold
    print(f"model {model.meta.get('name')}  threshold {thr:.4f}  ({model.meta.get('threshold_rule')})")
    print(f"training data sha256 {model.meta.get('data_sha256')}\n")

    # --- validation: out-of-fold scores written by train2.py ---------------------------------------------------
    train_samples = T.load_samples()
    val = json.loads((HERE / "training" / "data" / "val2.json").read_text())
    by_id = {s["id"]: s for s in train_samples}
    has_v1 = "v1" in val  # written by the run of train2.py that still had v1's weights to compare with
    v1_thr = T.threshold_of(val["v1"], {s["source"]: s["cls"] for s in train_samples}) if has_v1 else 1.0
    rows, per_cls, per_carrier = [], defaultdict(lambda: [0, 0, 0]), defaultdict(lambda: [0, 0])
    cls_of = {s["source"]: s["cls"] for s in train_samples}
    for src in sorted(val["v2"], key=lambda x: (CLASSES.index(cls_of[x]), x)):
        scores = val["v2"][src]
        v1s = val["v1"][src] if has_v1 else []
        members = [by_id[i] for i in val["ids"][src]]
        k = sum(x >= thr for x in scores)
        k1 = sum(x >= v1_thr for x in v1s)
        cls = cls_of[src]
        rows.append([src + (" (validation share)" if src.startswith("synth") else ""), cls, len(scores), rate(k, len(scores)), rate(k1, len(v1s))])
        per_cls[cls][0] += k
        per_cls[cls][1] += len(scores)
        per_cls[cls][2] += k1
        for s, x in zip(members, scores, strict=False):
            if s.get("carrier", "raw") != "raw":
                key = (cls, s["carrier"])
                per_carrier[key][0] += x >= thr
                per_carrier[key][1] += 1
    print(f"Validation, flagged at each model's threshold by the same rule (v2 {thr:.4f}, v1 {v1_thr:.4f} re-chosen on these")
    print("samples): public and local sources scored by a v2 trained without their group of sources; synthetic sources on")
    print("a 20% share kept out of that fit. v1 was fitted on all of these sources but synth2 (its figures are in-sample")
    print("elsewhere and flatter it).")
    print(table(["source", "class", "n", "v2 flagged [95% CI]", "v1 flagged [95% CI]"], rows, md))
    print()
    print(table(["class", "n", "v2", "v1"], [[c, per_cls[c][1], rate(per_cls[c][0], per_cls[c][1]), rate(per_cls[c][2], per_cls[c][1])] for c in CLASSES if per_cls[c][1]], md))
    print()
    print("Validation per carrier (synthetic samples, v2)")
    print(table(["class", "carrier", "n", "flagged [95% CI]"], [[c, k, v[1], rate(*v)] for (c, k), v in sorted(per_carrier.items())], md))
    print()

    if not args.heldout:
        return
    # --- held-out sources ----------------------------------------------------------------------------------------
    held = load_heldout()
    rows = []
    agg = {c: defaultdict(int) for c in CLASSES}
    carrier_rows = defaultdict(lambda: [0, 0, 0, 0])
    by_src = defaultdict(list)
    for s in held:
        by_src[s["source"]].append(s)
    for src in sorted(by_src, key=lambda x: (CLASSES.index(by_src[x][0]["cls"]), x)):
        ss = by_src[src]
        cls = ss[0]["cls"]
        m = p = e = 0
        for s in ss:
            ctx = T.context_of(s)
            if src == "mcp-servers-repo":
                ctx = M.Context.of(REFERENCE_TOOLS)
            fm = model.score(T.sample_value(s), ctx, explain=False).score >= thr
            fp = phrase_flagged(s)
            m += fm
            p += fp
            e += fm or fp
            if s.get("carrier", "raw") != "raw":
                c = carrier_rows[(cls, s["carrier"])]
                c[0] += 1
                c[1] += fm
                c[2] += fp
                c[3] += fm or fp
        n = len(ss)
        rows.append([src, cls, n, rate(m, n), rate(p, n), rate(e, n)])
        for key, v in (("n", n), ("m", m), ("p", p), ("e", e)):
            agg[cls][key] += v
    print("Held-out sources (never seen in training or in choosing the threshold)")
    print(table(["source", "class", "n", "model", "phrases", "either"], rows, md))
    print()
    print(table(["class", "n", "model", "phrases", "either"], [[c, a["n"], rate(a["m"], a["n"]), rate(a["p"], a["n"]), rate(a["e"], a["n"])] for c, a in agg.items() if a["n"]], md))
    print()
    print("What the context adds (held-out samples that have one): flagged with and without the session's tool names and call arguments")
    ctx_rows = []
    for src, ss in sorted(by_src.items()):
        with_ctx = [s for s in ss if s.get("context") or src == "mcp-servers-repo"]
        if not with_ctx:
            continue
        a = b = 0
        for s in with_ctx:
            ctx = M.Context.of(REFERENCE_TOOLS) if src == "mcp-servers-repo" else T.context_of(s)
            a += model.score(T.sample_value(s), ctx, explain=False).score >= thr
            b += model.score(T.sample_value(s), None, explain=False).score >= thr
        ctx_rows.append([src, with_ctx[0]["cls"], len(with_ctx), rate(a, len(with_ctx)), rate(b, len(with_ctx))])
    print(table(["source", "class", "n", "with context", "without"], ctx_rows, md))
    print()
    print("Held-out per carrier (synthetic held-out samples)")
    print(table(["class", "carrier", "n", "model", "phrases", "either"], [[c, k, v[0], rate(v[1], v[0]), rate(v[2], v[0]), rate(v[3], v[0])] for (c, k), v in sorted(carrier_rows.items())], md))


# Tool names of the five reference servers (everything, filesystem, git, memory, time): the context in which
# their own READMEs and sources are read back through a session that has them.
REFERENCE_TOOLS = [
    "echo", "get-sum", "get-env", "get-structured-content", "get-tiny-image", "trigger-long-running-operation", "trigger-sampling-request",
    "trigger-elicitation-request", "get-roots-list", "get-annotated-message", "get-resource-links", "get-resource-reference", "toggle-logging",
    "read_file", "read_text_file", "read_media_file", "read_multiple_files", "write_file", "edit_file", "create_directory", "list_directory",
    "list_directory_with_sizes", "directory_tree", "move_file", "search_files", "get_file_info", "list_allowed_directories",
    "git_status", "git_diff_unstaged", "git_diff_staged", "git_diff", "git_commit", "git_add", "git_reset", "git_log", "git_create_branch",
    "git_checkout", "git_show", "git_init", "git_branch", "create_entities", "create_relations", "add_observations", "delete_entities",
    "delete_observations", "delete_relations", "read_graph", "search_nodes", "open_nodes", "get_current_time", "convert_time",
]


if __name__ == "__main__":
    main()
