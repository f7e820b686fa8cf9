"""Levers for the rumour and stance heads measured on training data (issue 18, second round).

Stance: does the thread's context help the stance head? RumourEval-2017 gives each post's
thread (structures.json): whether it is the source, its parent and its depth. Each variant
adds context columns to the shipped stance features (pools 3-6, lexical features, stance
cues) and is scored out of fold on traindev (5 folds by thread, three fold seeds) exactly as
`monitor train` scores the shipped head (temperature, per-class thresholds, their ratio);
the test split is scored once per variant, for information only. Cosines use the sentence
embedding that rumour clustering uses (the normalised last-layer pool).

Rumour: `--rumour` runs the recipe's leave-one-event-out for each principal-component setting
(`Recipe.rumour_components`, `rumour_l2`) and the nested figure: for each held-out event the
setting is chosen by leave-one-event-out on the other seven, so nothing about the held-out
event picks it.

    nice -n 10 .venv/bin/python benchmarks/context_levers.py [--stance] [--rumour]

Features come from `monitor train`'s cache (var/cache/classify, `--cache-dir`); missing rows
are encoded once (about 10,000 posts). `--stance` takes some 10 CPU-minutes, `--rumour`
about half an hour (every inner fit recomputes its principal components). Figures are in
the model card. The third round (word and character n-grams stacked with both heads, stance
class weights and jointly chosen thresholds, fresh denial and question words) is in
`benchmarks/text_levers.py`.
"""

from __future__ import annotations

import argparse
import json
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from monitor.classify import data as datasets
from monitor.classify.deobfuscate import cache_texts
from monitor.classify.features import FeatureCache, select
from monitor.classify.fit import best_threshold, fit_temperature
from monitor.classify.heads import lexical_features, stance_cues
from monitor.classify.train import (
    LinearFit,
    Recipe,
    _macro_f1,
    earlier_rumour_recipe,
    leave_one_event_out,
    rumour_fit,
    rumour_training_set,
    stance_decision,
    stance_folds,
)

FloatArray = npt.NDArray[np.float32]
STANCE_VARIANTS: tuple[tuple[str, ...], ...] = (
    (),
    ("source",),
    ("source", "depth", "direct"),
    ("source", "cos_source", "cos_parent"),
    ("source", "depth", "direct", "cos_source", "cos_parent"),
    ("parent_cues",),
    ("source", "parent_cues"),
    ("minus_source",),
    ("source_pools",),
)
# (components, L2) settings offered to the nested selection: two grids, measured apart.
RUMOUR_GRIDS: tuple[tuple[tuple[int, float], ...], ...] = (
    ((32, 0.3), (64, 0.3), (128, 0.3), (32, 0.03), (64, 0.03), (128, 0.03)),
    ((48, 0.03), (64, 0.03), (96, 0.03), (64, 0.01), (48, 0.01)),
)


def _threads(split: str, ids: list[str], data_dir: Path) -> tuple[list[str | None], list[int]]:
    """Each post's nearest labelled ancestor (None for a source) and its depth."""
    root = data_dir / "labelled" / "rumoureval2017" / split
    trees = json.loads((root / "structures.json").read_text(encoding="utf-8"))
    parent: dict[str, str | None] = {}
    depth: dict[str, int] = {}
    for tree in trees.values():
        stack: list[tuple[object, str | None, int]] = [(tree, None, 0)]
        while stack:
            node, above, level = stack.pop()
            if isinstance(node, dict):
                for post_id, children in node.items():
                    parent[str(post_id)], depth[str(post_id)] = above, level
                    stack.append((children, str(post_id), level + 1))
    known = set(ids)
    out: list[str | None] = []
    for post_id in ids:
        up = parent[post_id]
        while up is not None and up not in known:  # 2 test posts answer unlabelled ones
            up = parent[up]
        out.append(up)
    return out, [depth[p] for p in ids]


def stance_context(split: str, cache: FeatureCache, data_dir: Path) -> dict[str, FloatArray]:
    d = datasets.rumoureval(split, data_dir)
    pools = cache.layers(d.name, cache_texts(d.texts, True))
    ids = (
        (data_dir / "labelled" / "rumoureval2017" / split / "post_id.txt")
        .read_text(encoding="utf-8")
        .split("\n")[: len(d.texts)]
    )
    parents, depths = _threads(split, ids, data_dir)
    row = {p: i for i, p in enumerate(ids)}
    source_row = np.array([row[g] for g in d.groups])
    parent_row = np.array([row[p] if p else i for i, p in enumerate(parents)])
    is_source = np.array([p is None for p in parents], np.float32)
    emb = pools[:, 6, :] / np.linalg.norm(pools[:, 6, :], axis=1, keepdims=True)
    reply = 1.0 - is_source
    parent_texts = [d.texts[i] for i in parent_row]
    return {
        "y": np.array(d.labels, np.float32),
        "base": np.hstack(
            [select(pools, Recipe().layers), lexical_features(d.texts), stance_cues(d.texts)]
        ),
        "source": is_source[:, None],
        "depth": (np.minimum(depths, 3) / 3.0).astype(np.float32)[:, None],
        "direct": (np.array(depths) == 1).astype(np.float32)[:, None],
        "cos_source": (reply * (emb * emb[source_row]).sum(1))[:, None],
        "cos_parent": (reply * (emb * emb[parent_row]).sum(1))[:, None],
        "parent_cues": np.hstack([lexical_features(parent_texts), stance_cues(parent_texts)]),
        "minus_source": pools[:, 6, :] - pools[source_row, 6, :],
        "source_pools": select(pools, Recipe().layers)[source_row],
    }


def _probabilities(z: FloatArray, s: float, shift: FloatArray) -> FloatArray:
    z = z * s + shift
    p = np.exp(z - z.max(axis=1, keepdims=True))
    out: FloatArray = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


def stance_variant(
    train: dict[str, FloatArray],
    test: dict[str, FloatArray],
    groups: list[str],
    keys: tuple[str, ...],
    recipe: Recipe,
) -> tuple[list[float], float]:
    x = np.hstack([train["base"], *(train[k] for k in keys)]).astype(np.float32)
    xt = np.hstack([test["base"], *(test[k] for k in keys)]).astype(np.float32)
    y = train["y"].astype(np.int64)
    scores, fitted = [], []
    for seed in (13, 14, 15):
        oof = np.zeros((len(y), 4), np.float32)
        for fold in stance_folds(groups, recipe.stance_folds, seed):
            fit = LinearFit(x[~fold], y[~fold], 4, recipe.stance_l2, recipe)
            oof[fold] = fit.logits(x[fold])
        s, shift = fit_temperature(oof, y)
        p = _probabilities(oof, s, shift)
        t = [best_threshold(p[:, j], (y == j).astype(int), None, binary=True) for j in range(4)]
        scores.append(_macro_f1(y, stance_decision(p, t)))
        fitted.append((s, shift, t))
    s, shift, t = fitted[0]  # the recipe's fold seed
    full = LinearFit(x, y, 4, recipe.stance_l2, recipe)
    pred = stance_decision(_probabilities(full.logits(xt), s, shift), t)
    return scores, _macro_f1(test["y"].astype(np.int64), pred)


def run_stance(cache: FeatureCache, data_dir: Path) -> None:
    recipe = Recipe()
    train = stance_context("traindev", cache, data_dir)
    test = stance_context("test", cache, data_dir)
    groups = datasets.rumoureval("traindev", data_dir).groups
    for keys in STANCE_VARIANTS:
        scores, on_test = stance_variant(train, test, groups, keys, recipe)
        print(
            f"stance + {' + '.join(keys) or 'nothing':45s} out of fold {scores} "
            f"mean {np.mean(scores):.4f}  test {on_test:.4f}",
            flush=True,
        )


def run_rumour(cache: FeatureCache, data_dir: Path) -> None:
    # The rumour recipe these rows were measured against (before the invariant fit).
    base = earlier_rumour_recipe(Recipe())
    x, y, events, xs, ws, ys, _ = rumour_training_set(cache, base, data_dir)
    ev = np.array(events)

    def recipe(k: int, l2: float) -> Recipe:
        return replace(base, rumour_components=k, rumour_l2=l2)

    for k, l2 in sorted({g for grid in RUMOUR_GRIDS for g in grid}):
        flat = leave_one_event_out(x, y, events, xs, ys, ws, recipe(k, l2))
        print(f"rumour k={k} l2={l2}: leave-one-event-out {flat['macro_f1']}", flush=True)
    for grid in RUMOUR_GRIDS:
        pred = np.zeros(len(y), np.int64)
        for event in sorted(set(events)):
            rest = ev != event
            inner = {
                g: leave_one_event_out(x[rest], y[rest], list(ev[rest]), xs, ys, ws, recipe(*g))[
                    "macro_f1"
                ]
                for g in grid
            }
            chosen = max(grid, key=lambda g: (inner[g], -g[0]))
            fit = rumour_fit(
                np.vstack([x[rest], xs]),
                np.concatenate([y[rest], ys]),
                np.concatenate([np.ones(int(rest.sum()), np.float32), ws]),
                recipe(*chosen),
            )
            pred[~rest] = (fit.logits(x[~rest])[:, 0] >= 0).astype(np.int64)
            print(f"  {event}: chose {chosen}, {_macro_f1(y[~rest], pred[~rest])}", flush=True)
        print(f"rumour nested leave-one-event-out over {grid}: {_macro_f1(y, pred)}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stance", action="store_true", help="Stance with thread context.")
    ap.add_argument("--rumour", action="store_true", help="Projected rumour heads, nested.")
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    cache = FeatureCache(args.cache_dir, variant="onnx")
    data_dir = args.data_dir or datasets.default_data_dir()
    if args.stance or not args.rumour:
        run_stance(cache, data_dir)
    if args.rumour or not args.stance:
        run_rumour(cache, data_dir)


if __name__ == "__main__":
    main()
