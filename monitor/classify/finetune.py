"""`monitor train --lora`: the fine-tuned model (issue 18), from frozen-feature heads.

1. The frozen-feature heads are trained first (`monitor.classify.train`): rumour and stance
   ship from them unchanged (they read the frozen pools), and all four start the fine-tuning.
2. The LoRA adapter and four task heads are trained multi-task (`monitor.classify.lora`) on
   seeded samples of the training sets plus the augmentation (`monitor.classify.augment`).
3. Hostile and offensive heads are calibrated (Platt) and thresholded on validation data
   (TweetEval hate and offensive val): offensive at the best val macro-F1 of the calibrated
   score, hostile at the best val macro-F1 among thresholds that flag at most
   `LoraRecipe.max_benign_fpr` of the held-out benign augmentation shapes (its operating
   point, written to the manifest and the model card).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from monitor.classify import augment
from monitor.classify import data as datasets
from monitor.classify.fit import best_threshold, fit_platt
from monitor.classify.heads import Head, HeadSet, feature_width
from monitor.classify.labels import HOSTILE, OFFENSIVE
from monitor.classify.lora import (
    ADAPTER_FILE,
    HEAD_LAYERS,
    LoraRecipe,
    LoraResult,
    save_adapter,
    train_lora,
)
from monitor.classify.train import Recipe as HeadRecipe
from monitor.classify.train import Trained, _macro_f1, _sigmoid, _text_digest, davidson_subsample

Rows = list[tuple[str, int, float]]


def _cap(rows: Rows, cap: int, seed: str) -> Rows:
    if len(rows) <= cap:
        return rows
    return random.Random(seed).sample(rows, cap)


def _share(v: tuple[list[str], list[int]], share: float) -> tuple[list[str], list[int]]:
    """A seeded sample of `share` of a validation set, in its order."""
    if share >= 1.0:
        return v
    idx = sorted(random.Random(1).sample(range(len(v[0])), int(len(v[0]) * share)))
    return [v[0][i] for i in idx], [v[1][i] for i in idx]


def lora_data(
    recipe: LoraRecipe, data_dir: Path | None
) -> tuple[dict[str, Rows], dict[str, tuple[list[str], list[int]]], dict[str, str]]:
    """Training rows per task, validation sets and the sha256 of every set as read."""
    caps = recipe.caps
    s = recipe.seed
    hate = datasets.tweeteval("hate", "train", data_dir)
    dav = davidson_subsample(datasets.davidson(data_dir), HeadRecipe(seed=s))
    off = datasets.tweeteval("offensive", "train", data_dir)
    pheme = datasets.pheme(data_dir)
    stance = datasets.rumoureval("traindev", data_dir)
    hate_rows = _cap(
        [(t, y, 1.0) for t, y in zip(hate.texts, hate.labels, strict=True)],
        caps["tweeteval-hate-train"],
        f"{s}:hate",
    )
    dav_rows = _cap(
        [
            (t, 1 if c == 0 else 0, recipe.davidson_weight)
            for t, c in zip(dav.texts, dav.labels, strict=True)
        ],
        caps["davidson"],
        f"{s}:dav",
    )
    real_texts = [r[0] for r in hate_rows + dav_rows]
    real_labels = [r[1] for r in hate_rows + dav_rows]
    # Each kind of augmentation is sampled on its own, so that the fresh sentences (what the
    # fairness bars need) are not crowded out by swaps and disguises, which grow with the data.
    fresh = augment.identity_examples(s, "train")
    swaps = augment.counterfactual(real_texts, real_labels, s, recipe.swaps)
    real = [augment.Example(t, y, "real") for t, y in zip(real_texts, real_labels, strict=True)]
    disguised = augment.obfuscated(fresh, s) + augment.obfuscated(real, s + 1)
    aug_rows = (
        _cap(
            [(e.text, e.hostile, recipe.augment_weight) for e in fresh],
            caps["fresh"],
            f"{s}:fresh",
        )
        + _cap(
            [(e.text, e.hostile, recipe.augment_weight) for e in swaps],
            caps["swap"],
            f"{s}:swap",
        )
        + _cap(
            [(e.text, e.hostile, recipe.augment_weight) for e in disguised],
            caps["obfuscated"],
            f"{s}:obf",
        )
    )
    train: dict[str, Rows] = {
        "hostile": hate_rows + dav_rows + aug_rows,
        "offensive": _cap(
            [(t, y, 1.0) for t, y in zip(off.texts, off.labels, strict=True)],
            caps["tweeteval-offensive-train"],
            f"{s}:off",
        ),
        "rumour": _cap(
            [(t, y, 1.0) for t, y in zip(pheme.texts, pheme.labels, strict=True)],
            caps["pheme"],
            f"{s}:pheme",
        ),
        "stance": _cap(
            [(t, y, 1.0) for t, y in zip(stance.texts, stance.labels, strict=True)],
            caps["rumoureval-traindev"],
            f"{s}:stance",
        ),
    }
    hv = datasets.tweeteval("hate", "val", data_dir)
    ov = datasets.tweeteval("offensive", "val", data_dir)
    ident = augment.identity_examples(s, "val")
    full = {
        "hostile": (hv.texts, hv.labels),
        "offensive": (ov.texts, ov.labels),
        "identity": ([e.text for e in ident], [e.hostile for e in ident]),
    }
    val = {name: _share(v, recipe.val_share) for name, v in full.items()}
    hashes = {
        f"lora-{task}": _text_digest([r[0] for r in rows], [r[1] for r in rows])
        for task, rows in train.items()
    }
    hashes.update(
        {
            hv.name: _text_digest(hv.texts, hv.labels),
            ov.name: _text_digest(ov.texts, ov.labels),
            "augment-val": _text_digest(val["identity"][0], val["identity"][1]),
        }
    )
    return train, val, hashes


def operating_threshold(p: Any, y: Any, benign: Any, max_fpr: float) -> tuple[float, float]:
    """The threshold with the best macro-F1 of (p, y) among those flagging at most `max_fpr`
    of the `benign` scores, and the share of them it flags (the grid's top when no
    threshold on it keeps the bar)."""
    grid = [round(t, 3) for t in np.arange(0.02, 0.951, 0.01)]
    allowed = [t for t in grid if float(np.mean(benign >= t)) <= max_fpr] or [grid[-1]]
    t = best_threshold(p, y, allowed)
    return t, float(np.mean(benign >= t))


def init_heads(frozen: HeadSet) -> dict[str, tuple[Any, Any, Any, Any]]:
    """(mean, scale, weight, bias) of each frozen-feature head, the fine-tuning's start."""
    out = {}
    for head in frozen.heads:
        if tuple(head.layers) != (3, 4, 5, 6):
            raise ValueError(f"head {head.name} reads layers {head.layers}, expected 3-6")
        # The fine-tuning's heads read pools (and stance its lexical features) but not the
        # rumour cues, so a head that has them starts from its other columns.
        n = feature_width(head.layers, head.lexical, False)
        out[head.name] = (head.mean[:n], head.scale[:n], head.weight[:n], head.bias)
    return out


def fine_tune(
    recipe: LoraRecipe,
    frozen: Trained,
    data_dir: Path | None,
    progress: Callable[[str], None],
    threads: int = 2,
) -> tuple[Trained, LoraResult]:
    """Train the adapter; return the model's heads (hostile and offensive adapted, rumour and
    stance frozen) with thresholds and validation figures, and the adapter."""
    train, val, hashes = lora_data(recipe, data_dir)
    result = train_lora(
        recipe,
        train,
        val,
        init_heads(frozen.lora_start or frozen.heads),
        threads=threads,
        progress=progress,
    )
    heads: list[Head] = []
    thresholds = dict(frozen.thresholds)
    validation = dict(frozen.validation)
    operating: dict[str, str] = {}
    for head in frozen.heads.heads:
        if head.name not in (HOSTILE, OFFENSIVE):
            heads.append(head)
            continue
        mean, scale, w, b = result.heads[head.name]
        z = result.val_logits[head.name]
        y = result.val_labels[head.name]
        a, c = fit_platt(z, y)
        p = _sigmoid(a * z + c)
        t = best_threshold(p, y)
        point = f"best macro-F1 on TweetEval {head.name} val ({len(y)} posts)"
        if head.name == HOSTILE:
            zi, yi = result.val_logits["identity"], result.val_labels["identity"]
            benign = _sigmoid(a * zi[yi == 0] + c)
            t, fpr = operating_threshold(p, y, benign, recipe.max_benign_fpr)
            point = (
                f"best macro-F1 on TweetEval hate val ({len(y)} posts) among thresholds that "
                f"flag at most {recipe.max_benign_fpr:.0%} of {len(benign)} held-out benign "
                f"identity, counter-speech, solidarity, negation and non-protected-abuse "
                f"sentences (flags {fpr:.1%} of them)"
            )
        operating[head.name] = point
        heads.append(
            Head(
                name=head.name,
                kind="binary",
                outputs=head.outputs,
                layers=HEAD_LAYERS,
                lexical=False,
                mean=mean.astype(np.float32),
                scale=scale.astype(np.float32),
                weight=w.astype(np.float32),
                bias=b.astype(np.float32),
                calib_scale=np.array([a], np.float32),
                calib_shift=np.array([c], np.float32),
            )
        )
        thresholds[head.name] = t
        validation[head.name] = {
            "val_macro_f1": _macro_f1(y, (p >= t).astype(int)),
            "frozen_val_macro_f1": frozen.validation[head.name]["val_macro_f1"],
            "on": f"tweeteval-{'hate' if head.name == HOSTILE else 'offensive'}-val",
            "operating_point": operating[head.name],
        }
        progress(f"lora: {head.name} val macro-F1 {validation[head.name]['val_macro_f1']} at {t}")
    ident = result.val_logits["identity"]
    validation["lora"] = {
        "best_step": result.best_step,
        "steps": result.steps,
        "history": result.history,
        "examples": result.counts,
        "identity_val_auc": next(
            r.get("identity_auc") for r in result.history if r["step"] == result.best_step
        ),
        "identity_val_n": int(len(ident)),
    }
    data_hashes = {**frozen.data_hashes, **hashes}
    trained = Trained(
        HeadSet(heads), thresholds, validation, data_hashes, frozen.seconds + result.seconds
    )
    return trained, result


def write_adapter(out: Path, result: LoraResult, recipe: LoraRecipe) -> dict[str, Any]:
    """Write the adapter and return the manifest's `adapter` record (its sha256 is added to
    the manifest's `files` by the caller)."""
    from monitor.classify.lora import ADAPTED, ADAPTED_POOLS, TARGETS

    save_adapter(out / ADAPTER_FILE, result.adapter)
    return {
        "file": ADAPTER_FILE,
        "library": "peft (LoRA)",
        "layers": list(ADAPTED),
        "targets": list(TARGETS),
        "rank": recipe.rank,
        "alpha": recipe.alpha,
        "pools": {str(v): f"adapted hidden state {k}" for k, v in ADAPTED_POOLS.items()},
        "recipe": {k: (dict(v) if isinstance(v, dict) else v) for k, v in asdict(recipe).items()},
    }
