"""The hostile head on posts as they are written: hashtags, links, handles, emoji (issue 18).

The functional suite's sentences are plain. Posts are not: they carry a place's hashtag, a
link, a leading handle, an emoji. This benchmark scores the functional suite's hateful and
non-hateful sentences with one such addition each, in forms that no training sentence was
given (`HELD_OUT`), and refits the hostile head as `monitor.classify.refit.refit_hostile` does
with one thing changed:

- **surface copies**: a seeded share of the refit's training rows again, each with one
  addition drawn by `with_surface` (other hashtags, places, links, handles and emoji than the
  held-out ones), at the row's label and weight, so that no addition belongs to one class;
- **surface-blind**: the k directions along which those additions move a training row,
  projected out of the standardised columns before the fit (as the rumour head is fitted
  blind to PHEME's normalisation; one linear head, serving unchanged).

Choices are made on validation only (the refit's rule: TweetEval hate val macro-F1 at the
operating point under the benign cap); test, suites and the surface forms are scored once per
row, for information.

    nice -n 5 .venv/bin/python benchmarks/surface_forms.py --cache-dir DIR

Figures are in the model card ("Hostile on posts as written").
"""

from __future__ import annotations

import functools
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.classify import augment
from monitor.classify.deobfuscate import cache_texts
from monitor.classify.evaluate import evaluate_suites, score_pools
from monitor.classify.features import FeatureCache
from monitor.classify.functional import load_suite
from monitor.classify.invariance import invariant_basis
from monitor.classify.labels import HOSTILE
from monitor.classify.lora import LoraRecipe
from monitor.classify.manifest import ModelDir
from monitor.classify.refit import _pools, fit_hostile, hostile_refit_set
from monitor.classify.train import LinearFit, Recipe, boosted_standardiser, fit_blind

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from benchmarks.functional_levers import with_hostile
from benchmarks.shipped_model import open_shipped

FloatArray = npt.NDArray[np.float32]

# Forms no training copy is given: other places, words, links, handles and emoji than
# `with_surface` draws from.
HELD_OUT: dict[str, Callable[[str], str]] = {
    "plain": lambda t: t,
    "+ place hashtag": lambda t: f"{t} #Leeds",
    "+ topic hashtag": lambda t: f"{t} #thoughts",
    "+ link": lambda t: f"{t} https://www.example.org/story/2291",
    "+ leading handle": lambda t: f"@another_user {t}",
    "+ emoji": lambda t: f"{t} \U0001f92c",
    "+ !!!": lambda t: f"{t}!!!",
    "+ place": lambda t: f"{t} Same in Halifax.",
}

# What posts carry besides their words, for the training copies. Benign training sentences
# (solidarity waves, mentions of places) carry hashtags and places far more often than hateful
# ones, so the head may learn "a hashtag or a place means harmless".
SURFACE_PLACES: tuple[str, ...] = augment.PLACES + (
    "Bradford",
    "Keighley",
    "Huddersfield",
    "Dewsbury",
    "Shipley",
    "Batley",
)
SURFACE_TOPICS = (
    "news",
    "UK",
    "breaking",
    "community",
    "politics",
    "justsaying",
    "Saturday",
    "local",
)
SURFACE_HANDLES = ("@fiction_news", "@jo_marsh", "@localwatch", "@sam_q", "@TheEveningPost")
SURFACE_EMOJI = ("\U0001f621", "\U0001f602", "\U0001f644", "\U0001f44d", "\U0001f62d")


def _surface(text: str, rng: random.Random) -> str:
    kind = rng.randrange(7)
    if kind == 0:
        return f"{text} #{rng.choice(SURFACE_PLACES)}"
    if kind == 1:
        return f"{text} #{rng.choice(SURFACE_TOPICS)}"
    if kind == 2:
        code = "".join(rng.choice("abcdefghijkXYZ0123456789") for _ in range(10))
        return f"{text} {rng.choice(('https://t.co/', 'http://bit.ly/'))}{code}"
    if kind == 3:
        return f"{rng.choice(SURFACE_HANDLES)} {text}"
    if kind == 4:
        return f"{text} {rng.choice(SURFACE_EMOJI)}"
    if kind == 5:
        return f"{text}{rng.choice(('!!', '?!', '...'))}"
    return f"{text} Same in {rng.choice(SURFACE_PLACES)}."


def with_surface(texts: Sequence[str], rng: random.Random) -> list[str]:
    """Each text with one addition a post carries besides its words (a hashtag, a link, a
    handle, an emoji, punctuation or a place), drawn by `rng`."""
    return [_surface(t, rng) for t in texts]


@dataclass(frozen=True)
class Variant:
    name: str
    copies: float = 0.0  # share of training rows copied with a surface addition
    blind: int = 0  # surface directions projected out


VARIANTS: tuple[Variant, ...] = (
    Variant("shipped refit"),
    Variant("surface copies of 25% of rows", copies=0.25),
    Variant("surface copies of 50% of rows", copies=0.5),
    Variant("surface copies of 100% of rows", copies=1.0),
    Variant("surface-blind, 4 directions", blind=4),
    Variant("surface-blind, 8 directions", blind=8),
    Variant("surface-blind, 16 directions", blind=16),
    Variant("copies of 50% and blind, 8", copies=0.5, blind=8),
)


class SurfaceBlindFit(LinearFit):
    """`LinearFit` with the directions of `differences` (pools of rows with an addition minus
    the same rows without) projected out of the standardised columns before the fit."""

    def __init__(
        self,
        x: FloatArray,
        y: npt.NDArray[np.int64],
        n_out: int,
        l2: float,
        recipe: Recipe,
        weights: FloatArray | None = None,
        *,
        differences: FloatArray,
        k: int,
    ) -> None:
        self.mean, self.scale = boosted_standardiser(x, 0, 1.0)
        basis = invariant_basis(differences, self.scale, k)
        z = ((x - self.mean) / self.scale).astype(np.float64)
        self.weight, self.bias = fit_blind(z, basis, y, n_out, l2, weights, recipe)


def surface_figures(model: ModelDir, served: FeatureCache) -> dict[str, str]:
    cases = load_suite()
    hateful = np.array([c.hateful for c in cases])
    t = model.all_thresholds[HOSTILE]
    out = {}
    caught = []
    for name, form in HELD_OUT.items():
        texts = [form(c.text) for c in cases]
        pools = served.layers(f"functional-surface-{name}", cache_texts(texts, True))
        flags = np.array([s[HOSTILE] >= t for s in score_pools(model.heads, pools, texts)])
        out[name] = f"{flags[hateful].mean():.3f} / {flags[~hateful].mean():.3f}"
        if name != "plain":
            caught.append(flags[hateful].mean())
    out["lowest / mean with an addition"] = f"{min(caught):.3f} / {np.mean(caught):.3f}"
    return out


def main(argv: Sequence[str] | None = None) -> None:
    shipped = open_shipped(__doc__, argv)
    data_dir, model, served = shipped.data_dir, shipped.model, shipped.served
    recipe = LoraRecipe()
    data = hostile_refit_set(recipe, served, data_dir)
    x_rows, y_rows, w_rows = data.x, data.y, data.w
    xv, yv, xb = data.x_val, data.y_val, data.x_benign
    # Every row once with an addition (cached once; each variant takes its share).
    added = with_surface(data.texts, random.Random(f"{recipe.seed}:surface"))
    x_added = _pools(served, "refit-surface", added)
    order = np.random.default_rng(recipe.seed).permutation(len(data.texts))

    keys: list[str] = []
    for v in VARIANTS:
        x, y, w = x_rows, y_rows, w_rows
        if v.copies:
            pick = np.sort(order[: int(round(v.copies * len(data.texts)))])
            x = np.vstack([x, x_added[pick]])
            y = np.concatenate([y, y_rows[pick]])
            w = np.concatenate([w, w_rows[pick]])
        linear: Any = LinearFit
        if v.blind:
            pairs = np.sort(order[:4000])
            linear = functools.partial(
                SurfaceBlindFit, differences=x_added[pairs] - x_rows[pairs], k=v.blind
            )
        fit = fit_hostile(
            x,
            y,
            w,
            xv,
            yv,
            xb,
            l2=recipe.refit_l2,
            max_benign_fpr=recipe.max_benign_fpr,
            seed=recipe.seed,
            linear=linear,
        )
        variant = with_hostile(model, fit.head, fit.threshold)
        row = surface_figures(variant, served)
        suites = evaluate_suites(variant, served)
        fair = suites["fairness"]["overall"]
        row["fairness counter FPR / recall"] = f"{fair['fpr_counter']} / {fair['recall_hostile']}"
        row["groups over the bar"] = str(len(fair["groups_failing_fpr_bar"]))
        if not keys:
            keys = list(row)
            print(
                "\n| hostile refit | val macro-F1 | threshold | "
                + " | ".join(f"{k} (hateful / non-hateful flagged)" if k in HELD_OUT else k
                             for k in keys)
                + " |"
            )  # fmt: skip
            print("|---" * (len(keys) + 3) + "|")
        cells = [v.name, f"{fit.val_macro_f1:.4f}", f"{fit.threshold:.2f}"]
        print("| " + " | ".join(cells + [row[k] for k in keys]) + " |", flush=True)


if __name__ == "__main__":
    main()
