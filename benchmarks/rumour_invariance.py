"""The rumour head on text as written: the invariant fit and everyday posts (issue 18).

PHEME's source tweets come normalised (no punctuation, handles, links or '#'); served posts
do not. The rumour head of the earlier recipe flagged 81% of the 207 PHEME rumours whose raw
text RumourEval-2017 keeps when it read PHEME's text, and 64% when it read them as written.
This benchmark measures, for each setting of the recipe's two rumour levers:

- `rumour_invariant_directions` (k): the head fitted blind to the k directions along which
  normalisation moves a post (`monitor.classify.invariance`), from RumourEval posts against
  their normalised twins; each fold reads no pair of the event it holds out;
- `rumour_chatter` (n) and `rumour_chatter_weight` (w): n everyday posts (TweetEval offensive
  training posts) read as not rumours, at weight w each,

the figures, all leave-one-event-out on PHEME as `monitor eval` pools them:

- macro-F1 and AUC on PHEME's (normalised) text;
- the share of the 207 rumours flagged as written and as PHEME has them, each scored by the
  fold that held its event out;
- the share of everyday posts flagged (TweetEval hate and offensive test posts, by the head
  fitted on every event; the offensive test posts come from the same collection as the
  everyday training posts, the hate test posts do not);

and with `--nested` the honest figure for choosing among a smaller grid: for each held-out
event, the setting chosen by leave-one-event-out on the other seven (their pairs only).

    nice -n 5 .venv/bin/python benchmarks/rumour_invariance.py --cache-dir DIR [--nested]

Features come from `monitor train`'s frozen feature cache (`--cache-dir`; missing rows are
encoded once, about 10,000 posts). Figures are in the model card ("Rumour on text as
written").
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from monitor.classify import data as datasets
from monitor.classify.features import FeatureCache
from monitor.classify.invariance import NormalisationPairs, normalisation_pairs, raw_twins
from monitor.classify.train import (
    Recipe,
    _macro_f1,
    leave_one_event_out,
    rumour_features,
    rumour_fit_with_extra,
    rumour_training_set,
)

# (k, n, w): the earlier recipe first, the shipped one marked in the table.
GRID: tuple[tuple[int, int, float], ...] = tuple(
    (k, n, w) for k in (0, 4, 8, 16) for n, w in ((0, 0.0), (1000, 0.5), (1000, 1.0), (2000, 0.5))
)
NESTED_GRID: tuple[tuple[int, int, float], ...] = tuple(
    (k, n, w) for k in (0, 8, 16) for n, w in ((0, 0.0), (1000, 0.5), (2000, 0.5))
)


class Bench:
    def __init__(self, cache: FeatureCache, data_dir: Path | None) -> None:
        self.cache, self.data_dir = cache, data_dir
        self.base = Recipe()
        self.pairs = normalisation_pairs(cache, self.base.layers, data_dir)
        written, normalised = raw_twins(data_dir)
        self.twins = np.vstack(
            [
                rumour_features(cache, self.base, written),
                rumour_features(cache, self.base, normalised),
            ]
        )
        self.twin_events = written.groups + normalised.groups
        self.everyday = {
            task: rumour_features(cache, self.base, datasets.tweeteval(task, "test", data_dir))
            for task in ("hate", "offensive")
        }
        self.sets: dict[tuple[int, float], tuple[np.ndarray, ...]] = {}

    def recipe(self, k: int, n: int, w: float) -> Recipe:
        return replace(
            self.base,
            rumour_invariant_directions=k,
            rumour_chatter=n,
            rumour_chatter_weight=w or self.base.rumour_chatter_weight,
        )

    def data(self, recipe: Recipe) -> tuple[np.ndarray, ...]:
        key = (recipe.rumour_chatter, recipe.rumour_chatter_weight)
        if key not in self.sets:
            x, y, events, xs, ws, ys, _ = rumour_training_set(self.cache, recipe, self.data_dir)
            self.sets[key] = (x, y, np.array(events), xs, ws, ys)
        return self.sets[key]

    def row(self, k: int, n: int, w: float) -> dict[str, float]:
        recipe = self.recipe(k, n, w)
        x, y, events, xs, ws, ys = self.data(recipe)
        pairs = self.pairs if k else None
        loeo = leave_one_event_out(
            x, y, list(events), xs, ys, ws, recipe, pairs, (self.twins, self.twin_events)
        )
        raw, norm = np.split(loeo["also_logits"], 2)
        full = rumour_fit_with_extra(x, y, xs, ys, ws, recipe, pairs.differences if pairs else None)
        return {
            "loeo": loeo["macro_f1"],
            "auc": round(float(roc_auc_score(y, loeo["oof_logits"])), 4),
            "raw": float(np.mean(raw >= 0)),
            "norm": float(np.mean(norm >= 0)),
            **{
                task: float(np.mean(full.logits(xe)[:, 0] >= 0))
                for task, xe in self.everyday.items()
            },
        }

    def nested(self, grid: Sequence[tuple[int, int, float]]) -> tuple[float, dict[str, str]]:
        """For each held-out event, the setting with the best leave-one-event-out figure on
        the other events (their pairs only), refitted on them and scored on the event."""
        x0, y, events, *_ = self.data(self.recipe(*grid[0]))
        pred = np.zeros(len(y), np.int64)
        chosen: dict[str, str] = {}
        for event in sorted(set(events.tolist())):
            rest = events != event
            pairs = NormalisationPairs(
                self.pairs.excluding(event),
                tuple(e for e in self.pairs.events if e != event),
            )
            inner: dict[tuple[int, int, float], float] = {}
            for g in grid:
                recipe = self.recipe(*g)
                x, _, _, xs, ws, ys = self.data(recipe)
                inner[g] = leave_one_event_out(
                    x[rest], y[rest], list(events[rest]), xs, ys, ws, recipe,
                    pairs if g[0] else None,
                )["macro_f1"]  # fmt: skip
            best = max(grid, key=lambda g: inner[g])
            recipe = self.recipe(*best)
            x, _, _, xs, ws, ys = self.data(recipe)
            fit = rumour_fit_with_extra(
                x[rest], y[rest], xs, ys, ws, recipe, pairs.differences if best[0] else None
            )
            pred[~rest] = (fit.logits(x[~rest])[:, 0] >= 0).astype(np.int64)
            chosen[event] = f"k={best[0]} n={best[1]} w={best[2]}"
            print(f"  nested: {event} chose {chosen[event]} (inner {inner[best]})", flush=True)
        return _macro_f1(y, pred), chosen


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--nested", action="store_true", help="also the nested selection (slow)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    started = time.monotonic()
    bench = Bench(FeatureCache(args.cache_dir, variant="onnx"), args.data_dir)
    shipped = (
        bench.base.rumour_invariant_directions,
        bench.base.rumour_chatter,
        bench.base.rumour_chatter_weight,
    )
    print(
        "\n| k directions | n everyday | weight | LOEO macro-F1 | AUC | 207 rumours flagged: "
        "as written / normalised | everyday flagged: hate test / offensive test | "
        "LOEO vs earlier | everyday (hate test) vs earlier |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    first: dict[str, float] = {}
    for k, n, w in GRID:
        r = bench.row(k, n, w)
        first = first or r
        mark = " (shipped)" if (k, n, w) == shipped else (" (earlier)" if r is first else "")
        print(
            f"| {k}{mark} | {n} | {w or '-'} | {r['loeo']:.4f} | {r['auc']:.4f} | "
            f"{r['raw']:.3f} / {r['norm']:.3f} | {r['hate']:.3f} / {r['offensive']:.3f} | "
            f"{r['loeo'] / first['loeo']:.3f}x | {r['hate'] / first['hate']:.2f}x |",
            flush=True,
        )
    if args.nested:
        figure, chosen = bench.nested(NESTED_GRID)
        print(f"\nnested leave-one-event-out over {len(NESTED_GRID)} settings: {figure:.4f}")
        print("chosen: " + "; ".join(f"{e}: {c}" for e, c in chosen.items()))
    print(f"\n{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
