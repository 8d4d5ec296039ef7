"""Train the learned injection tier and write ``mcpwrap/detect/models/injection-v1.npz``.

    python train.py                      # train on every 'train' source, threshold from leave-one-source-out
    python train.py --loso-only          # only the leave-one-source-out scores (data/loso.json)

Examples are *windows* (see :mod:`mcpwrap.detect.model`), built by the same functions the scorer uses:
``text_view`` → ``feature_bytes`` → ``feature_rows``. A benign or about-injection sample gives up to
:data:`MAX_NEG_WINDOWS` negative windows; an attack sample gives the windows that contain its payload (located
by searching the payload's own feature bytes in the sample's), or all of its windows when the whole text is
the attack (the public collections). Weights: every class has the same total weight, split evenly over its
sources (a 4000-row collection does not outweigh a 50-row one), and a sample's weight is split over its
windows; ``about`` and ``benign`` each weigh :data:`NEGATIVE_WEIGHT` times an attack class (false positives
are the binding constraint).

The threshold is chosen on validation scores only: every public or local training source is scored by a
model trained without its group of sources (leave-sources-out, :data:`LOSO_FOLDS` groups), every synthetic
source on a fixed share of its samples kept out of that model's fit (see :func:`is_synth_validation`), and the threshold is the smallest value that keeps those out-of-source scores
under :data:`TARGET_BENIGN_FPR` on benign and :data:`TARGET_ABOUT_FPR` on about-injection samples. The held-out
sources are not read by this script.
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

from mcpwrap.detect import model as M  # noqa: E402

BITS = 20
WINDOW_BLOCKS = (2, 8)  # 256- and 1024-byte windows
MAX_NEG_WINDOWS = 48
NEGATIVE_WEIGHT = {"benign": 3.0, "about": 3.0, "framed": 1.0, "planted": 1.0}
SYNTH_VALIDATION = 0.2  # share of each synthetic source kept out of every fit but the final one
L2 = 1.0  # L2 penalty on the weights (the loss is a weighted sum with mean weight 1 per window)
MAX_ITER = 250
LOSO_FOLDS = 6  # training sources are left out in this many groups (each source in exactly one)
TARGET_BENIGN_FPR = 0.003
TARGET_ABOUT_FPR = 0.03
OUT = ROOT / "mcpwrap" / "detect" / "models" / "injection-v1.npz"


def load_samples(split: str | None = "train") -> list[dict]:
    rows = [json.loads(line) for line in open(HERE / "data" / "raw.jsonl")]
    rows += [json.loads(line) for line in open(HERE / "data" / "synth.jsonl")]
    return [r for r in rows if split is None or r["split"] == split]


def context_of(sample: dict) -> M.Context | None:
    c = sample.get("context")
    if not c:
        return None
    return M.Context.of(c.get("tools", ()), c.get("arguments"))


def sample_value(sample: dict) -> object:
    return sample["value"] if "value" in sample else sample["text"]


def sample_bytes(sample: dict) -> bytes:
    ctx = context_of(sample)
    return M.feature_bytes(M.text_view(sample_value(sample), ctx), ctx)


def _locate(sample: dict, buf: bytes) -> int | None:
    payload = sample.get("payload")
    if not payload:
        return None
    ctx = context_of(sample)
    pb = M.feature_bytes(M.text_view(payload, ctx), ctx).strip()
    for probe in (pb[len(pb) // 2 - 12 : len(pb) // 2 + 12], pb[:24], pb[-24:]):
        if len(probe) >= 8:
            i = buf.find(probe)
            if i >= 0:
                return i
    return None


def examples(samples: list[dict], rng: np.random.Generator, cache: dict[str, bytes]) -> tuple[list, np.ndarray, np.ndarray]:
    """Windows of every sample: rows of ``(idx, counts)``, labels, and the index of the sample each came from."""
    rows, labels, owner = [], [], []
    for si, s in enumerate(samples):
        buf = cache[s["id"]]
        if not buf.strip():
            continue
        positive = s["cls"] in ("framed", "planted")
        wins = list(M.feature_rows(BITS, WINDOW_BLOCKS, buf, tile=True))
        if positive:
            at = _locate(s, buf) if s.get("payload") else None
            if s.get("payload") and at is None:
                continue  # payload not found (cut by a carrier): no reliable positive window
            if at is not None:
                wins = [w for w in wins if w[0] <= at < w[1]]
        elif len(wins) > MAX_NEG_WINDOWS:
            pick = rng.choice(len(wins), MAX_NEG_WINDOWS, replace=False)
            wins = [wins[i] for i in sorted(pick)]
        for _start, _end, idx, cnt in wins:
            rows.append((idx, cnt))
            labels.append(1 if positive else 0)
            owner.append(si)
    return rows, np.array(labels, dtype=np.float64), np.array(owner, dtype=np.int64)


def example_weights(samples: list[dict], owner: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Per-window weights over the kept windows: equal total per class (times NEGATIVE_WEIGHT), split evenly over
    the class's sources, then over a source's samples, then over a sample's windows."""
    kept_owner = owner[keep]
    per_sample = np.bincount(kept_owner, minlength=len(samples)).astype(np.float64)
    samples_per_source: dict = defaultdict(set)
    for si in np.unique(kept_owner):
        s = samples[si]
        samples_per_source[(s["cls"], s["source"])].add(int(si))
    sources_per_cls: dict = defaultdict(int)
    for cls, _src in samples_per_source:
        sources_per_cls[cls] += 1
    sw = np.zeros(len(samples))
    for (cls, _src), members in samples_per_source.items():
        for si in members:
            sw[si] = NEGATIVE_WEIGHT[cls] / sources_per_cls[cls] / len(members)
    w = sw[kept_owner] / per_sample[kept_owner]
    return w * (len(w) / w.sum())


def matrix(rows: list) -> object:
    from scipy import sparse

    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(r[0]) for r in rows])
    indices = np.concatenate([r[0] for r in rows]).astype(np.int32)
    data = np.concatenate([r[1] / np.sqrt(r[1].sum()) for r in rows]).astype(np.float32)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(rows), 1 << BITS))


def logistic(X: object, y: np.ndarray, w: np.ndarray, l2: float = L2, max_iter: int = MAX_ITER) -> tuple[np.ndarray, float]:
    """Weighted L2-regularised logistic regression by L-BFGS (scipy). (SGD was tried: seconds a fit, but its
    false positives on benign carriers were twice those of the exact solution.)"""
    from scipy.optimize import minimize

    n, d = X.shape
    Xt = X.T.tocsr()
    sign = 2 * y - 1

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        beta, b = theta[:d], theta[d]
        z = X @ beta + b
        m = -sign * z
        loss = np.logaddexp(0, m)
        p = 0.5 * (1.0 + np.tanh(0.5 * m))  # sigmoid(m) = d loss / d m, without overflow
        g = -sign * p * w
        grad = np.empty(d + 1)
        grad[:d] = Xt @ g + l2 * beta
        grad[d] = g.sum()
        return float((w * loss).sum() + 0.5 * l2 * beta @ beta), grad

    res = minimize(f, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return res.x[:d].astype(np.float32), float(res.x[d])


class Dataset:
    """Every training window, featurised once; folds select rows."""

    def __init__(self, samples: list[dict], cache: dict[str, bytes], seed: int = 0) -> None:
        self.samples = samples
        rows, self.y, self.owner = examples(samples, np.random.default_rng(seed), cache)
        self.X = matrix(rows)
        self.source = np.array([samples[i]["source"] for i in self.owner])
        self.validation = np.array([is_synth_validation(samples[i]) for i in self.owner], dtype=bool)

    def fit(self, exclude: set[str] = frozenset(), final: bool = False) -> tuple[np.ndarray, float]:
        keep = ~np.isin(self.source, sorted(exclude)) if exclude else np.ones(len(self.y), dtype=bool)
        if not final:
            keep &= ~self.validation
        w = example_weights(self.samples, self.owner, keep)
        return logistic(self.X[keep], self.y[keep], w)


def make_model(weights: np.ndarray, bias: float, threshold: float, meta: dict) -> M.Model:
    return M.Model({"bits": BITS, "weights": weights, "bias": bias, "window_blocks": np.array(WINDOW_BLOCKS), "threshold": threshold, "char_grams": np.array(M.CHAR_GRAMS), "meta": json.dumps(meta)})


def score_samples(model: M.Model, samples: list[dict]) -> list[float]:
    return [model.score(sample_value(s), context_of(s), explain=False).score for s in samples]


def is_synth_validation(sample: dict) -> bool:
    """Synthetic sources share their carrier templates: leaving one out whole (say the benign twins while the
    planted ones stay in) teaches that carriers mean attacks. So they are validated on a fixed random share of
    their samples instead, kept out of every leave-sources-out fit."""
    if not sample["source"].startswith("synth-"):
        return False
    return int(hashlib.sha256(sample["id"].encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < SYNTH_VALIDATION


def source_folds(samples: list[dict]) -> list[list[str]]:
    """Training sources dealt into LOSO_FOLDS groups, largest first, each class spread over the groups (so a
    fold never removes a whole class). A source is scored by the model trained without its group: a
    leave-sources-out estimate, stricter than leaving one source out."""
    sizes: dict = defaultdict(int)
    cls: dict = {}
    for s in samples:
        sizes[s["source"]] += 1
        cls[s["source"]] = s["cls"]
    folds: list[list[str]] = [[] for _ in range(LOSO_FOLDS)]
    i = 0
    for c in ("framed", "planted", "benign", "about"):
        for src in sorted((x for x in sizes if cls[x] == c and not x.startswith("synth-")), key=lambda x: -sizes[x]):
            folds[i % LOSO_FOLDS].append(src)
            i += 1
    return folds


def loso(ds: Dataset) -> dict[str, list[float]]:
    """Out-of-source scores: each source scored by a model trained without its group of sources."""
    by_source = defaultdict(list)
    for s in ds.samples:
        by_source[s["source"]].append(s)
    out: dict[str, list[float]] = {}
    for group in source_folds(ds.samples):
        t0 = time.time()
        w, b = ds.fit(exclude=set(group))
        m = make_model(w, b, 0.5, {})
        for src in group:
            out[src] = score_samples(m, by_source[src])
        print(f"  left out {', '.join(group)}: {time.time() - t0:.0f}s", file=sys.stderr)
    # Synthetic sources: their validation shares, scored by a model fitted without them.
    t0 = time.time()
    w, b = ds.fit()
    m = make_model(w, b, 0.5, {})
    for src in sorted(x for x in by_source if x.startswith("synth-")):
        val = [s for s in by_source[src] if is_synth_validation(s)]
        out[src] = score_samples(m, val)
        out["_ids:" + src] = [s["id"] for s in val]  # type: ignore[assignment]
    print(f"  synthetic validation shares: {time.time() - t0:.0f}s", file=sys.stderr)
    return out


def choose_threshold(samples: list[dict], oof: dict[str, list[float]]) -> float:
    neg = {"benign": [], "about": []}
    for src, scores in oof.items():
        if src.startswith("_ids:"):
            continue
        cls = next(s["cls"] for s in samples if s["source"] == src)
        if cls in neg:
            neg[cls].extend(scores)

    def at_fpr(scores: list[float], fpr: float) -> float:
        a = np.sort(np.array(scores))[::-1]
        k = int(np.floor(fpr * len(a)))
        return float(a[k]) + 1e-6 if k < len(a) else 0.0

    return max(0.5, at_fpr(neg["benign"], TARGET_BENIGN_FPR), at_fpr(neg["about"], TARGET_ABOUT_FPR))


def data_digest(samples: list[dict]) -> str:
    h = hashlib.sha256()
    for s in sorted(samples, key=lambda s: s["id"]):
        h.update(json.dumps(s, sort_keys=True, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loso-only", action="store_true")
    ap.add_argument("--skip-loso", action="store_true", help="reuse data/loso.json")
    args = ap.parse_args()
    t0 = time.time()
    samples = load_samples("train")
    cache = {s["id"]: sample_bytes(s) for s in samples}
    ds = Dataset(samples, cache)
    print(f"{len(samples)} training samples, {ds.X.shape[0]} windows, featurised in {time.time() - t0:.0f}s", file=sys.stderr)
    loso_path = HERE / "data" / "loso.json"
    if args.skip_loso:
        oof = json.loads(loso_path.read_text())
    else:
        oof = loso(ds)
        loso_path.write_text(json.dumps(oof))
    if args.loso_only:
        return
    threshold = choose_threshold(samples, oof)
    w, b = ds.fit(final=True)
    meta = {
        "name": "injection-v1",
        "trained_on": sorted({s["source"] for s in samples}),
        "data_sha256": data_digest(samples),
        "sources_sha256": hashlib.sha256((HERE / "sources.json").read_bytes()).hexdigest(),
        "threshold_rule": f"out-of-source benign FPR <= {TARGET_BENIGN_FPR}, about FPR <= {TARGET_ABOUT_FPR}",
        "l2": L2, "max_iter": MAX_ITER,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, bits=BITS, weights=w.astype(np.float16), bias=b, window_blocks=np.array(WINDOW_BLOCKS), threshold=threshold, char_grams=np.array(M.CHAR_GRAMS), meta=json.dumps(meta))
    print(f"threshold {threshold:.4f}; wrote {OUT} ({OUT.stat().st_size / 1e6:.1f} MB) in {time.time() - t0:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
