"""Train injection-v2 (cue-gated windows, hashed word embeddings + structural features, one hidden layer).

    python train2.py                 # validation folds, threshold, final fit -> mcpwrap/detect/models/injection-v2.npz
    python train2.py --folds-only    # only the validation scores (data/val2.json)

Needs ``torch`` at training time only (CPU); the package reads the exported arrays with numpy
(:class:`mcpwrap.detect.model.ModelV2`). Examples are the windows the scorer reads, built by the same functions:
``text_view`` -> ``feature_bytes`` -> ``v2_candidates`` / ``v2_inputs``.

Labels (re-framed from v1): an instruction addressed to the AI that reads a tool result is out of place, so
*framed* and *planted* samples are positives; the negatives are ordinary tool-result content (``benign``) and
documents that discuss, quote or teach instructions to AIs (``about``). The benign halves of the public
injection sets (user questions to a chat model: instructions to an AI too) are dropped, not negatives.

Windows: a negative sample gives the windows the pre-pass would score (:data:`NEG_CANDIDATES`) plus a few
random ones; a positive sample gives the windows over its located payload, or (a whole-text attack) its top
candidates. Weights as v1: each class the same total (benign and about :data:`NEGATIVE_WEIGHT` times an attack
class), split over its sources, then samples, then windows.

Validation (the threshold and the v1/v2 comparison use it only): the public and local training sources are
dealt into :data:`FOLDS` groups, each scored by a model trained without its group; every synthetic source is
scored on a fixed 20% share (by id hash) kept out of every fold's fit, by the first fold's model. The threshold
is the smallest value with validation benign FPR <= 0.3% and about FPR <= 3% (v1's rule). Held-out sources are
not read here. (The v1 comparison in NOTES.md was computed by this script at the commit that still shipped v1's
weights: it scored the same validation samples with them and chose v1's threshold by the same rule.)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from mcpwrap.detect import model as M  # noqa: E402

BITS = 18
DIM = 16
HIDDEN = 32
EPOCHS = 5
BATCH = 1024
LR = 5e-3
WEIGHT_DECAY = 1e-4
NEG_CANDIDATES = 10
NEG_RANDOM = 3
POS_WINDOWS = 4
NEGATIVE_WEIGHT = {"benign": 3.0, "about": 3.0, "framed": 1.0, "planted": 1.0}
DROPPED_SOURCES = {"pg-neuralchemy-benign", "pg-slabs-benign"}  # chat questions: not tool-result negatives
SYNTH_VALIDATION = 0.2
FOLDS = 3
TARGET_BENIGN_FPR = 0.003
TARGET_ABOUT_FPR = 0.03
SEED = 20261129
OUT = ROOT / "mcpwrap" / "detect" / "models" / "injection-v2.npz"


def load_samples() -> list[dict]:
    rows = []
    for name in ("raw.jsonl", "synth.jsonl", "synth2.jsonl"):
        rows += [json.loads(line) for line in open(HERE / "data" / name)]
    # The first synthetic set filled its benign carriers partly with those chat questions: such a carrier is not
    # an ordinary benign result either, so it is dropped too.
    questions = {r["text"] for r in rows if r["source"] in DROPPED_SOURCES and 40 < len(r["text"]) < 300}
    import re2

    opts = re2.Options()
    opts.max_mem = 256 << 20
    found = re2.compile("|".join(re2.escape(q) for q in sorted(questions)), opts) if questions else None
    out = []
    for r in rows:
        if r["split"] != "train" or r["source"] in DROPPED_SOURCES:
            continue
        if r["source"] == "synth-benign" and found is not None and found.search(M.text_view(r["value"])):
            continue
        out.append(r)
    return out


def context_of(sample: dict) -> M.Context | None:
    c = sample.get("context")
    return M.Context.of(c.get("tools", ()), c.get("arguments")) if c else None


def sample_value(sample: dict) -> object:
    return sample["value"] if "value" in sample else sample["text"]


def sample_bytes(sample: dict) -> bytes:
    ctx = context_of(sample)
    buf = M.feature_bytes(M.text_view(sample_value(sample), ctx), ctx)
    return buf[: M.MAX_DEEP_BYTES]


def locate(sample: dict, buf: bytes) -> tuple[int, int] | None:
    payload = sample.get("payload")
    if not payload:
        return None
    ctx = context_of(sample)
    pb = M.feature_bytes(M.text_view(payload, ctx), ctx).strip()
    mid = max(0, len(pb) // 2 - 12)
    for at, probe in ((mid, pb[mid : mid + 24]), (0, pb[:24]), (max(0, len(pb) - 24), pb[-24:])):
        if len(probe) >= 8:
            i = buf.find(probe)
            if i >= 0:
                start = max(0, i - at)
                return start, min(len(buf), start + len(pb))
    return None


def is_synth_validation(sample: dict) -> bool:
    if not sample["source"].startswith("synth"):
        return False
    return int(hashlib.sha256(sample["id"].encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < SYNTH_VALIDATION


def centers_of(sample: dict, buf: bytes, rng: np.random.Generator) -> np.ndarray | None:
    nb = max(1, -(-len(buf) // M.V2_BLOCK))
    positive = sample["cls"] in ("framed", "planted")
    if positive:
        if sample.get("payload"):
            span = locate(sample, buf)
            if span is None:
                return None
            blocks = np.arange(span[0] // M.V2_BLOCK, min(nb, span[1] // M.V2_BLOCK + 1))
            return blocks[:POS_WINDOWS]
        return M.v2_candidates(buf, POS_WINDOWS)
    cand = M.v2_candidates(buf, NEG_CANDIDATES)
    extra = rng.choice(nb, min(nb, NEG_RANDOM), replace=False)
    return np.unique(np.concatenate([cand, extra]))


class Data:
    def __init__(self, samples: list[dict], bufs: list[bytes]) -> None:
        rng = np.random.default_rng(SEED)
        ids, lens, struct, owner = [], [], [], []
        for si, (s, buf) in enumerate(zip(samples, bufs, strict=True)):
            if not buf.strip():
                continue
            c = centers_of(s, buf, rng)
            if c is None or not len(c):
                continue
            inp = M.v2_inputs(buf, c, BITS)
            ids.append(inp.ids)
            lens.append(np.diff(inp.offsets))
            struct.append(inp.struct)
            owner.append(np.full(len(c), si))
        self.samples = samples
        self.ids = np.concatenate(ids)
        self.lens = np.concatenate(lens)
        self.starts = np.concatenate([[0], np.cumsum(self.lens)[:-1]])
        self.struct = np.concatenate(struct).astype(np.float32)
        self.owner = np.concatenate(owner)
        self.y = np.array([1.0 if samples[i]["cls"] in ("framed", "planted") else 0.0 for i in self.owner], dtype=np.float32)
        self.source = np.array([samples[i]["source"] for i in self.owner])
        self.validation = np.array([is_synth_validation(samples[i]) for i in self.owner], dtype=bool)

    def weights(self, keep: np.ndarray) -> np.ndarray:
        kept = self.owner[keep]
        per_sample = np.bincount(kept, minlength=len(self.samples)).astype(np.float64)
        members: dict = defaultdict(set)
        for si in np.unique(kept):
            s = self.samples[si]
            members[(s["cls"], s["source"])].add(int(si))
        per_cls: dict = defaultdict(int)
        for cls, _src in members:
            per_cls[cls] += 1
        sw = np.zeros(len(self.samples))
        for (cls, _src), ms in members.items():
            for si in ms:
                sw[si] = NEGATIVE_WEIGHT[cls] / per_cls[cls] / len(ms)
        w = sw[kept] / per_sample[kept]
        return (w * (len(w) / w.sum())).astype(np.float32)


def fit(data: Data, keep: np.ndarray, seed: int = 0) -> dict:
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    rows = np.flatnonzero(keep)
    w = data.weights(keep)
    mu = data.struct[rows].mean(axis=0)
    sd = data.struct[rows].std(axis=0) + 1e-3
    emb = torch.nn.EmbeddingBag(1 << BITS, DIM, mode="mean", sparse=True)
    torch.nn.init.normal_(emb.weight, 0.0, 0.05)
    ns = len(M.V2_STRUCT)
    mlp = torch.nn.Sequential(torch.nn.Linear(DIM + ns, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 1))
    opt_e = torch.optim.SparseAdam(list(emb.parameters()), lr=LR)
    opt_m = torch.optim.AdamW(mlp.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    S = torch.from_numpy((data.struct - mu) / sd)
    Y = torch.from_numpy(data.y)
    W = torch.from_numpy(w)
    for _epoch in range(EPOCHS):
        perm = rng.permutation(len(rows))
        for b0 in range(0, len(perm), BATCH):
            bi = perm[b0 : b0 + BATCH]
            r = rows[bi]
            lens = data.lens[r]
            starts = data.starts[r]
            total = int(lens.sum())
            off = np.concatenate([[0], np.cumsum(lens)[:-1]])
            flat = np.repeat(starts - off, lens) + np.arange(total)
            ids = torch.from_numpy(data.ids[flat])
            offsets = torch.from_numpy(off)
            bag = emb(ids, offsets)
            # An empty window (no words) gives a zero bag, as the numpy forward does.
            logit = mlp(torch.cat([bag, S[r]], dim=1)).squeeze(1)
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(logit, Y[r], reduction="none") * W[bi]).mean()
            opt_e.zero_grad()
            opt_m.zero_grad()
            loss.backward()
            opt_e.step()
            opt_m.step()
    return {
        "emb": emb.weight.detach().numpy().astype(np.float32), "mu": mu, "sd": sd,
        "w1": mlp[0].weight.detach().numpy().T.copy(), "b1": mlp[0].bias.detach().numpy().copy(),
        "w2": mlp[2].weight.detach().numpy()[0].copy(), "b2": float(mlp[2].bias.detach().numpy()[0]),
    }


def quantise(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = np.abs(emb).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.round(emb / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale.astype(np.float16)


def arrays(params: dict, threshold: float, meta: dict) -> dict:
    q, scale = quantise(params["emb"])
    return {"kind": "window-mlp", "bits": BITS, "emb_q": q, "emb_scale": scale, "mu": params["mu"], "sd": params["sd"],
            "w1": params["w1"], "b1": params["b1"], "w2": params["w2"], "b2": params["b2"], "threshold": threshold,
            "meta": json.dumps({**meta, "struct": M.V2_STRUCT})}


def model_of(params: dict, threshold: float = 0.5, meta: dict | None = None) -> M.ModelV2:
    a = arrays(params, threshold, meta or {})
    return M.ModelV2(a)


def folds_of(samples: list[dict]) -> list[list[str]]:
    sizes: dict = defaultdict(int)
    cls: dict = {}
    for s in samples:
        sizes[s["source"]] += 1
        cls[s["source"]] = s["cls"]
    folds: list[list[str]] = [[] for _ in range(FOLDS)]
    i = 0
    for c in ("framed", "planted", "benign", "about"):
        for src in sorted((x for x in sizes if cls[x] == c and not x.startswith("synth")), key=lambda x: -sizes[x]):
            folds[i % FOLDS].append(src)
            i += 1
    return folds


def threshold_of(scores: dict[str, list[float]], cls_of: dict[str, str]) -> float:
    neg: dict[str, list[float]] = {"benign": [], "about": []}
    for src, sc in scores.items():
        if cls_of[src] in neg:
            neg[cls_of[src]].extend(sc)

    def at(xs: list[float], fpr: float) -> float:
        a = np.sort(np.array(xs))[::-1]
        k = int(np.floor(fpr * len(a)))
        return float(a[k]) + 1e-6 if k < len(a) else 0.0

    return max(0.05, at(neg["benign"], TARGET_BENIGN_FPR), at(neg["about"], TARGET_ABOUT_FPR))


def recall_table(scores: dict[str, list[float]], cls_of: dict[str, str], thr: float) -> dict[str, tuple[int, int]]:
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for src, sc in scores.items():
        a = np.array(sc)
        out[cls_of[src]][0] += int((a >= thr).sum())
        out[cls_of[src]][1] += len(a)
    return {k: (v[0], v[1]) for k, v in out.items()}


def data_digest(samples: list[dict]) -> str:
    h = hashlib.sha256()
    for s in sorted(samples, key=lambda s: s["id"]):
        h.update(json.dumps(s, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folds-only", action="store_true")
    ap.add_argument("--skip-folds", action="store_true", help="reuse data/val2.json")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    t0 = time.time()
    samples = load_samples()
    bufs = [sample_bytes(s) for s in samples]
    data = Data(samples, bufs)
    cls_of = {s["source"]: s["cls"] for s in samples}
    print(f"{len(samples)} samples, {len(data.y)} windows ({int(data.y.sum())} positive), {time.time() - t0:.0f}s", file=sys.stderr)
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        by_source[s["source"]].append(i)
    val_path = HERE / "data" / "val2.json"
    if args.skip_folds:
        val = json.loads(val_path.read_text())
    else:
        val = {"v2": {}, "ids": {}}
        for k, group in enumerate(folds_of(samples)):
            t1 = time.time()
            keep = ~np.isin(data.source, group) & ~data.validation
            m = model_of(fit(data, keep, seed=k))
            for src in group:
                val["v2"][src] = [m.score_bytes(bufs[i], explain=False).score for i in by_source[src]]
                val["ids"][src] = [samples[i]["id"] for i in by_source[src]]
            if k == 0:
                for src in sorted(x for x in by_source if x.startswith("synth")):
                    idx = [i for i in by_source[src] if is_synth_validation(samples[i])]
                    val["v2"][src] = [m.score_bytes(bufs[i], explain=False).score for i in idx]
                    val["ids"][src] = [samples[i]["id"] for i in idx]
            print(f"  fold {k} ({', '.join(group)}): {time.time() - t1:.0f}s", file=sys.stderr)
        val_path.write_text(json.dumps(val))
    for name in [x for x in ("v1", "v2") if x in val]:
        thr = threshold_of(val[name], cls_of)
        tab = recall_table(val[name], cls_of, thr)
        print(f"{name}: threshold {thr:.4f} " + "  ".join(f"{c} {k}/{n} = {k / max(n, 1):.1%}" for c, (k, n) in sorted(tab.items())), file=sys.stderr)
        new = {src: sc for src, sc in val[name].items() if src.startswith("synth2")}
        tab2 = recall_table(new, cls_of, thr)
        print("    synth2 only: " + "  ".join(f"{c} {k}/{n} = {k / max(n, 1):.1%}" for c, (k, n) in sorted(tab2.items())), file=sys.stderr)
    if args.folds_only:
        return
    threshold = threshold_of(val["v2"], cls_of)
    params = fit(data, np.ones(len(data.y), dtype=bool), seed=99)
    meta = {
        "name": "injection-v2", "trained_on": sorted({s["source"] for s in samples}), "dropped": sorted(DROPPED_SOURCES),
        "data_sha256": data_digest(samples), "sources_sha256": hashlib.sha256((HERE / "sources.json").read_bytes()).hexdigest(),
        "threshold_rule": f"validation benign FPR <= {TARGET_BENIGN_FPR}, about FPR <= {TARGET_ABOUT_FPR}",
        "bits": BITS, "dim": DIM, "hidden": HIDDEN, "epochs": EPOCHS,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays(params, threshold, meta))
    print(f"threshold {threshold:.4f}; wrote {OUT} ({OUT.stat().st_size / 1e6:.1f} MB) in {time.time() - t0:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
