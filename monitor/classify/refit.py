"""The fine-tuned model's hostile and offensive heads, refitted on the serving encoder's
adapted features.

The head trained jointly with the adapter (`monitor.classify.lora`) starts from the frozen
logistic head and moves little (its learning rate is low, so that the adapter does the work),
and it never saw a hostile counterpart of the non-protected abuse shapes
(`augment.group_abuse`): "I hate {t} ..." and "{t} are vermin" were only ever harmless. It
missed plain first-person hatred and dehumanisation of groups in exactly those words. So after
fine-tuning, `monitor train --lora` fits the hostile head again as an L2-regularised,
class-balanced logistic regression on the adapted pools (3, 4, 7, 8) that serving computes (ONNX
Runtime fp32, deobfuscated text) for the fine-tuning's hostile rows plus those counterparts
and threats, each with a benign twin and an everyday post (`augment.threat_contrast`: the
head caught 1 of 8 English threats without them), then calibrates it (Platt) and sets its
operating point on the same validation data as before.

The offensive head is fitted again the same way on all of TweetEval offensive train: the
fine-tuning saw a sample of 1,400 of its 11,916 posts, and on the same features more posts,
not another form of head, is what raised validation (model card). Rumour and stance keep
their heads; the adapter is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.classify import augment
from monitor.classify import data as datasets
from monitor.classify.branch import BranchWeights
from monitor.classify.deobfuscate import TRAINING_LEVEL, cache_texts
from monitor.classify.features import FeatureCache, select
from monitor.classify.finetune import lora_data, operating_threshold
from monitor.classify.fit import best_threshold, fit_platt
from monitor.classify.heads import Head, HeadSet
from monitor.classify.labels import HOSTILE, OFFENSIVE
from monitor.classify.lora import HEAD_LAYERS, LoraRecipe
from monitor.classify.train import (
    LinearFit,
    Recipe,
    Trained,
    _macro_f1,
    _sigmoid,
    _text_digest,
)

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class RefitHead:
    head: Head
    threshold: float
    val_macro_f1: float
    benign_flagged: float  # share of the held-out benign sentences flagged at the threshold
    n_val: int
    n_benign: int


def _calibrated_head(
    name: str,
    layers: tuple[int, ...],
    x: FloatArray,
    y: IntArray,
    w: FloatArray | None,
    x_val: FloatArray,
    y_val: IntArray,
    *,
    l2: float,
    seed: int,
    max_iter: int,
    linear: Callable[..., LinearFit] = LinearFit,
) -> tuple[Head, float, float]:
    """A class-balanced logistic head on (x, y, w) and the Platt scale and shift that
    calibrate its logit on (x_val, y_val); the head carries them. The fit is the training
    recipe's own (`LinearFit`, or `linear` with its signature: a benchmark's variant of the
    fit), with this refit's L2, seed and iteration cap."""
    fit = linear(x, y, 1, l2, Recipe(seed=seed, max_iter=max_iter), w)
    head = fit.head(name, "binary", (name,), layers, False, 1.0, np.zeros(1, np.float32))
    a, c = fit_platt(head.logits(x_val)[:, 0], y_val)
    head = replace(
        head, calib_scale=np.array([a], np.float32), calib_shift=np.array([c], np.float32)
    )
    return head, a, c


def _calibrated(head: Head, a: float, c: float, x: FloatArray) -> FloatArray:
    # The Platt parameters as fitted (float64), as the threshold searches have always used.
    return _sigmoid(a * head.logits(x)[:, 0] + c)


def fit_hostile(
    x: FloatArray,
    y: IntArray,
    w: FloatArray,
    x_val: FloatArray,
    y_val: IntArray,
    x_benign: FloatArray,
    *,
    l2: float,
    max_benign_fpr: float,
    seed: int,
    max_iter: int = 150,
    layers: tuple[int, ...] = HEAD_LAYERS,
    linear: Callable[..., LinearFit] = LinearFit,
) -> RefitHead:
    """Logistic head on (x, y, w) (the pools `layers`; fitted by `linear`, the recipe's
    `LinearFit` unless a benchmark varies it), Platt-calibrated on (x_val, y_val),
    thresholded at the best val macro-F1 among thresholds that flag at most `max_benign_fpr`
    of `x_benign`."""
    head, a, c = _calibrated_head(
        HOSTILE, layers, x, y, w, x_val, y_val, l2=l2, seed=seed, max_iter=max_iter, linear=linear
    )
    p = _calibrated(head, a, c, x_val)
    benign = _calibrated(head, a, c, x_benign)
    t, flagged = operating_threshold(p, y_val, benign, max_benign_fpr)
    return RefitHead(
        head, t, _macro_f1(y_val, (p >= t).astype(int)), flagged, len(y_val), len(benign)
    )


def fit_offensive(
    x: FloatArray,
    y: IntArray,
    x_val: FloatArray,
    y_val: IntArray,
    *,
    layers: tuple[int, ...],
    l2: float,
    seed: int,
    max_iter: int = 150,
) -> RefitHead:
    """Class-balanced logistic head on (x, y) reading `layers`, Platt-calibrated on
    (x_val, y_val) and thresholded at its best val macro-F1 (no benign cap: offensive
    language is not about groups, and the fairness bars are the hostile flag's)."""
    head, a, c = _calibrated_head(
        OFFENSIVE, layers, x, y, None, x_val, y_val, l2=l2, seed=seed, max_iter=max_iter
    )
    p = _calibrated(head, a, c, x_val)
    t = best_threshold(p, y_val)
    return RefitHead(head, t, _macro_f1(y_val, (p >= t).astype(int)), 0.0, len(y_val), 0)


def _pools(
    cache: FeatureCache, name: str, texts: Sequence[str], layers: Sequence[int] = HEAD_LAYERS
) -> FloatArray:
    # As serving encodes them: disguised words written plainly, at the level training writes.
    return select(cache.layers(name, cache_texts(texts, TRAINING_LEVEL)), layers)


@dataclass(frozen=True)
class HostileRefitSet:
    """What the hostile refit reads, as pools of `cache`'s encoder: its training rows (the
    fine-tuning's hostile rows, then the refit's own fictional sentences) with labels and
    weights, and the validation posts and held-out benign sentences its operating point is
    chosen on."""

    texts: list[str]
    x: FloatArray
    y: IntArray
    w: FloatArray
    x_val: FloatArray
    y_val: IntArray
    x_benign: FloatArray


def refit_validation(
    val: Mapping[str, tuple[list[str], list[int]]],
) -> tuple[list[str], list[int], list[str]]:
    """From `lora_data`'s validation sets: the TweetEval hate val posts and labels, and the
    held-out benign augmentation sentences the operating point's cap is counted on."""
    hv_texts, hv_labels = val[HOSTILE]
    iv_texts, iv_labels = val["identity"]
    benign = [t for t, lab in zip(iv_texts, iv_labels, strict=True) if lab == 0]
    return hv_texts, hv_labels, benign


def hostile_refit_set(
    recipe: LoraRecipe, cache: FeatureCache, data_dir: Path | None
) -> HostileRefitSet:
    """The hostile refit's data (`refit_hostile`; benchmarks vary it from here)."""
    train, val, _ = lora_data(recipe, data_dir)
    rows = train[HOSTILE]
    extra = (
        augment.group_abuse(recipe.seed)
        + augment.threat_contrast(recipe.seed, recipe.threat_per_group)
        + augment.functional_contrast(recipe.seed, recipe.functional_per_group)
    )
    x = np.vstack(
        [
            _pools(cache, "lora-hostile", [r[0] for r in rows]),
            _pools(cache, "refit-extra", [e.text for e in extra]),
        ]
    )
    hv_texts, hv_labels, benign = refit_validation(val)
    return HostileRefitSet(
        texts=[r[0] for r in rows] + [e.text for e in extra],
        x=x,
        y=np.array([r[1] for r in rows] + [e.hostile for e in extra], dtype=np.int64),
        w=np.array([r[2] for r in rows] + [recipe.augment_weight] * len(extra), np.float32),
        x_val=_pools(cache, "tweeteval-hate-val", hv_texts),
        y_val=np.array(hv_labels, dtype=np.int64),
        x_benign=_pools(cache, "augment-val", benign),
    )


def refit_hostile(
    trained: Trained,
    recipe: LoraRecipe,
    cache: FeatureCache,
    data_dir: Path | None,
    progress: Callable[[str], None],
) -> Trained:
    """`trained` with its hostile head, threshold and validation record replaced by the refit
    on `cache`'s adapter (the fine-tuned model's own)."""
    if cache.adapter is None:
        raise ValueError("the refit reads the adapted pools: the cache needs the adapter")
    data = hostile_refit_set(recipe, cache, data_dir)
    fit = fit_hostile(
        data.x,
        data.y,
        data.w,
        data.x_val,
        data.y_val,
        data.x_benign,
        l2=recipe.refit_l2,
        max_benign_fpr=recipe.max_benign_fpr,
        seed=recipe.seed,
    )
    point = (
        f"refit on the serving encoder's adapted pools; best macro-F1 on TweetEval hate val "
        f"({fit.n_val} posts) among thresholds that flag at most {recipe.max_benign_fpr:.0%} "
        f"of {fit.n_benign} held-out benign identity, counter-speech, solidarity, negation and "
        f"non-protected-abuse sentences (flags {fit.benign_flagged:.1%} of them)"
    )
    progress(f"refit: hostile val macro-F1 {fit.val_macro_f1} at {fit.threshold}")
    return _with_refit(
        trained,
        HOSTILE,
        fit,
        {"refit_l2": recipe.refit_l2, "refit_examples": len(data.y), "operating_point": point},
        _text_digest(data.texts, data.y.tolist()),
    )


def refit_offensive(
    trained: Trained,
    recipe: LoraRecipe,
    cache: FeatureCache,
    data_dir: Path | None,
    progress: Callable[[str], None],
) -> Trained:
    """`trained` with its offensive head, threshold and validation record replaced by a head
    fitted on `cache`'s adapted pools of every TweetEval offensive training post (the
    fine-tuning saw a sample of `recipe.caps["tweeteval-offensive-train"]`), calibrated and
    thresholded on the whole of TweetEval offensive val."""
    if cache.adapter is None:
        raise ValueError("the refit reads the adapted pools: the cache needs the adapter")
    layers = tuple(recipe.offensive_refit_layers)
    tr = datasets.tweeteval("offensive", "train", data_dir)
    va = datasets.tweeteval("offensive", "val", data_dir)
    fit = fit_offensive(
        _pools(cache, tr.name, tr.texts, layers),
        np.array(tr.labels, dtype=np.int64),
        _pools(cache, va.name, va.texts, layers),
        np.array(va.labels, dtype=np.int64),
        layers=layers,
        l2=recipe.offensive_refit_l2,
        seed=recipe.seed,
    )
    point = (
        f"refit on the serving encoder's adapted pools of all {len(tr.texts):,} TweetEval "
        f"offensive training posts; best macro-F1 on TweetEval offensive val ({fit.n_val:,} posts)"
    )
    progress(f"refit: offensive val macro-F1 {fit.val_macro_f1} at {fit.threshold}")
    return _with_refit(
        trained,
        OFFENSIVE,
        fit,
        {
            "refit_l2": recipe.offensive_refit_l2,
            "refit_examples": len(tr.texts),
            "operating_point": point,
        },
        _text_digest(tr.texts, tr.labels),
    )


def _with_refit(
    trained: Trained, name: str, fit: RefitHead, record: dict[str, Any], digest: str
) -> Trained:
    """`trained` with head `name`, its threshold, validation record and data hash replaced by
    the refit's. The joint head's val figure is kept beside the refit's as
    `joint_val_macro_f1` (for offensive it is on the fine-tuning's 40% share of val only)."""
    heads = HeadSet([fit.head if h.name == name else h for h in trained.heads.heads])
    before = trained.validation.get(name, {})
    validation: dict[str, Any] = {
        **trained.validation,
        name: {
            **before,
            "val_macro_f1": fit.val_macro_f1,
            # A refit of a refitted head (`monitor train --refit-only`) keeps the joint one's.
            "joint_val_macro_f1": before.get("joint_val_macro_f1", before.get("val_macro_f1")),
            **record,
        },
    }
    return replace(
        trained,
        heads=heads,
        thresholds={**trained.thresholds, name: fit.threshold},
        validation=validation,
        data_hashes={**trained.data_hashes, f"refit-{name}": digest},
    )


def fit_branch_head(
    weights: BranchWeights, x_val: FloatArray, y_val: IntArray
) -> tuple[RefitHead, FloatArray]:
    """The offensive head of a trained branch: its stored linear head (as stored, in fp16)
    on `weights.head_pools`, Platt-calibrated on (x_val, y_val) and thresholded at its best
    val macro-F1 on the 0.01 grid, as every offensive operating point here is set. Returns
    the head and its val probabilities."""
    width = x_val.shape[1]
    head = Head(
        name=OFFENSIVE,
        kind="binary",
        outputs=(OFFENSIVE,),
        layers=weights.head_pools,
        lexical=False,
        # The branch's head reads raw pools: no standardisation.
        mean=np.zeros(width, np.float32),
        scale=np.ones(width, np.float32),
        weight=np.ascontiguousarray(weights.head_weight.T, np.float32),
        bias=np.asarray(weights.head_bias, np.float32),
        calib_scale=np.array([1.0], np.float32),
        calib_shift=np.array([0.0], np.float32),
    )
    a, c = fit_platt(head.logits(x_val)[:, 0].astype(np.float64), y_val)
    head = replace(
        head, calib_scale=np.array([a], np.float32), calib_shift=np.array([c], np.float32)
    )
    p = _calibrated(head, a, c, x_val)
    t = best_threshold(p, y_val)
    fit = RefitHead(head, t, _macro_f1(y_val, (p >= t).astype(int)), 0.0, len(y_val), 0)
    return fit, p


def attach_branch(
    trained: Trained,
    weights: BranchWeights,
    cache: FeatureCache,
    data_dir: Path | None,
    progress: Callable[[str], None],
) -> Trained:
    """`trained` with its offensive head, threshold and validation record replaced by the
    branch's head, scored on `cache`'s pools (which must carry the branch: the serving
    encoder's pools 9 and 10, from the stored fp16 weights, not training's own)."""
    if cache.adapter is None or cache.adapter.branch is None:
        raise ValueError("the branch's head reads the branch's pools: the cache needs them")
    tr = datasets.tweeteval("offensive", "train", data_dir)
    va = datasets.tweeteval("offensive", "val", data_dir)
    y_val = np.array(va.labels, dtype=np.int64)
    fit, _ = fit_branch_head(weights, _pools(cache, va.name, va.texts, weights.head_pools), y_val)
    run = weights.training
    point = (
        f"offensive branch (layers {weights.first}..5 trained from frozen hidden state "
        f"{weights.first} on all {len(tr.texts):,} TweetEval offensive training posts, best val "
        f"AUC at step {run.get('best_step')} of {run.get('steps')}); its linear head on pools "
        f"{', '.join(str(i) for i in weights.head_pools)}, Platt on TweetEval offensive val and "
        f"the threshold with the best val macro-F1 ({fit.n_val:,} posts)"
    )
    progress(f"branch: offensive val macro-F1 {fit.val_macro_f1} at {fit.threshold}")
    # The record is written afresh (a refit's l2 and example count do not describe this
    # head), keeping the earlier heads' figures beside it for comparison.
    before = trained.validation.get(OFFENSIVE, {})
    record: dict[str, Any] = {
        k: before[k] for k in ("frozen_val_macro_f1", "on", "joint_val_macro_f1") if k in before
    }
    if "refit_l2" in before:  # replaces a head refitted on the adapted pools
        record["refit_val_macro_f1"] = before.get("val_macro_f1")
    elif "val_macro_f1" in before:
        record["joint_val_macro_f1"] = before["val_macro_f1"]
    record.update(
        {
            "val_macro_f1": fit.val_macro_f1,
            "operating_point": point,
            "branch_examples": len(tr.texts),
            "branch_history": run.get("history", []),
        }
    )
    heads = HeadSet([fit.head if h.name == OFFENSIVE else h for h in trained.heads.heads])
    hashes = {k: v for k, v in trained.data_hashes.items() if k != f"refit-{OFFENSIVE}"}
    # The data hash is the branch's (it trained on these posts), not a refit's.
    hashes[f"branch-{OFFENSIVE}"] = _text_digest(tr.texts, tr.labels)
    return replace(
        trained,
        heads=heads,
        thresholds={**trained.thresholds, OFFENSIVE: fit.threshold},
        validation={**trained.validation, OFFENSIVE: record},
        data_hashes=dict(sorted(hashes.items())),
    )


def hostile_sentence_rule(
    trained: Trained,
    recipe: LoraRecipe,
    cache: FeatureCache,
    data_dir: Path | None,
    progress: Callable[[str], None],
) -> dict[str, Any] | None:
    """The manifest's `"hostile_sentences"` entry for `trained`'s hostile head and threshold
    (`monitor.classify.sentences`): the sentence threshold chosen on everyday posts (TweetEval
    offensive val posts labelled not offensive), with what it does to TweetEval hate val. None
    where no threshold meets the cap: the model then scores posts whole."""
    from monitor.classify.sentences import (
        MAX_NEW_EVERYDAY,
        SentenceRule,
        best_sentence,
        choose_sentence_threshold,
        expand,
    )

    head = next(h for h in trained.heads.heads if h.name == HOSTILE)
    post_threshold = trained.thresholds[HOSTILE]

    def scored(name: str, texts: Sequence[str]) -> tuple[list[float], list[float]]:
        whole = head.probabilities(_pools(cache, name, texts, head.layers))[:, 0]
        parts, owner = expand(texts)
        part_scores = (
            head.probabilities(_pools(cache, f"{name}-sentences", parts, head.layers))[:, 0]
            if parts
            else np.zeros(0, dtype=np.float32)
        )
        # Rounded as serving rounds every score, so the choice is the one serving would make.
        best = best_sentence(
            len(texts), owner, np.round(part_scores.astype(np.float64), 6).tolist()
        )
        return np.round(whole.astype(np.float64), 6).tolist(), best.tolist()

    off = datasets.tweeteval("offensive", "val", data_dir)
    everyday = [t for t, y in zip(off.texts, off.labels, strict=True) if y == 0]
    post, best = scored(f"{off.name}-everyday", everyday)
    choice = choose_sentence_threshold(
        np.array(post), np.array(best), post_threshold, MAX_NEW_EVERYDAY
    )
    if choice.threshold is None:
        progress("sentences: no sentence threshold meets the cap; posts are scored whole")
        return None
    _, val, _ = lora_data(recipe, data_dir)
    hv_texts, hv_labels, _ = refit_validation(val)
    hv_post, hv_best = scored("tweeteval-hate-val", hv_texts)
    rule = SentenceRule(choice.threshold, post_threshold)
    y = np.array(hv_labels)
    whole_f1 = _macro_f1(y, (np.array(hv_post) >= post_threshold).astype(int))
    rule_f1 = _macro_f1(
        y, (np.array(rule.combine_all(hv_post, hv_best)) >= post_threshold).astype(int)
    )
    progress(
        f"sentences: threshold {choice.threshold} (everyday posts newly flagged "
        f"{choice.new_everyday:.2%}); TweetEval hate val macro-F1 {whole_f1} whole, {rule_f1} "
        "with sentences"
    )
    return {
        **rule.record(),
        "max_new_everyday": MAX_NEW_EVERYDAY,
        "new_everyday": choice.new_everyday,
        "everyday_posts": choice.everyday_posts,
        "everyday_flagged_whole": choice.everyday_flagged_whole,
        "val_macro_f1_whole": whole_f1,
        "val_macro_f1_with_sentences": rule_f1,
        "operating_point": (
            "a post of two or more sentences is also flagged when one sentence read alone "
            f"scores {choice.threshold} or more: the lowest threshold (0.01 grid) at which "
            f"sentences newly flag at most {MAX_NEW_EVERYDAY:.1%} of {choice.everyday_posts} "
            "everyday posts (TweetEval offensive val, not offensive)"
        ),
    }
