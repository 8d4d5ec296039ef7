"""Detection quality on the labelled corpus: recall, false-positive rate and precision per detector and category.

    .venv/bin/python benchmarks/detection/quality.py            # builds the corpus in memory, prints tables
    .venv/bin/python benchmarks/detection/quality.py --markdown # the same tables as Markdown (docs/benchmarks.md)

Definitions (per sample, a sample being one text a tool could return):
- injection: a sample is flagged when ``mcpwrap.detect.injection.scan(text).is_injection`` (default
  sensitivity). Recall over injected samples, FPR over benign samples, precision over all flagged.
- secrets/PII: a detector type *hits* a sample when ``scan_text`` reports that type. Recall per type over
  the samples carrying it; a false positive is any secret/PII type reported on a benign sample — except an
  ``email`` found in real text (package metadata and source files carry real author addresses, which are
  personal data the detector is right to report; they are counted and shown on their own line).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))

from build_corpus import build  # noqa: E402

from mcpwrap.detect import ALL_TYPES  # noqa: E402
from mcpwrap.detect.injection import scan  # noqa: E402
from mcpwrap.detect.secrets import scan_text  # noqa: E402


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f}%" if b else "–"


def table(headers: list[str], rows: list[list], markdown: bool) -> str:
    rows = [[str(c) for c in r] for r in rows]
    if markdown:
        out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*headers), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--show-errors", action="store_true", help="print the samples that were misclassified")
    args = ap.parse_args()
    md = args.markdown

    t0 = time.perf_counter()
    samples = build()
    t_build = time.perf_counter() - t0

    # --- injection ---------------------------------------------------------------------------------------------
    t0 = time.perf_counter()
    inj = [(s, scan(s["text"])) for s in samples if s["split"] in ("benign", "benign-unseen", "dev", "heldout", "heldout2")]
    t_inj = time.perf_counter() - t0
    by_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # flagged, total
    by_ob: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_split: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    tp = fp = fn = tn = 0
    errors = []
    for s, r in inj:
        flagged = r.is_injection
        cat = s["category"]
        by_cat[cat][0] += flagged
        by_cat[cat][1] += 1
        by_split[s["split"]][0] += flagged
        by_split[s["split"]][1] += 1
        if s["injection"]:
            by_ob[s["obfuscation"]][0] += flagged
            by_ob[s["obfuscation"]][1] += 1
            tp += flagged
            fn += not flagged
        else:
            fp += flagged
            tn += not flagged
        if flagged != s["injection"]:
            errors.append((s, r))

    print("## Prompt injection (default sensitivity, threshold 1.0)\n")
    print(table(
        ["split", "samples", "flagged", "rate"],
        [[k, v[1], v[0], pct(v[0], v[1])] for k, v in sorted(by_split.items())],
        md,
    ))
    print()
    print(table(
        ["category", "label", "samples", "flagged", "rate"],
        [[k, "injected" if k.startswith("injected/") else "benign", v[1], v[0], pct(v[0], v[1])] for k, v in sorted(by_cat.items())],
        md,
    ))
    print()
    print(table(["obfuscation", "injected samples", "caught", "recall"], [[k, v[1], v[0], pct(v[0], v[1])] for k, v in sorted(by_ob.items())], md))
    print()
    held = by_split["heldout"]
    print(table(
        ["injection overall", "value"],
        [
            ["recall (all injected)", pct(tp, tp + fn)],
            ["recall (payloads tuned against: dev + heldout)", pct(by_split["dev"][0] + held[0], by_split["dev"][1] + held[1])],
            ["recall (held-out payloads, heldout2)", pct(by_split["heldout2"][0], by_split["heldout2"][1])],
            ["false-positive rate (all benign)", f"{pct(fp, fp + tn)} ({fp} of {fp + tn})"],
            ["false-positive rate (benign-unseen only)", f"{pct(by_split['benign-unseen'][0], by_split['benign-unseen'][1])} ({by_split['benign-unseen'][0]} of {by_split['benign-unseen'][1]})"],
            ["precision", pct(tp, tp + fp)],
        ],
        md,
    ))
    print()

    # --- secrets -----------------------------------------------------------------------------------------------
    t0 = time.perf_counter()
    sec = [(s, {f.kind for f in scan_text(s["text"])}) for s in samples if s["split"] in ("benign", "benign-unseen", "secrets")]
    t_sec = time.perf_counter() - t0
    per_type = {t: [0, 0, 0] for t in ALL_TYPES}  # hits on carriers, carriers, false hits elsewhere
    benign_total = benign_fp = benign_email = 0
    fp_by_cat: dict[str, int] = defaultdict(int)
    fp_by_type: dict[str, int] = defaultdict(int)
    for s, found in sec:
        expected = set(s["secrets"])
        for t in expected:
            per_type[t][1] += 1
            per_type[t][0] += t in found
        if s["split"] in ("benign", "benign-unseen"):
            benign_total += 1
            wrong = found - {"email"}
            benign_email += "email" in found
            if wrong:
                benign_fp += 1
                fp_by_cat[s["category"]] += 1
                for t in wrong:
                    fp_by_type[t] += 1
                errors.append((s, sorted(wrong)))
        else:
            for t in found - expected:
                per_type[t][2] += 1
            if not expected <= found:
                errors.append((s, sorted(found)))
    print("## Secrets and PII\n")
    rows = []
    for t, (hit, total, extra) in per_type.items():
        false_hits = fp_by_type.get(t, 0) + extra
        rows.append([t, total, hit, pct(hit, total), fp_by_type.get(t, 0), pct(hit, hit + false_hits)])
    print(table(["type", "samples", "detected", "recall", "false hits on benign", "precision"], rows, md))
    print()
    all_hit = sum(v[0] for v in per_type.values())
    all_total = sum(v[1] for v in per_type.values())
    print(table(
        ["secrets/PII overall", "value"],
        [
            ["recall", pct(all_hit, all_total)],
            ["false-positive rate (benign samples with any non-email finding)", f"{pct(benign_fp, benign_total)} ({benign_fp} of {benign_total})"],
            ["benign samples with a real email address found", f"{benign_email} (true personal data: author/maintainer addresses)"],
        ]
        + [[f"false positives in {k}", v] for k, v in sorted(fp_by_cat.items())],
        md,
    ))
    print()
    n_text = sum(len(s["text"]) for s in samples)
    print(f"corpus: {len(samples)} samples, {n_text / 1e6:.1f} M characters (built in {t_build:.1f} s); "
          f"injection scan {t_inj:.2f} s, secrets scan {t_sec:.2f} s")
    if args.show_errors:
        print("\n## Misclassified\n")
        for s, info in errors:
            r = info if isinstance(info, list) else (info.score, info.signals)
            print(f"- [{s['category']}/{s.get('obfuscation', '')}/{s['split']}] {r}: {s['text'][:300]!r}")


if __name__ == "__main__":
    main()
