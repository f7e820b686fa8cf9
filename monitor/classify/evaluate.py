"""`monitor eval`: the shipped heads' figures on held-out data, and the bias suite.

- TweetEval hate and offensive: test macro-F1 at the shipped thresholds (and calibration);
- PHEME rumour vs non-rumour: the training recipe run leave-one-event-out (the shipped head
  has seen every event, so only the recipe can be scored on unseen events);
- RumourEval-2017 stance: test macro-F1 of the shipped head's decision;
- bias suite: per identity group false-positive rate on neutral, positive and counter-speech
  posts and recall on hostile ones;
- with int8 serving, how far int8 scores are from fp32 ones on the same posts (tolerance).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.classify import data as datasets
from monitor.classify.bias import bias_report, load_cases
from monitor.classify.features import FeatureCache
from monitor.classify.heads import HeadSet
from monitor.classify.invariance import raw_twins
from monitor.classify.labels import HOSTILE, OFFENSIVE, RUMOUR, STANCE_LABELS, STANCES
from monitor.classify.manifest import ModelDir
from monitor.classify.train import (
    Recipe,
    _macro_f1,
    expected_calibration_error,
    leave_one_event_out,
    rumour_features,
    rumour_pairs,
    rumour_training_set,
    stance_decision,
)

FloatArray = npt.NDArray[np.float32]

AIMS = {
    "hate_test_macro_f1": 0.56,
    "offensive_test_macro_f1": 0.80,
    "rumour_loeo_macro_f1": 0.75,
    "stance_test_macro_f1": 0.50,
    "bias_counter_fpr": 0.20,
}
REFERENCE = {  # frozen MiniLM + logistic regression, from ../shared/data/README.md
    "hate_test_macro_f1": 0.52,
    "offensive_test_macro_f1": 0.71,
    "rumour_loeo_macro_f1": 0.72,
    "stance_test_macro_f1": 0.40,
}


def score_pools(heads: HeadSet, pools: FloatArray, texts: Sequence[str]) -> list[dict[str, float]]:
    by_layer = {layer: pools[:, layer, :] for layer in heads.layers}
    return heads.score(by_layer, texts)


def _column(scores: Sequence[dict[str, float]], label: str) -> FloatArray:
    return np.array([s[label] for s in scores], dtype=np.float32)


def recipe_from_manifest(manifest: Mapping[str, Any]) -> Recipe:
    values: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in manifest.get("recipe", {}).items()
    }
    # A manifest written before the rumour cues trained its rumour head on the pools alone.
    values.setdefault("rumour_cues", False)
    values.setdefault("stance_cues", False)
    # ... and one written before the rumour head's projection read every pooled column.
    values.setdefault("rumour_components", 0)
    # ... and one written before the rumour head was fitted blind to the normalisation
    # directions, beside everyday posts, read neither.
    values.setdefault("rumour_invariant_directions", 0)
    values.setdefault("rumour_chatter", 0)
    return Recipe(**values)


def evaluate(
    model: ModelDir,
    cache: FeatureCache,
    data_dir: Path | None = None,
    *,
    bias_path: Path | None = None,
) -> dict[str, Any]:
    from monitor.classify.deobfuscate import deobfuscates, emoji_words

    heads, t = model.heads, model.all_thresholds
    serving = deobfuscates(model.manifest)
    out: dict[str, Any] = {"model": model.name, "encoder": cache.variant, "thresholds": t}
    scored: dict[str, list[dict[str, float]]] = {}

    for task, label in (("hate", HOSTILE), ("offensive", OFFENSIVE)):
        d = datasets.tweeteval(task, "test", data_dir)
        s = served_scores(model, cache, d.name, d.texts, serving)
        scored[d.name] = s
        p, y = _column(s, label), np.array(d.labels)
        pred = (p >= t[label]).astype(int)
        out[f"{task}_test_macro_f1"] = _macro_f1(y, pred)
        out[f"{task}_test_ece"] = expected_calibration_error(p, y)
        out[f"{task}_test_flag_rate"] = round(float(pred.mean()), 4)

    recipe = recipe_from_manifest(model.manifest)
    xr, yr, events, xs, ws, ys, _ = rumour_training_set(cache, recipe, data_dir)
    pairs = rumour_pairs(cache, recipe, data_dir)
    twins, normalised = raw_twins(data_dir)
    both = np.vstack(
        [rumour_features(cache, recipe, twins), rumour_features(cache, recipe, normalised)]
    )
    loeo = leave_one_event_out(
        xr, yr, events, xs, ys, ws, recipe, pairs, (both, twins.groups + normalised.groups)
    )
    out["rumour_loeo_macro_f1"] = loeo["macro_f1"]
    out["rumour_loeo_per_event"] = loeo["per_event_macro_f1"]
    z_raw, z_norm = np.split(loeo["also_logits"], 2)
    out["rumour_raw_text"] = {
        "posts": len(twins.texts),
        "rumours": int(sum(twins.labels)),
        "flagged_as_written": round(float(np.mean(z_raw >= 0)), 4),
        "flagged_normalised": round(float(np.mean(z_norm >= 0)), 4),
        "mean_logit_difference": round(float(np.mean(z_raw - z_norm)), 4),
    }

    d = datasets.rumoureval("test", data_dir)
    reading = _encoder_texts(d.texts, serving, emoji_words(model.manifest))
    s = score_pools(heads, cache.layers(d.name, reading), d.texts)
    scored[d.name] = s
    p = np.stack([_column(s, lab) for lab in STANCE_LABELS], axis=1)
    pred = stance_decision(p, [t[lab] for lab in STANCE_LABELS])
    y = np.array(d.labels)
    out["stance_test_macro_f1"] = _macro_f1(y, pred)
    from sklearn.metrics import f1_score

    per_class = f1_score(y, pred, average=None, labels=list(range(len(STANCES))))
    out["stance_test_f1_per_class"] = {
        name: round(float(v), 4) for name, v in zip(STANCES, per_class, strict=True)
    }

    cases = load_cases(bias_path)
    texts = [c.text for c in cases]
    s = served_scores(model, cache, "bias-suite", texts, serving)
    scored["bias-suite"] = s
    report = bias_report(cases, s, t[HOSTILE])
    counter = [sc for c, sc in zip(cases, s, strict=True) if c.kind == "counter"]
    report["rumour_flag_rate_everyday"] = {
        "tweeteval_test_posts": round(
            float(
                np.mean(
                    [
                        sc[RUMOUR] >= t[RUMOUR]
                        for name in ("tweeteval-hate-test", "tweeteval-offensive-test")
                        for sc in scored[name]
                    ]
                )
            ),
            4,
        ),
        "bias_neutral_positive": round(
            float(
                np.mean(
                    [
                        sc[RUMOUR] >= t[RUMOUR]
                        for c, sc in zip(cases, s, strict=True)
                        if c.kind in ("neutral", "positive")
                    ]
                )
            ),
            4,
        ),
    }
    report["counter_flag_rates"] = {
        lab: round(sum(sc[lab] >= t[lab] for sc in counter) / len(counter), 4)
        for lab in (OFFENSIVE, RUMOUR)
    }
    out["bias"] = report
    out["_scored"] = scored
    return out


def tolerance(
    a: dict[str, list[dict[str, float]]],
    b: dict[str, list[dict[str, float]]],
    thresholds: dict[str, float],
) -> dict[str, Any]:
    """How far two encoders' scores on the same posts differ: max and mean absolute
    difference per label, and the share of posts whose flags all agree."""
    diffs: dict[str, list[float]] = {}
    same_flag: dict[str, int] = {}
    agree = total = 0
    for name in a:
        for sa, sb in zip(a[name], b[name], strict=True):
            for lab in sa:
                diffs.setdefault(lab, []).append(abs(sa[lab] - sb[lab]))
                t = thresholds.get(lab, 2.0)
                same_flag[lab] = same_flag.get(lab, 0) + ((sa[lab] >= t) == (sb[lab] >= t))
            fa = {k for k, v in sa.items() if v >= thresholds.get(k, 2.0)}
            fb = {k for k, v in sb.items() if v >= thresholds.get(k, 2.0)}
            agree += fa == fb
            total += 1
    return {
        "posts": total,
        "max_abs_diff": {k: round(max(v), 4) for k, v in diffs.items()},
        "mean_abs_diff": {k: round(float(np.mean(v)), 4) for k, v in diffs.items()},
        "p99_abs_diff": {k: round(float(np.percentile(v, 99)), 4) for k, v in diffs.items()},
        "flag_agreement": round(agree / total, 4) if total else None,
        "flag_agreement_per_label": {k: round(v / total, 4) for k, v in same_flag.items()}
        if total
        else {},
    }


def format_table(result: dict[str, Any]) -> str:
    rows = [
        ("TweetEval hate, test macro-F1 (hostile head)", "hate_test_macro_f1"),
        ("TweetEval offensive, test macro-F1", "offensive_test_macro_f1"),
        ("PHEME rumour, leave-one-event-out macro-F1", "rumour_loeo_macro_f1"),
        ("RumourEval-2017 stance, test macro-F1", "stance_test_macro_f1"),
    ]
    lines = [
        f"model {result['model']}  encoder {result['encoder']}",
        "",
        f"{'task':<48} {'value':>7} {'aim':>6} {'ref':>6}",
    ]
    for title, key in rows:
        lines.append(
            f"{title:<48} {result[key]:>7.3f} {AIMS[key]:>6.2f} {REFERENCE.get(key, 0.0):>6.2f}"
        )
    b = result["bias"]["overall"]
    lines.append(
        f"{'bias suite, counter-speech FPR (hostile flag)':<48} {b['fpr_counter']:>7.3f} "
        f"{'<' + format(AIMS['bias_counter_fpr'], '.2f'):>6} {'':>6}"
    )
    lines.append(f"{'bias suite, neutral FPR':<48} {b['fpr_neutral']:>7.3f}")
    lines.append(f"{'bias suite, positive FPR':<48} {b['fpr_positive']:>7.3f}")
    lines.append(f"{'bias suite, hostile recall':<48} {b['recall_hostile']:>7.3f}")
    lines += [
        "",
        f"per identity group (hostile flag at threshold {result['bias']['threshold']}):",
        f"{'group':<18} {'FPR neutral':>12} {'FPR positive':>13} {'FPR counter':>12} "
        f"{'recall hostile':>15}",
    ]
    for g, r in result["bias"]["groups"].items():
        lines.append(
            f"{g:<18} {r['fpr_neutral']:>12.2f} {r['fpr_positive']:>13.2f} "
            f"{r['fpr_counter']:>12.2f} {r['recall_hostile']:>15.2f}"
        )
    c = result["bias"]["counter_flag_rates"]
    lines.append(
        f"counter-speech also flagged offensive: {c[OFFENSIVE]:.2f}, rumour: {c[RUMOUR]:.2f}"
    )
    r = result["bias"]["rumour_flag_rate_everyday"]
    lines.append(
        f"rumour flagged on everyday posts: TweetEval test {r['tweeteval_test_posts']:.2f}, "
        f"bias-suite neutral and positive {r['bias_neutral_positive']:.2f}"
    )
    lines.append(
        "stance per class F1: "
        + ", ".join(f"{k} {v:.2f}" for k, v in result["stance_test_f1_per_class"].items())
    )
    lines.append(
        "rumour per event: "
        + ", ".join(f"{k} {v:.2f}" for k, v in result["rumour_loeo_per_event"].items())
    )
    if "rumour_raw_text" in result:
        raw = result["rumour_raw_text"]
        lines.append(
            f"rumour on text as written ({raw['posts']} PHEME rumours whose raw text RumourEval "
            f"keeps, leave-one-event-out): flagged {raw['flagged_as_written']:.2f} as written, "
            f"{raw['flagged_normalised']:.2f} normalised as PHEME has them "
            f"(mean logit difference {raw['mean_logit_difference']:+.2f})"
        )
    if "tolerance" in result:
        tol = result["tolerance"]
        lines.append(
            f"{result['encoder']} vs fp32 encoder, same heads, {tol['posts']} posts: "
            f"all flags agree on {tol['flag_agreement']:.3f} of posts"
        )
        for k in tol["mean_abs_diff"]:
            lines.append(
                f"  {k:<15} |diff| mean {tol['mean_abs_diff'][k]:.3f}, "
                f"p99 {tol['p99_abs_diff'][k]:.3f}, max {tol['max_abs_diff'][k]:.3f}; "
                f"flag agrees {tol['flag_agreement_per_label'][k]:.3f}"
            )
    if "fp32" in result:
        f = result["fp32"]
        lines.append(
            f"same heads on the fp32 encoder: hate {f['hate_test_macro_f1']:.3f}, offensive "
            f"{f['offensive_test_macro_f1']:.3f}, rumour {f['rumour_loeo_macro_f1']:.3f}, "
            f"stance {f['stance_test_macro_f1']:.3f}, counter-speech FPR "
            f"{f['bias_overall']['fpr_counter']:.3f}, hostile recall "
            f"{f['bias_overall']['recall_hostile']:.3f}"
        )
    return "\n".join(lines)


def _encoder_texts(texts: Sequence[str], deobfuscating: int, emoji: bool = False) -> list[str]:
    from monitor.classify.deobfuscate import cache_texts

    return cache_texts(texts, deobfuscating, emoji)


def served_scores(
    model: ModelDir,
    cache: FeatureCache,
    name: str,
    texts: Sequence[str],
    deobfuscating: int,
    emoji: bool | None = None,
) -> list[dict[str, float]]:
    """Scores as serving computes them: the encoder reads the normalised text (with emoji
    read as words where the model does, or as `emoji` says), the heads' lexical features the
    post's own, and a post of two or more sentences can be flagged hostile by one of them
    (`monitor.classify.sentences`, where the model has the rule)."""
    from monitor.classify.deobfuscate import emoji_words
    from monitor.classify.sentences import expand, sentence_rule, with_sentence_rule

    if emoji is None:
        emoji = emoji_words(model.manifest)
    scores = score_pools(
        model.heads, cache.layers(name, _encoder_texts(texts, deobfuscating, emoji)), texts
    )
    rule = sentence_rule(model.manifest)
    if rule is None:  # no rule, or eval scoring as served with it off: no sentences to split
        return scores
    parts, owner = expand(texts)
    if not parts:
        return scores
    part_pools = cache.layers(f"{name}-sentences", _encoder_texts(parts, deobfuscating, emoji))
    return with_sentence_rule(rule, scores, owner, score_pools(model.heads, part_pools, parts))


def _hostile(scores: Sequence[Mapping[str, float]]) -> list[float]:
    return [s[HOSTILE] for s in scores]


def evaluate_suites(
    model: ModelDir,
    cache: FeatureCache,
    *,
    identity_path: Path | None = None,
    obfuscation_path: Path | None = None,
    languages_path: Path | None = None,
    functional_path: Path | None = None,
    emoji_path: Path | None = None,
) -> dict[str, Any]:
    """The fairness, functional, obfuscation, emoji and language suites (see
    `monitor.classify.fairness`, `.functional`, `.obfuscation`, `.emoji_suite`, `.languages`)
    at the hostile threshold, scored as the model serves."""
    from monitor.classify import emoji_suite, fairness, functional, languages, obfuscation
    from monitor.classify.deobfuscate import deobfuscates, emoji_words
    from monitor.ingest.core import detect_language

    t = model.all_thresholds[HOSTILE]
    serving = deobfuscates(model.manifest)
    out: dict[str, Any] = {"deobfuscate": serving}

    cases = fairness.load_suite(identity_path)
    scores = _hostile(
        served_scores(model, cache, "fairness-suite", [c.text for c in cases], serving)
    )
    out["fairness"] = fairness.fairness_report(cases, scores, t)

    fcases = functional.load_suite(functional_path)
    fscores = _hostile(
        served_scores(model, cache, "functional-suite", [c.text for c in fcases], serving)
    )
    out["functional"] = functional.functional_report(fcases, fscores, t)

    ob = obfuscation.load_suite(obfuscation_path)
    texts = [c.text for c in ob]
    out["obfuscation"] = {
        mode: obfuscation.obfuscation_report(
            ob, _hostile(served_scores(model, cache, "obfuscation-suite", texts, on)), t
        )
        # "deobfuscated": at the model's level (level 1 for a model served raw).
        for mode, on in (("raw", 0), ("deobfuscated", serving or 1))
    }
    out["obfuscation"]["serving"] = "deobfuscated" if serving else "raw"

    em = emoji_suite.load_suite(emoji_path)
    texts = [c.text for c in em]
    out["emoji"] = {
        mode: emoji_suite.emoji_report(
            em, _hostile(served_scores(model, cache, "emoji-suite", texts, serving, on)), t
        )
        for mode, on in (("unread", False), ("read", True))
    }
    out["emoji"]["serving"] = "read" if emoji_words(model.manifest) else "unread"

    lang_cases, names = languages.load_suite(languages_path)
    lang_texts = [c.text for c in lang_cases]
    lang_scores = served_scores(model, cache, "language-suite", lang_texts, serving)
    covered = languages.covered_languages(model.manifest)
    per_language = languages.language_report(
        lang_cases, [s[HOSTILE] for s in lang_scores], t, names, covered, detect_language
    )
    for key, row in per_language.items():
        mine = [
            (c, s[RUMOUR]) for c, s in zip(lang_cases, lang_scores, strict=True) if c.key == key
        ]
        row["if_scored"].update(
            languages.rumour_figures(
                [c for c, _ in mine], [s for _, s in mine], model.all_thresholds[RUMOUR]
            )
        )
    out["languages"] = {
        "covered_languages": sorted(covered),
        "figures_over": "every post of the suite (both splits): this model was trained on none",
        "per_language": per_language,
    }
    return out


def format_suites(result: Mapping[str, Any]) -> str:
    f = result["fairness"]
    o, b = f["overall"], f["bars"]
    rule = result.get("hostile_sentences")
    lines = [
        ""
        if rule is None
        else (
            f"\nhostile scored with the sentence rule (a sentence alone flags at "
            f"{rule['threshold']}): every hostile figure here includes it"
            if rule["applied"]
            else "\nhostile scored on whole posts; the model's sentence rule (a sentence alone "
            f"flags at {rule['threshold']}) is off as served: --sentences scores with it"
        ),
        f"fairness suite: {o['cases']} fictional posts, {o['groups']} identity groups, "
        f"hostile flag at {f['threshold']}",
        f"  hostile vs benign AUC {o['auc']:.3f}; lowest subgroup AUC {o['min_subgroup_auc']:.3f}, "
        f"BPSN {o['min_bpsn_auc']:.3f}, BNSP {o['min_bnsp_auc']:.3f}",
        f"  FPR neutral mentions {o['fpr_mention']:.3f}; counter-speech {o['fpr_counter']:.3f} "
        f"(bar <= {b['counter_fpr_max']:.2f}: {'met' if b['counter_fpr_met'] else 'MISSED'}); "
        f"solidarity and hashtag waves {o['fpr_solidarity']:.3f} "
        f"(bar <= {b['solidarity_fpr_max']:.2f}: {'met' if b['solidarity_fpr_met'] else 'MISSED'})",
        f"  hostile recall {o['recall_hostile']:.3f}",
        f"  {b['fpr_bar']}: {'met' if b['fpr_bar_met'] else 'MISSED'} "
        f"({len(o['groups_failing_fpr_bar'])} groups fail: "
        f"{', '.join(o['groups_failing_fpr_bar']) or 'none'})",
        f"  {'group':<22} {'cat':<15} {'FPR':>6} {'rest':>6} {'ratio':>6} {'+pts':>6} "
        f"{'subAUC':>7} {'BPSN':>6} {'BNSP':>6} {'counter':>8} {'solid':>6} {'recall':>7}",
    ]

    def num(x: float | None, fmt: str = ".3f") -> str:
        return "-" if x is None else ("inf" if x == float("inf") else format(x, fmt))

    rows = sorted(f["groups"].items(), key=lambda kv: -(kv[1]["fpr_points_above_rest"] or 0.0))
    for g, r in rows:
        lines.append(
            f"  {g + (' *' if r['fails_fpr_bar'] else ''):<22} {r['category']:<15} "
            f"{num(r['fpr_mention'])!s:>6} {num(r['fpr_mention_rest'])!s:>6} "
            f"{num(r['fpr_ratio'], '.2f')!s:>6} {num(r['fpr_points_above_rest'], '.1f')!s:>6} "
            f"{num(r['subgroup_auc'])!s:>7} {num(r['bpsn_auc'])!s:>6} {num(r['bnsp_auc'])!s:>6} "
            f"{num(r['fpr_counter'])!s:>8} {num(r['fpr_solidarity'])!s:>6} "
            f"{num(r['recall_hostile'])!s:>7}"
        )
    lines.append("  (* fails the FPR bar)")
    if "functional" in result:
        from monitor.classify.functional import format_report

        lines += format_report(result["functional"])
    ob = result["obfuscation"]
    lines += [
        "",
        f"obfuscation suite, hostile recall per disguise (serving: {ob['serving']}):",
        f"  {'form':<9} {'raw':>6} {'deobfuscated':>13} {'FPR raw':>8} {'FPR deob':>9}",
    ]
    for form in ob["raw"]["per_form"]:
        r0, r1 = ob["raw"]["per_form"][form], ob["deobfuscated"]["per_form"][form]
        lines.append(
            f"  {form:<9} {num(r0['recall'])!s:>6} {num(r1['recall'])!s:>13} "
            f"{num(r0['fpr'])!s:>8} {num(r1['fpr'])!s:>9}"
        )
    if "emoji" in result:
        em = result["emoji"]
        unread, read = em["unread"], em["read"]
        lines += [
            "",
            f"emoji suite, hostile flag right per category (serving: {em['serving']}):",
            f"  {'category':<18} {'side':<8} {'cases':>5} {'unread':>7} {'read':>6}",
        ]
        for cat, r0 in unread["per_category"].items():
            r1 = read["per_category"][cat]
            lines.append(
                f"  {cat:<18} {'hateful' if r0['hateful'] else 'benign':<8} {r0['cases']:>5} "
                f"{num(r0['share_right'])!s:>7} {num(r1['share_right'])!s:>6}"
            )
        lines.append(
            f"  hateful recall {num(unread['recall_hateful'])} unread, "
            f"{num(read['recall_hateful'])} read; benign flagged {num(unread['fpr_benign'])} "
            f"unread, {num(read['fpr_benign'])} read"
        )
    lang = result["languages"]
    lines += [
        "",
        f"languages (covered by this model: {', '.join(lang['covered_languages'])}); posts the "
        "service leaves unscored, and for uncovered languages what the scores would be if used:",
        f"  {'language':<22} {'covered':>8} {'posts':>6} {'unscored':>9} {'detected':>9} "
        f"{'recall':>7} {'threat':>7} {'FPR':>6} {'neutral':>8} {'counter':>8} {'rumour':>7}",
    ]
    for r in lang["per_language"].values():
        f = r["if_scored"]
        lines.append(
            f"  {r['name']:<22} {'yes' if r['covered'] else 'no':>8} {r['posts']:>6} "
            f"{r['not_scored_in_service']:>9} {num(r['detected_as_language'])!s:>9} "
            f"{num(f['recall_hostile'])!s:>7} {num(f['recall_threat'])!s:>7} "
            f"{num(f['fpr'])!s:>6} {num(f['fpr_neutral'])!s:>8} {num(f['fpr_counter'])!s:>8} "
            f"{num(f['recall_rumour'])!s:>7}"
        )
    lines.append(
        "  (recall/threat: hostile flag on hostile posts/threats; FPR, neutral, counter: hostile "
        "flag on benign posts; rumour: rumour flag on rumour-like claims)"
    )
    return "\n".join(lines)
