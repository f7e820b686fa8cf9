"""Levers for the offensive label measured on TweetEval offensive (issue 18, the 0.80 bar).

The levers were measured against the `offensive` head shipped before the branch: a logistic
head on the adapted pools 3, 4, 7, 8 of the fine-tuned encoder
(`monitor.classify.refit.refit_offensive`): val 0.768, test 0.766. The four-layer branch
(`--branch 4 --epochs 2`) now ships (`monitor.classify.branch`, trained by `monitor train
--lora`); "shipped head" below is whatever head the model folder ships. Every lever below
is chosen on TweetEval offensive **val** only (1,324 posts); test (860 posts) is scored once
per chosen configuration, at the threshold chosen on val, for information.

- `--lexical`: TF-IDF of word 1-2-grams and char_wb 2-5-grams (sublinear tf, min_df 2),
  class-balanced logistic regression on all 11,916 training posts, raw text or with disguised
  words written plainly (`monitor.classify.deobfuscate`); C chosen on val AUC. Then a blend
  with the shipped head: standardised logits, `(1 - w) * head + w * lexical`. Its honest val
  figure is 5-fold cross-validation on val (w and the threshold chosen on four folds, the
  fifth predicted); the shipped figures beside it are scored the same way.
- `--branch K`: an offensive-only branch: copies of the encoder's top K layers, every weight
  trained (AdamW, `--lr`, warm-up and linear decay over `--epochs`, class-weighted binary
  cross-entropy, batches of 32) on all training posts from the frozen hidden state 6-K, with a
  linear head on the mean pools of its input and its last two hidden states; early stopping
  on val AUC (every 125 steps, patience 4); the training is `monitor.classify.branch.
  train_branch`, the step `monitor train --lora` runs. Then the same blend with the shipped
  head.

    nice -n 5 .venv/bin/python benchmarks/offensive_levers.py --lexical [--branch 4 --epochs 2]

Features of the shipped head come from the feature cache (`--cache-dir`, default
var/cache/classify; 14,100 posts are encoded once if missing, about 11 minutes on 2 busy
cores). `--lexical` takes about 3 CPU-minutes; `--branch K` first runs the frozen lower
layers once over all posts (K=2: 9 minutes at load 10-12; K=4: 2.5 minutes at load 4-8), then
trains at about 1-3 s a step on two busy cores (`--branch 4 --epochs 2`: 746 steps, 27
minutes wall; 7 at load under 1).
Figures are in the model card ("Offensive: levers measured against the 0.80 bar").
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.classify import data as datasets
from monitor.classify.deobfuscate import cache_texts, encoder_text
from monitor.classify.features import FeatureCache, select
from monitor.classify.fit import best_threshold, fit_platt
from monitor.classify.manifest import load_model_dir
from monitor.classify.train import _macro_f1

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
MODEL = Path(__file__).resolve().parents[1] / "models" / "minilm-heads-v1"
SEED = 13  # the default of `--seed`
BLEND_WEIGHTS = tuple(float(w) for w in np.linspace(0.0, 1.0, 21))


class Operating:
    """The project's operating point for a score (as `monitor.classify.refit` sets the
    shipped head's): Platt scaling fitted on (z, y), then the threshold on the 0.01 grid with
    the best macro-F1 there."""

    def __init__(self, z: FloatArray, y: IntArray) -> None:
        self.a, self.c = fit_platt(z, y)
        self.t = best_threshold(self.p(z), y)
        self.f1 = _macro_f1(y, self.flags(z))

    def p(self, z: FloatArray) -> FloatArray:
        out: FloatArray = 1.0 / (1.0 + np.exp(-(self.a * z + self.c)))
        return out

    def flags(self, z: FloatArray) -> IntArray:
        return (self.p(z) >= self.t).astype(np.int64)


def _z(a: FloatArray, ref: FloatArray) -> FloatArray:
    out: FloatArray = (a - ref.mean()) / ref.std()
    return out


def blend_cv(
    a: FloatArray, b: FloatArray, y: IntArray, weights: Sequence[float], seed: int = SEED
) -> float:
    """Macro-F1 of `(1 - w) * a + w * b` on val by 5-fold cross-validation: w and the
    threshold are chosen on four folds, the fifth is predicted."""
    from sklearn.model_selection import StratifiedKFold

    pred = np.zeros_like(y)
    for fit, held in StratifiedKFold(5, shuffle=True, random_state=seed).split(a, y):
        op, w = max(
            ((Operating((1 - w) * a[fit] + w * b[fit], y[fit]), w) for w in weights),
            key=lambda r: r[0].f1,
        )
        pred[held] = op.flags((1 - w) * a[held] + w * b[held])
    return _macro_f1(y, pred)


def report(
    name: str, zv: FloatArray, zt: FloatArray, yv: IntArray, yt: IntArray, seed: int = SEED
) -> None:
    from sklearn.metrics import roc_auc_score

    op = Operating(zv, yv)
    cv = blend_cv(zv, zv, yv, (0.0,), seed)
    test = _macro_f1(yt, op.flags(zt))
    print(
        f"| {name} | {roc_auc_score(yv, zv):.4f} | {op.f1:.4f} | {cv:.4f} | "
        f"{roc_auc_score(yt, zt):.4f} | **{test:.4f}** |",
        flush=True,
    )


def report_blend(
    name: str,
    head: tuple[FloatArray, FloatArray],
    other: tuple[FloatArray, FloatArray],
    yv: IntArray,
    yt: IntArray,
    seed: int = SEED,
) -> None:
    """The blend's CV-on-val figure, and w and the threshold chosen on all of val."""
    hv, lv = _z(head[0], head[0]), _z(other[0], other[0])
    ht, lt = _z(head[1], head[0]), _z(other[1], other[0])
    cv = blend_cv(hv, lv, yv, BLEND_WEIGHTS, seed)
    _, w = max(
        ((Operating((1 - w) * hv + w * lv, yv), w) for w in BLEND_WEIGHTS),
        key=lambda r: r[0].f1,
    )
    print(f"blend {name}: w = {w:.2f} chosen on all of val; CV-on-val macro-F1 {cv:.4f}")
    report(f"{name}, w {w:.2f}", (1 - w) * hv + w * lv, (1 - w) * ht + w * lt, yv, yt, seed)


def shipped_head(cache_dir: Path | None) -> dict[str, FloatArray]:
    """The shipped offensive head's logits (before its Platt scaling, which is monotone)."""
    model = load_model_dir(MODEL)
    head = next(h for h in model.heads.heads if h.name == "offensive")
    cache = FeatureCache(cache_dir, variant="onnx", adapter=model.adapter)
    out = {}
    for split in ("val", "test"):
        d = datasets.tweeteval("offensive", split)
        pools = cache.layers(d.name, cache_texts(d.texts, True))
        out[split] = head.logits(select(pools, head.layers))[:, 0].astype(np.float64)
    return out


def lexical(plain: bool) -> tuple[dict[str, FloatArray], str]:
    """The TF-IDF model's decision values on val and test, C chosen on val AUC."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    def texts(split: str) -> list[str]:
        raw = datasets.tweeteval("offensive", split).texts
        return [encoder_text(t, True) for t in raw] if plain else list(raw)

    word = TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=r"(?u)\b\w+\b|[^\w\s]"
    )
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)
    tr = texts("train")
    x = sparse.hstack([word.fit_transform(tr), char.fit_transform(tr)]).tocsr()
    xs = {
        s: sparse.hstack([word.transform(texts(s)), char.transform(texts(s))]).tocsr()
        for s in ("val", "test")
    }
    y = np.array(datasets.tweeteval("offensive", "train").labels)
    yv = np.array(datasets.tweeteval("offensive", "val").labels)
    best: tuple[float, float, Any] = (-1.0, 0.0, None)
    for c in (0.1, 0.3, 1.0, 3.0, 10.0):
        lr = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, solver="liblinear")
        lr.fit(x, y)
        auc = float(roc_auc_score(yv, lr.decision_function(xs["val"])))
        print(f"  lexical ({'plain' if plain else 'raw'}) C {c}: val AUC {auc:.4f}", flush=True)
        if auc > best[0]:
            best = (auc, c, lr)
    return {s: best[2].decision_function(xs[s]).astype(np.float64) for s in xs}, f"C {best[1]}"


def branch(k: int, lr: float, epochs: float, threads: int, seed: int) -> dict[str, FloatArray]:
    """Val and test logits of an offensive branch of the top `k` layers (module doc; the
    training is `monitor.classify.branch.train_branch`, what `monitor train --lora` runs),
    at its best val AUC."""
    from monitor.classify.branch import BranchRecipe, train_branch

    recipe = BranchRecipe(seed=seed, first=6 - k, lr=lr, epochs=epochs)
    d = {s: datasets.tweeteval("offensive", s) for s in ("train", "val", "test")}
    result = train_branch(
        recipe,
        (d["train"].texts, d["train"].labels),
        (d["val"].texts, d["val"].labels),
        extra={"test": d["test"].texts},
        threads=threads,
        progress=lambda m: print(f"  {m}", flush=True),
    )
    return {s: z.astype(np.float64) for s, z in result.logits.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lexical", action="store_true", help="TF-IDF model and its blend.")
    ap.add_argument("--branch", type=int, default=0, help="Fine-tune the top K layers.")
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=SEED, help="Seeds the branch and the CV folds.")
    ap.add_argument("--cache-dir", type=Path, default=None)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    yv = np.array(datasets.tweeteval("offensive", "val").labels)
    yt = np.array(datasets.tweeteval("offensive", "test").labels)
    head = shipped_head(args.cache_dir)
    lines: list[tuple[str, dict[str, FloatArray]]] = []
    if args.lexical:
        for plain in (False, True):
            z, c = lexical(plain)
            lines.append((f"lexical TF-IDF, {'disguises undone' if plain else 'raw'}, {c}", z))
    if args.branch:
        z = branch(args.branch, args.lr, args.epochs, args.threads, args.seed)
        lines.append((f"branch: top {args.branch} layers, lr {args.lr}", z))
    print("\n| model | val AUC | val macro-F1 | CV on val | test AUC | test macro-F1 |")
    print("|---|---|---|---|---|---|")
    seed = args.seed
    report("shipped head (pools 3, 4, 7, 8)", head["val"], head["test"], yv, yt, seed)
    for name, z in lines:
        report(name, z["val"], z["test"], yv, yt, seed)
    for name, z in lines:
        pair = (z["val"], z["test"])
        report_blend(f"shipped head + {name}", (head["val"], head["test"]), pair, yv, yt, seed)


if __name__ == "__main__":
    main()
