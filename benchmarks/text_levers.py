"""Text levers for the rumour and stance heads (issue 18, third round), measured honestly.

Four levers, each beside the shipped head (its features, L2 and decision as `monitor train`
fits them), with every choice made on training data only:

- `--ngram-rumour`: a word (1-2) or word + character (2-5, within words) TF-IDF logistic
  regression on PHEME's source text, stacked with the pooled rumour head. Nested
  leave-one-event-out: for each held-out event, both models' logits on the other seven
  events come from leave-one-event-out among those seven; the n-gram setting, a logistic
  stacker on the two logits and a blend weight are chosen there, then both models are fitted
  on the seven and scored on the held-out event. Nothing about that event picks anything.
- `--ngram-stance`: the same n-gram models on RumourEval traindev replies (and, in the 's'
  setting, the words of the thread's source beside them), stacked with the shipped stance
  head: level-one logits out of fold (5 folds by thread, the recipe's seed), a multinomial
  stacker scored out of fold on three other fold seeds with the recipe's temperature and
  per-class thresholds; the same stacker on the shipped head's logits alone is the
  like-for-like baseline. Test scored once per setting, for information.
- `--stance-weights`: class weights n_c^-alpha (alpha 1 is the recipe's balancing) and L2,
  and two decisions: the recipe's per-class thresholds (each class's best one-vs-rest F1)
  and thresholds moved jointly to maximise the decision's macro-F1 (coordinate ascent, the
  same as per-class log-prior shifts). Both are also scored nested: thresholds fitted on
  four folds' out-of-fold probabilities, applied to the fifth.
- `--stance-keywords`: fresh lists of denial and questioning words as two extra cue columns.

    nice -n 10 .venv/bin/python benchmarks/text_levers.py --ngram-rumour --ngram-stance \
        --stance-weights --stance-keywords --cache-dir /work/cache/classify

Features come from `monitor train`'s cache (`--cache-dir`); missing rows are encoded once.
On the shared 2-core machine under load (2026-12-06, load 3-12): `--ngram-rumour` about
25 minutes, `--ngram-stance` and `--stance-weights` about 10 each, `--stance-keywords` 5.
Figures are in the model card.
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.classify import data as datasets  # noqa: E402
from monitor.classify.deobfuscate import cache_texts  # noqa: E402
from monitor.classify.features import FeatureCache, select  # noqa: E402
from monitor.classify.fit import (  # noqa: E402
    best_threshold,
    f1,
    fit_linear,
    fit_temperature,
    standardiser,
)
from monitor.classify.heads import lexical_features, stance_cues  # noqa: E402
from monitor.classify.train import (  # noqa: E402
    LinearFit,
    Recipe,
    _macro_f1,
    earlier_rumour_recipe,
    rumour_fit,
    rumour_training_set,
    stance_decision,
    stance_folds,
)

FloatArray = npt.NDArray[np.float64]
Scorer = Callable[[Sequence[str]], FloatArray]
# (kind, C): 'w' word 1-2 grams, 'c' character 2-5 grams within words, 's' the source's words.
RUMOUR_GRID: tuple[tuple[str, float], ...] = (("w", 0.3), ("w", 1.0), ("wc", 0.3), ("wc", 1.0))
STANCE_GRID: tuple[tuple[str, float], ...] = (
    ("c", 0.3),
    ("c", 1.0),
    ("wc", 0.3),
    ("wc", 1.0),
    ("cs", 0.3),
)
BLEND_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)
STACKER_C = (0.1, 1.0)
# Written fresh for this measurement (not the shipped cue lists): how replies deny a claim,
# and how they question it.
DENIAL_WORDS = re.compile(
    r"\b(not true|isn'?t true|no evidence|never happened|made up|fake news|false alarm|"
    r"debunked|retract\w*|correction|misreport\w*|not the case|did not|didn'?t happen|"
    r"no he didn'?t|no she didn'?t|nope|wrong|fabricat\w*|hoax|untrue|false|lies?|liar)\b",
    re.IGNORECASE,
)
QUESTION_WORDS = re.compile(
    r"(\?|\b(is (this|that|it) (true|real|confirmed)|any (source|proof|evidence|link)|"
    r"who (says|said)|how do (you|we) know|says who|really|are you sure|can (you|anyone) "
    r"confirm|where did you (hear|read|get)|source please|citation needed|wait what)\b)",
    re.IGNORECASE,
)


def _ngram_model(
    texts: Sequence[str], y: npt.NDArray[np.int64], kind: str, c: float, sources: Sequence[str]
) -> Callable[[Sequence[str], Sequence[str]], FloatArray]:
    """A class-balanced TF-IDF logistic regression; returns a scorer of (texts, sources)."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)
    source_words = TfidfVectorizer(min_df=2, sublinear_tf=True)
    parts: list[tuple[TfidfVectorizer, bool]] = []
    if "w" in kind:
        parts.append((words, False))
    if "c" in kind:
        parts.append((chars, False))
    if "s" in kind:
        parts.append((source_words, True))

    def matrix(t: Sequence[str], s: Sequence[str], fit: bool) -> csr_matrix:
        blocks = []
        for vec, on_source in parts:
            data = list(s if on_source else t)
            blocks.append(vec.fit_transform(data) if fit else vec.transform(data))
        return hstack(blocks).tocsr()

    model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
    model.fit(matrix(texts, sources, True), y)

    def score(t: Sequence[str], s: Sequence[str]) -> FloatArray:
        return np.asarray(model.decision_function(matrix(t, s, False)), np.float64)

    return score


def _pick(items: Sequence[str], idx: npt.NDArray[np.int64]) -> list[str]:
    return [items[i] for i in idx]


def run_ngram_rumour(cache: FeatureCache, data_dir: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    # The rumour recipe these rows were measured against (before the invariant fit).
    recipe = earlier_rumour_recipe(Recipe())
    x, y, events, xs, ws, ys, _ = rumour_training_set(cache, recipe, data_dir)
    texts = [t.lower() for t in datasets.pheme(data_dir).texts]
    ev = np.array(events)
    names = sorted(set(events))

    def pooled(idx: npt.NDArray[np.int64]) -> Callable[[npt.NDArray[np.int64]], FloatArray]:
        ones = np.ones(len(idx), np.float32)
        fit = rumour_fit(
            np.vstack([x[idx], xs]),
            np.concatenate([y[idx], ys]),
            np.concatenate([ones, ws]),
            recipe,
        )
        return lambda j: fit.logits(x[j])[:, 0].astype(np.float64)

    def ngram(idx: npt.NDArray[np.int64], g: tuple[str, float]) -> Scorer:
        model = _ngram_model(_pick(texts, idx), y[idx], g[0], g[1], [])
        return lambda t: model(t, [])

    def f1(mask: npt.NDArray[np.bool_], z: FloatArray) -> float:
        return _macro_f1(y[mask], (z[mask] >= 0).astype(np.int64))

    flat = {g: np.zeros(len(y)) for g in RUMOUR_GRID}
    out = {k: np.zeros(len(y)) for k in ("pooled", "ngram", "stacked", "blend")}
    for held in names:
        rest_mask, test = ev != held, np.flatnonzero(ev == held)
        rest = np.flatnonzero(rest_mask)
        inner_a = np.zeros(len(y))
        inner_b = {g: np.zeros(len(y)) for g in RUMOUR_GRID}
        for other in names:
            if other == held:
                continue
            tr, te = np.flatnonzero(rest_mask & (ev != other)), np.flatnonzero(ev == other)
            inner_a[te] = pooled(tr)(te)
            for g in RUMOUR_GRID:
                inner_b[g][te] = ngram(tr, g)(_pick(texts, te))
        best: tuple[float, tuple[str, float], LogisticRegression] | None = None
        for g in RUMOUR_GRID:
            z = np.c_[inner_a[rest], inner_b[g][rest]]
            stacker = LogisticRegression(C=1.0, class_weight="balanced").fit(z, y[rest])
            score = _macro_f1(y[rest], (stacker.decision_function(z) >= 0).astype(np.int64))
            if best is None or score > best[0]:
                best = (score, g, stacker)
        assert best is not None
        _, g, stacker = best
        weight = max(BLEND_WEIGHTS, key=lambda w: f1(rest_mask, inner_a + w * inner_b[g]))
        za = pooled(rest)(test)
        for setting in RUMOUR_GRID:
            flat[setting][test] = ngram(rest, setting)(_pick(texts, test))
        zb = flat[g][test]
        out["pooled"][test], out["ngram"][test] = za, zb
        out["stacked"][test] = stacker.decision_function(np.c_[za, zb])
        out["blend"][test] = za + weight * zb
        print(
            f"  {held}: chose {g}, stacker {np.round(stacker.coef_[0], 3)}, blend {weight}; "
            f"pooled {f1(ev == held, out['pooled'])} stacked {f1(ev == held, out['stacked'])}",
            flush=True,
        )
    everything = np.ones(len(y), bool)
    for g, z in flat.items():
        print(f"rumour n-grams {g} alone, leave-one-event-out: {f1(everything, z)}")
    for k, z in out.items():
        print(f"rumour {k:8s} nested leave-one-event-out: {f1(everything, z)}", flush=True)


def _softmax(z: FloatArray) -> FloatArray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    out: FloatArray = e / e.sum(axis=1, keepdims=True)
    return out


def _recipe_decision(
    oof: FloatArray, y: npt.NDArray[np.int64]
) -> tuple[float, FloatArray, list[float]]:
    """Temperature, class shift and per-class thresholds on out-of-fold logits, as
    `train_stance` fits them."""
    s, shift = fit_temperature(oof.astype(np.float32), y)
    p = _softmax(oof * s + shift).astype(np.float32)
    t = [best_threshold(p[:, j], (y == j).astype(int), None, binary=True) for j in range(4)]
    return s, shift.astype(np.float64), t


def _decide(
    z: FloatArray, s: float, shift: FloatArray, t: Sequence[float]
) -> npt.NDArray[np.int64]:
    return stance_decision(_softmax(z * s + shift).astype(np.float32), t)


class StanceData:
    def __init__(self, split: str, cache: FeatureCache, data_dir: Path, recipe: Recipe) -> None:
        d = datasets.rumoureval(split, data_dir)
        pools = cache.layers(d.name, cache_texts(d.texts, True))
        self.texts, self.groups = d.texts, d.groups
        self.y = np.array(d.labels, np.int64)
        lex = lexical_features(d.texts)
        self.x = np.hstack([select(pools, recipe.layers), lex, stance_cues(d.texts)])
        ids = (
            (data_dir / "labelled" / "rumoureval2017" / split / "post_id.txt")
            .read_text(encoding="utf-8")
            .split("\n")[: len(d.texts)]
        )
        row = {p: i for i, p in enumerate(ids)}
        # The thread's source post (the thread id is the source's post id).
        self.sources = [d.texts[row[g]] if g in row else "" for g in d.groups]


def run_ngram_stance(cache: FeatureCache, data_dir: Path) -> None:

    recipe = Recipe()
    tr = StanceData("traindev", cache, data_dir, recipe)
    te = StanceData("test", cache, data_dir, recipe)
    folds = stance_folds(tr.groups, recipe.stance_folds, recipe.seed)
    oof_a = np.zeros((len(tr.y), 4))
    for f in folds:
        oof_a[f] = LinearFit(tr.x[~f], tr.y[~f], 4, recipe.stance_l2, recipe).logits(tr.x[f])
    s, shift, t = _recipe_decision(oof_a, tr.y)
    z_a = LinearFit(tr.x, tr.y, 4, recipe.stance_l2, recipe).logits(te.x).astype(np.float64)
    print(
        f"stance shipped head: out of fold {_macro_f1(tr.y, _decide(oof_a, s, shift, t))} "
        f"test {_macro_f1(te.y, _decide(z_a, s, shift, t))}",
        flush=True,
    )
    _stacked("nothing else (the baseline for the rows below)", oof_a, z_a, tr, te, recipe)
    for g in STANCE_GRID:
        oof_b = np.zeros((len(tr.y), 4))
        for f in folds:
            i, j = np.flatnonzero(~f), np.flatnonzero(f)
            model = _ngram_model(_pick(tr.texts, i), tr.y[i], g[0], g[1], _pick(tr.sources, i))
            oof_b[f] = model(_pick(tr.texts, j), _pick(tr.sources, j))
        alone = _recipe_decision(oof_b, tr.y)
        z_b = _ngram_model(tr.texts, tr.y, g[0], g[1], tr.sources)(te.texts, te.sources)
        print(
            f"stance n-grams {g} alone: out of fold {_macro_f1(tr.y, _decide(oof_b, *alone))} "
            f"test {_macro_f1(te.y, _decide(z_b, *alone))}",
            flush=True,
        )
        _stacked(f"n-grams {g}", np.c_[oof_a, oof_b], np.c_[z_a, z_b], tr, te, recipe)


def _stacked(
    what: str, z: FloatArray, z_test: FloatArray, tr: StanceData, te: StanceData, recipe: Recipe
) -> None:
    """A multinomial stacker on level-one out-of-fold logits, itself scored out of fold on
    three other fold seeds (temperature and per-class thresholds on its own out-of-fold
    logits), and on test once."""
    from sklearn.linear_model import LogisticRegression

    for c in STACKER_C:
        scores, fitted = [], []
        for seed in (recipe.seed + 1, recipe.seed + 2, recipe.seed + 3):
            oof2 = np.zeros((len(tr.y), 4))
            for f in stance_folds(tr.groups, recipe.stance_folds, seed):
                st = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
                oof2[f] = st.fit(z[~f], tr.y[~f]).decision_function(z[f])
            fitted.append(_recipe_decision(oof2, tr.y))
            scores.append(_macro_f1(tr.y, _decide(oof2, *fitted[-1])))
        st = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(z, tr.y)
        on_test = _macro_f1(te.y, _decide(st.decision_function(z_test), *fitted[0]))
        print(
            f"stance stacked on the shipped head's logits and {what}, stacker C {c}: "
            f"out of fold {scores} mean {np.mean(scores):.4f}  test {on_test}",
            flush=True,
        )


THRESHOLD_GRID = [round(float(v), 3) for v in np.arange(0.02, 0.951, 0.01)]
WEIGHT_GRID: tuple[tuple[float, float], ...] = (
    (1.0, 1.0),  # the recipe: L2 1.0, classes balanced
    (1.0, 0.0),
    (1.0, 0.5),
    (1.0, 1.5),
    (0.3, 1.0),
    (3.0, 1.0),
)


def _per_class(p: npt.NDArray[np.float32], y: npt.NDArray[np.int64]) -> list[float]:
    """The recipe's thresholds: each class's best one-vs-rest F1."""
    return [best_threshold(p[:, j], (y == j).astype(int), None, binary=True) for j in range(4)]


def _joint(
    p: npt.NDArray[np.float32], y: npt.NDArray[np.int64], start: list[float], rounds: int = 3
) -> list[float]:
    """Thresholds moved one class at a time (coordinate ascent from `start`) to maximise the
    macro-F1 of the decision itself, argmax p/t: equivalent to per-class log-prior shifts."""
    t = list(start)
    for _ in range(rounds):
        for j in range(4):

            def score(v: float, j: int = j) -> tuple[float, float]:
                trial = t[:j] + [v] + t[j + 1 :]
                return f1(y, stance_decision(p, trial)), -abs(v - t[j])

            t[j] = max(THRESHOLD_GRID, key=score)
    return t


def run_stance_weights(cache: FeatureCache, data_dir: Path) -> None:
    """Class weights n_c^-alpha and L2 (the head), and per-class against joint thresholds
    (the decision). Each decision is also scored nested: its thresholds fitted on four
    folds' out-of-fold probabilities and applied to the fifth."""
    recipe = Recipe()
    tr = StanceData("traindev", cache, data_dir, recipe)
    te = StanceData("test", cache, data_dir, recipe)

    def fit(
        x: npt.NDArray[np.float32], y: npt.NDArray[np.int64], l2: float, alpha: float
    ) -> Callable[[npt.NDArray[np.float32]], FloatArray]:
        mean, scale = standardiser(x)
        counts = np.bincount(y, minlength=4).astype(np.float64)  # the training fold's
        w = ((counts.sum() / (4 * counts)) ** alpha)[y].astype(np.float32)
        weight, bias = fit_linear(
            (x - mean) / scale,
            y,
            4,
            l2=l2,
            sample_weight=w,
            balanced=False,
            max_iter=recipe.max_iter,
            seed=recipe.seed,
        )
        return lambda z: np.asarray(((z - mean) / scale) @ weight + bias, np.float64)

    x, xt = tr.x.astype(np.float32), te.x.astype(np.float32)
    for l2, alpha in WEIGHT_GRID:
        rows: dict[str, list[float]] = {k: [] for k in ("per-class", "joint")}
        nested: dict[str, list[float]] = {k: [] for k in ("per-class", "joint")}
        on_test: dict[str, float] = {}
        z_test = fit(x, tr.y, l2, alpha)(xt)
        for seed in (recipe.seed, recipe.seed + 1, recipe.seed + 2):
            folds = stance_folds(tr.groups, recipe.stance_folds, seed)
            oof = np.zeros((len(tr.y), 4))
            for f in folds:
                oof[f] = fit(x[~f], tr.y[~f], l2, alpha)(x[f])
            s, shift = fit_temperature(oof.astype(np.float32), tr.y)
            p = _softmax(oof * s + shift).astype(np.float32)
            chosen = {"per-class": _per_class(p, tr.y)}
            chosen["joint"] = _joint(p, tr.y, chosen["per-class"])
            inner = {k: np.zeros(len(tr.y), np.int64) for k in chosen}
            for f in folds:
                a = _per_class(p[~f], tr.y[~f])
                inner["per-class"][f] = stance_decision(p[f], a)
                inner["joint"][f] = stance_decision(p[f], _joint(p[~f], tr.y[~f], a))
            for k, t in chosen.items():
                rows[k].append(_macro_f1(tr.y, stance_decision(p, t)))
                nested[k].append(_macro_f1(tr.y, inner[k]))
                if seed == recipe.seed:
                    pt = _softmax(z_test * s + shift).astype(np.float32)
                    on_test[k] = _macro_f1(te.y, stance_decision(pt, t))
        for k in rows:
            print(
                f"stance l2 {l2} alpha {alpha} {k:9s} thresholds: out of fold {rows[k]} "
                f"mean {np.mean(rows[k]):.4f}, nested {nested[k]} mean "
                f"{np.mean(nested[k]):.4f}  test {on_test[k]}",
                flush=True,
            )


def keyword_columns(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    rows = [
        [1.0 if DENIAL_WORDS.search(t) else 0.0, 1.0 if QUESTION_WORDS.search(t) else 0.0]
        for t in texts
    ]
    return np.asarray(rows, np.float32).reshape(len(texts), 2)


def run_stance_keywords(cache: FeatureCache, data_dir: Path) -> None:
    from benchmarks.context_levers import stance_variant

    recipe = Recipe()
    splits = {}
    for split in ("traindev", "test"):
        d = StanceData(split, cache, data_dir, recipe)
        splits[split] = {
            "y": d.y.astype(np.float32),
            "base": d.x.astype(np.float32),
            "keywords": keyword_columns(d.texts),
            "keywords_x5": 5.0 * keyword_columns(d.texts),
        }
    groups = datasets.rumoureval("traindev", data_dir).groups
    for keys in ((), ("keywords",), ("keywords_x5",)):
        scores, on_test = stance_variant(splits["traindev"], splits["test"], groups, keys, recipe)
        print(
            f"stance + {' + '.join(keys) or 'nothing':12s} out of fold {scores} "
            f"mean {np.mean(scores):.4f}  test {on_test:.4f}",
            flush=True,
        )


LEVERS: dict[str, Callable[[FeatureCache, Path], None]] = {
    "ngram_rumour": run_ngram_rumour,
    "ngram_stance": run_ngram_stance,
    "stance_weights": run_stance_weights,
    "stance_keywords": run_stance_keywords,
}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    for name in LEVERS:
        ap.add_argument(f"--{name.replace('_', '-')}", action="store_true")
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    cache = FeatureCache(args.cache_dir, variant="onnx")
    data_dir = args.data_dir or datasets.default_data_dir()
    chosen = [name for name in LEVERS if getattr(args, name)] or list(LEVERS)
    for name in chosen:
        LEVERS[name](cache, data_dir)


if __name__ == "__main__":
    main()
