"""The hostile refit with functional shapes, and what else was tried for them (issue 18).

The functional suite (tests/fixtures/fairness/functional.yaml) shows the hostile head missing
half of the hatred that is not plain derogation or dehumanisation, and catching hatred about
some groups half as often as about others. Each row refits the hostile head as
`monitor.classify.refit.refit_hostile` does (logistic head on the shipped adapter's pools 3, 4,
7, 8, Platt scaling and the operating point on validation under the benign cap) with one
thing changed, then scores it with `monitor eval`'s own functions:

- `augment.functional_contrast` at 0 (the folder before), 1, 2, 4 (shipped) and 8 per group,
  and at 4 without its non-protected twins or without its negations;
- the benign cap of the operating point at 7.5% and 10% instead of 5%;
- Davidson's rows left out (its "offensive" class, mostly abuse in African-American English,
  is a not-hostile example: does it teach the head that abuse about Black people is not
  hostility?);
- "group-blind" heads: the directions that tell the 49 groups apart (each group's mean
  standardised feature vector within hostile and within benign fresh sentences, their top r
  singular vectors) projected out of the head's columns before the fit, so that the head
  cannot weigh which group a post names (folded back into one linear head: serving would be
  unchanged).

Choices are made on validation only (the refit's own rule: TweetEval hate val macro-F1 at the
operating point); test and suites are scored once per row, for information.

    nice -n 5 .venv/bin/python benchmarks/functional_levers.py --cache-dir DIR

About 3 minutes on a quiet 2-core machine with `monitor eval`'s cache filled (2026-12-07).
Figures are in the model card ("Functional shapes in the hostile refit").
"""

from __future__ import annotations

import functools
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.classify import augment
from monitor.classify import data as datasets
from monitor.classify.deobfuscate import cache_texts, deobfuscates
from monitor.classify.evaluate import _encoder_texts, evaluate_suites, score_pools
from monitor.classify.features import FeatureCache
from monitor.classify.finetune import lora_data
from monitor.classify.fit import standardiser
from monitor.classify.heads import Head, HeadSet
from monitor.classify.labels import HOSTILE
from monitor.classify.lora import LoraRecipe
from monitor.classify.manifest import ModelDir
from monitor.classify.refit import _pools, fit_hostile, refit_validation
from monitor.classify.train import LinearFit, Recipe, _macro_f1, fit_blind

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from benchmarks.shipped_model import open_shipped

FloatArray = npt.NDArray[np.float32]

# The probe the amount was chosen on (with TweetEval hate val): FICTIONAL sentences of the same
# phenomena, written by the grammar's author on 2026-12-06 before the functional suite existed,
# in other words than `augment.functional_contrast` (no sentence of one is in the other). Not
# independent of the grammar: the functional suite is the independent measure.
PROBE_GROUPS: tuple[str, ...] = (
    "Muslims",
    "Jews",
    "gay people",
    "trans people",
    "women",
    "Black people",
    "disabled people",
    "immigrants",
    "Polish people",
    "Pakistanis",
    "refugees",
    "lesbians",
)
PROBE: dict[str, tuple[bool, tuple[str, ...]]] = {
    "derog_emotion": (
        True,
        (
            "I really can't stand {g}.",
            "I absolutely despise {g}.",
            "{g} disgust me.",
            "I hate {g} so much.",
        ),
    ),
    "derog_descr": (
        True,
        (
            "{g} are all liars and thieves.",
            "{g} are a plague on this country.",
            "{g} are worthless.",
            "All {g} are the same: filthy.",
        ),
    ),
    "dehuman": (
        True,
        (
            "{g} are nothing but vermin.",
            "{g} are rats breeding in our towns.",
            "{g} are a disease.",
            "{g} are animals, not people.",
        ),
    ),
    "threat_direct": (
        True,
        (
            "I'm going to hurt the next one of the {g} I see.",
            "I will kill any of the {g} who come near my street.",
            "I'm going to torch the place where {g} meet.",
        ),
    ),
    "threat_normative": (
        True,
        (
            "{g} should all be shot.",
            "Somebody should hang all the {g}.",
            "{g} deserve to be beaten.",
            "{g} should be wiped out.",
        ),
    ),
    "exclusion": (
        True,
        (
            "{g} should be kicked out of this country.",
            "No {g} allowed in our town, ever.",
            "Send all {g} back where they came from.",
        ),
    ),
    "pronoun": (
        True,
        (
            "I've met {g}. They are scum, every one.",
            "Don't talk to me about {g}. I think they're disgusting.",
        ),
    ),
    "question_hate": (
        True,
        (
            "Why are {g} so stupid?",
            "Isn't it obvious that {g} are a cancer?",
        ),
    ),
    "opinion_hate": (
        True,
        (
            "I think {g} are a danger to society.",
            "In my opinion {g} are subhuman.",
        ),
    ),
    "negated": (
        False,
        (
            "I don't hate {g}.",
            "{g} are not vermin and never were.",
            "No one should ever say {g} are a disease.",
        ),
    ),
    "neutral": (
        False,
        (
            "I met some {g} at the library today.",
            "There's a new support group for {g} in Halifax.",
            "My neighbours are {g}.",
        ),
    ),
    "positive": (
        False,
        (
            "I love being around {g}.",
            "{g} are brilliant, welcoming people.",
            "So proud of the {g} in our street.",
        ),
    ),
    "counter_quote": (
        False,
        (
            'Saying "{g} are vermin" is disgusting and you should be ashamed.',
            "Someone wrote '{g} should be shot' on the bus stop. Reported it.",
        ),
    ),
    "counter_ref": (
        False,
        (
            "Stop spreading hate about {g}.",
            "If you attack {g} you attack all of us.",
        ),
    ),
    "abuse_object": (
        False,
        (
            "I hate this rubbish printer.",
            "Mondays are the worst, I despise them.",
            "This traffic is vermin-level awful.",
        ),
    ),
    "abuse_person": (
        False,
        (
            "You are a pathetic liar.",
            "My landlord is a useless piece of work.",
            "That referee is an idiot.",
        ),
    ),
    "abuse_nonprot": (
        False,
        (
            "Traffic wardens are scum.",
            "Estate agents are parasites.",
            "Politicians are all liars and thieves.",
        ),
    ),
    "profanity": (
        False,
        (
            "What a fucking brilliant day.",
            "Shit, I missed the bus again.",
        ),
    ),
}


@dataclass(frozen=True)
class Variant:
    name: str
    functional: int = 4
    drop_kind: str = ""  # a functional_contrast kind left out
    cap: float = 0.05
    davidson: bool = True
    blind: int = 0  # group directions projected out


VARIANTS: tuple[Variant, ...] = (
    Variant("no functional shapes (the folder before)", functional=0),
    Variant("1 per group", functional=1),
    Variant("2 per group", functional=2),
    Variant("4 per group (shipped)"),
    Variant("8 per group", functional=8),
    Variant("4, without the non-protected twins", drop_kind="functionalnonprotected"),
    Variant("4, without the negations", drop_kind="functionalnegated"),
    Variant("none, benign cap 7.5%", functional=0, cap=0.075),
    Variant("4, benign cap 7.5%", cap=0.075),
    Variant("none, benign cap 10%", functional=0, cap=0.10),
    Variant("none, without Davidson's rows", functional=0, davidson=False),
    Variant("4, without Davidson's rows", davidson=False),
    Variant("none, group-blind (8 directions)", functional=0, blind=8),
    Variant("none, group-blind (16)", functional=0, blind=16),
    Variant("none, group-blind (32)", functional=0, blind=32),
    Variant("none, group-blind (64)", functional=0, blind=64),
    Variant("4, group-blind (16)", blind=16),
)


def group_sentences(seed: int) -> tuple[list[str], list[int], list[str]]:
    """Every training shape of the fresh augmentation (mentions, counter-speech, solidarity,
    negations: benign; hostile shapes) filled once for every group."""
    rng = random.Random(f"{seed}:group-directions")
    texts, labels, groups = [], [], []
    benign = augment.MENTION + augment.COUNTER + augment.SOLIDARITY + augment.NEGATED
    for group in augment.IDENTITY_FORMS:
        for shapes, label in ((benign, 0), (augment.HOSTILE, 1)):
            for shape in shapes:
                texts.append(augment._fill(shape, rng, group))
                labels.append(label)
                groups.append(group)
    return texts, labels, groups


class GroupBlindFit(LinearFit):
    """`LinearFit` with the group directions of `directions_x` removed from the standardised
    columns before the fit, and the weights projected the same way (one linear head)."""

    def __init__(
        self,
        x: FloatArray,
        y: npt.NDArray[np.int64],
        n_out: int,
        l2: float,
        recipe: Recipe,
        weights: FloatArray | None = None,
        boost_last: int = 0,
        boost: float = 1.0,
        *,
        directions_x: FloatArray,
        directions_y: npt.NDArray[np.int64],
        directions_group: npt.NDArray[np.str_],
        r: int,
    ) -> None:
        self.mean, self.scale = standardiser(x)
        z = (x - self.mean) / self.scale
        zg = ((directions_x - self.mean) / self.scale).astype(np.float64)
        vectors = []
        for c in (0, 1):
            centre = zg[directions_y == c].mean(0)
            for g in sorted(set(directions_group.tolist())):
                m = (directions_y == c) & (directions_group == g)
                vectors.append(zg[m].mean(0) - centre)
        u = np.linalg.svd(np.array(vectors).T, full_matrices=False)[0][:, :r]
        self.weight, self.bias = fit_blind(z.astype(np.float64), u, y, n_out, l2, weights, recipe)


def with_hostile(model: ModelDir, head: Head, threshold: float) -> ModelDir:
    """`model` with its hostile head and threshold replaced (nothing written)."""
    return replace(
        model,
        heads=HeadSet([head if h.name == HOSTILE else h for h in model.heads.heads]),
        manifest={
            **model.manifest,
            "thresholds": {**model.manifest["thresholds"], HOSTILE: round(threshold, 3)},
        },
    )


def probe_cases() -> list[tuple[str, bool]]:
    """Every probe shape filled for every probe group (shapes without {g} once)."""
    out = []
    for hateful, shapes in PROBE.values():
        for shape in shapes:
            for group in PROBE_GROUPS if "{g}" in shape else ("",):
                text = shape.replace("{g}", group)
                out.append((text[0].upper() + text[1:], hateful))
    return out


def figures(model: ModelDir, served: FeatureCache, data_dir: Path) -> dict[str, Any]:
    hate = datasets.tweeteval("hate", "test", data_dir)
    texts = _encoder_texts(hate.texts, deobfuscates(model.manifest))
    scores = score_pools(model.heads, served.layers(hate.name, texts), hate.texts)
    t = model.all_thresholds[HOSTILE]
    flags = np.array([s[HOSTILE] >= t for s in scores], np.int64)
    suites = evaluate_suites(model, served)
    fair = suites["fairness"]["overall"]
    english_row = suites["languages"]["per_language"]["en"]
    english = english_row["if_scored"]
    threats = english_row["posts_by_category"]["threat"]
    func = suites["functional"]
    per = func["per_functionality"]
    counter = [per[k] for k in ("counter_quote", "counter_reference")]
    counter_flagged = sum(r["cases"] * (1 - r["share_right"]) for r in counter) / sum(
        r["cases"] for r in counter
    )
    probe = probe_cases()
    texts = [t for t, _ in probe]
    probe_scores = score_pools(
        model.heads, served.layers("functional-probe", cache_texts(texts, True)), texts
    )
    caught = [s[HOSTILE] >= t for s in probe_scores]
    hateful = np.array([h for _, h in probe])
    return {
        "probe hateful / benign flagged": (
            f"{np.mean(np.array(caught)[hateful]):.3f} / {np.mean(np.array(caught)[~hateful]):.3f}"
        ),
        "hate test": round(_macro_f1(np.array(hate.labels), flags), 4),
        "fairness counter FPR": fair["fpr_counter"],
        "groups over the bar": len(fair["groups_failing_fpr_bar"]),
        "fairness recall": fair["recall_hostile"],
        "English hostile / threats": (
            f"{round(english['recall_hostile'] * english['hostile_posts'])} / "
            f"{round(english['recall_threat'] * threats)} of {threats}"
        ),
        "functional right": func["overall"]["accuracy"],
        "hateful caught": func["overall"]["recall_hateful"],
        "non-hateful flagged": func["overall"]["fpr_non_hateful"],
        "counter flagged": round(counter_flagged, 3),
        "groups' recall": (
            f"{func['overall']['lowest_group_recall']:.2f}-"
            f"{func['overall']['highest_group_recall']:.2f}"
        ),
    }


def main(argv: Sequence[str] | None = None) -> None:
    shipped = open_shipped(__doc__, argv)
    data_dir, model, served = shipped.data_dir, shipped.model, shipped.served
    recipe = LoraRecipe()
    train, val, _ = lora_data(recipe, data_dir)
    rows = train[HOSTILE]
    base = augment.group_abuse(recipe.seed) + augment.threat_contrast(
        recipe.seed, recipe.threat_per_group
    )
    hv_texts, hv_labels, benign = refit_validation(val)
    xv, yv = _pools(served, "tweeteval-hate-val", hv_texts), np.array(hv_labels, np.int64)
    xb = _pools(served, "augment-val", benign)
    x_rows = _pools(served, "lora-hostile", [r[0] for r in rows])
    x_base = _pools(served, "refit-extra-base", [e.text for e in base])
    g_texts, g_labels, g_groups = group_sentences(recipe.seed)
    x_groups = _pools(served, "group-directions", g_texts)

    keys: list[str] = []
    for v in VARIANTS:
        extra = [
            e
            for e in augment.functional_contrast(recipe.seed, v.functional)
            if e.kind != v.drop_kind
        ]
        keep = np.array([v.davidson or r[2] != recipe.davidson_weight for r in rows])
        parts = [x_rows[keep], x_base]
        if extra:
            parts.append(_pools(served, f"functional-{v.functional}", [e.text for e in extra]))
        x = np.vstack(parts)
        kept = [r for r, k in zip(rows, keep, strict=True) if k]
        y = np.array([r[1] for r in kept] + [e.hostile for e in base + extra], np.int64)
        w = np.array(
            [r[2] for r in kept] + [recipe.augment_weight] * (len(base) + len(extra)),
            np.float32,
        )
        linear: Any = LinearFit
        if v.blind:  # the refit's own calibration and operating point, a projecting fit
            linear = functools.partial(
                GroupBlindFit,
                directions_x=x_groups,
                directions_y=np.array(g_labels, np.int64),
                directions_group=np.array(g_groups),
                r=v.blind,
            )
        fit = fit_hostile(
            x,
            y,
            w,
            xv,
            yv,
            xb,
            l2=recipe.refit_l2,
            max_benign_fpr=v.cap,
            seed=recipe.seed,
            linear=linear,
        )
        variant = with_hostile(model, fit.head, fit.threshold)
        row = figures(variant, served, data_dir)
        if not keys:
            keys = list(row)
            print("| hostile refit | val macro-F1 | threshold | " + " | ".join(keys) + " |")
            print("|---" * (len(keys) + 3) + "|")
        cells = [v.name, f"{fit.val_macro_f1:.4f}", f"{fit.threshold:.2f}"]
        print("| " + " | ".join(cells + [str(row[k]) for k in keys]) + " |", flush=True)


if __name__ == "__main__":
    main()
