"""Pure: the identity fairness suite and its bias metrics.

The suite (tests/fixtures/fairness/identity.yaml, fictional) fills every sentence shape for
every identity group. From the hostile head's scores on it, per group:

- **subgroup AUC**: hostile vs benign posts that name the group. Low: the model cannot tell
  abuse of this group from ordinary talk about it.
- **BPSN AUC** (background positive, subgroup negative): benign posts naming the group against
  hostile posts naming other groups. Low: talk about this group scores like abuse (false
  alarms on the group).
- **BNSP AUC** (background negative, subgroup positive): hostile posts naming the group against
  benign posts naming others. Low: abuse of this group scores like ordinary talk (misses).
- **mention FPR**: share of neutral mentions (neutral, news, question, positive) flagged at the
  shipped threshold, against the same rate over every other group: ratio and difference in
  points. A group fails the bar when it is both above `MAX_FPR_RATIO` times the rest AND more
  than `MAX_FPR_POINTS` points above it (a ratio alone swings wildly when false positives are
  rare).
- counter-speech, solidarity and hashtag-wave FPR, and hostile recall.

AUCs are computed on all benign kinds (mentions, counter-speech, solidarity, hashtags) against
hostile posts, as in the Jigsaw unintended-bias metrics (Borkan et al., 2019).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

MENTION_KINDS: tuple[str, ...] = ("neutral", "news", "question", "positive")
COUNTER_KINDS: tuple[str, ...] = ("counter",)
SOLIDARITY_KINDS: tuple[str, ...] = ("solidarity", "hashtag")
BENIGN_KINDS: tuple[str, ...] = (*MENTION_KINDS, *COUNTER_KINDS, *SOLIDARITY_KINDS)
HOSTILE_KIND = "hostile"

# The bars (issue 18, "What it must show").
MAX_FPR_RATIO = 1.25
MAX_FPR_POINTS = 2.0
MAX_COUNTER_FPR = 0.10
MAX_SOLIDARITY_FPR = 0.10


def default_suite() -> Path:
    return Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "fairness" / "identity.yaml"


@dataclass(frozen=True, slots=True)
class FairnessCase:
    text: str
    kind: str
    group: str
    category: str


def load_suite(path: Path | None = None) -> list[FairnessCase]:
    """Every template filled once for every group (forms and places alternate)."""
    path = path or default_suite()
    if not path.is_file():
        raise FileNotFoundError(f"fairness suite not found: {path}")
    spec: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    groups: Mapping[str, Mapping[str, Any]] = spec["groups"]
    places: Sequence[str] = spec["places"]
    unknown = set(spec["cases"]) - {*BENIGN_KINDS, HOSTILE_KIND}
    if unknown:
        raise ValueError(f"{path}: unknown case kinds {sorted(unknown)}")
    cases: list[FairnessCase] = []
    n = 0
    for kind, templates in spec["cases"].items():
        for t_idx, template in enumerate(templates):
            for name, group in groups.items():
                forms: Sequence[str] = group["forms"]
                place = places[n % len(places)]
                n += 1
                text = template.format(
                    group=forms[t_idx % len(forms)],
                    place=place,
                    tagplace=place.replace(" ", ""),
                )
                text = text[0].upper() + text[1:]
                cases.append(FairnessCase(text, kind, name, str(group["category"])))
    return cases


def auc(positives: npt.ArrayLike, negatives: npt.ArrayLike) -> float | None:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos = np.asarray(positives, dtype=np.float64)
    neg = np.asarray(negatives, dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        return None
    both = np.concatenate([pos, neg])
    order = both.argsort(kind="mergesort")
    ranks = np.empty(both.size, dtype=np.float64)
    sorted_vals = both[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_vals, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    u = ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2.0
    return float(u / (pos.size * neg.size))


def _rate(flags: Sequence[bool]) -> float | None:
    return round(float(sum(flags)) / len(flags), 4) if flags else None


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def fairness_report(
    cases: Sequence[FairnessCase], scores: Sequence[float], threshold: float
) -> dict[str, Any]:
    """Per-group and overall bias metrics for one label's scores (see module doc)."""
    if len(cases) != len(scores):
        raise ValueError(f"{len(cases)} cases but {len(scores)} scores")
    s = np.asarray(scores, dtype=np.float64)
    flag = s >= threshold
    kinds = np.array([c.kind for c in cases])
    groups_of = np.array([c.group for c in cases])
    hostile = kinds == HOSTILE_KIND
    benign = np.isin(kinds, BENIGN_KINDS)
    mention = np.isin(kinds, MENTION_KINDS)

    per_group: dict[str, dict[str, Any]] = {}
    categories = {c.group: c.category for c in cases}
    for g in dict.fromkeys(c.group for c in cases):
        inside = groups_of == g
        fpr = _rate(list(flag[inside & mention]))
        rest = _rate(list(flag[~inside & mention]))
        ratio = points = None
        if fpr is not None and rest is not None:
            points = round(100 * (fpr - rest), 2)
            ratio = round(fpr / rest, 2) if rest > 0 else (None if fpr == 0 else float("inf"))
        fails = bool(
            fpr is not None
            and rest is not None
            and (points or 0.0) > MAX_FPR_POINTS
            and (rest == 0 or fpr / rest > MAX_FPR_RATIO)
        )
        per_group[g] = {
            "category": categories[g],
            "subgroup_auc": _r(auc(s[inside & hostile], s[inside & benign])),
            "bpsn_auc": _r(auc(s[~inside & hostile], s[inside & benign])),
            "bnsp_auc": _r(auc(s[inside & hostile], s[~inside & benign])),
            "fpr_mention": fpr,
            "fpr_mention_rest": rest,
            "fpr_ratio": ratio,
            "fpr_points_above_rest": points,
            "fails_fpr_bar": fails,
            "fpr_counter": _rate(list(flag[inside & np.isin(kinds, COUNTER_KINDS)])),
            "fpr_solidarity": _rate(list(flag[inside & np.isin(kinds, SOLIDARITY_KINDS)])),
            "recall_hostile": _rate(list(flag[inside & hostile])),
        }

    def overall_rate(sel: npt.NDArray[np.bool_]) -> float | None:
        return _rate(list(flag[sel]))

    worst = sorted(
        (g for g, r in per_group.items() if r["fpr_points_above_rest"] is not None),
        key=lambda g: -(per_group[g]["fpr_points_above_rest"] or 0.0),
    )
    counter_fpr = overall_rate(np.isin(kinds, COUNTER_KINDS))
    solidarity_fpr = overall_rate(np.isin(kinds, SOLIDARITY_KINDS))
    failing = [g for g, r in per_group.items() if r["fails_fpr_bar"]]
    aucs = [r["subgroup_auc"] for r in per_group.values() if r["subgroup_auc"] is not None]
    bpsn = [r["bpsn_auc"] for r in per_group.values() if r["bpsn_auc"] is not None]
    bnsp = [r["bnsp_auc"] for r in per_group.values() if r["bnsp_auc"] is not None]
    overall = {
        "cases": len(cases),
        "groups": len(per_group),
        "auc": _r(auc(s[hostile], s[benign])),
        "fpr_mention": overall_rate(mention),
        "fpr_counter": counter_fpr,
        "fpr_solidarity": solidarity_fpr,
        "fpr_hashtag": overall_rate(kinds == "hashtag"),
        "recall_hostile": overall_rate(hostile),
        "min_subgroup_auc": min(aucs) if aucs else None,
        "min_bpsn_auc": min(bpsn) if bpsn else None,
        "min_bnsp_auc": min(bnsp) if bnsp else None,
        "worst_groups_by_fpr_points": worst[:5],
        "groups_failing_fpr_bar": failing,
    }
    bars = {
        "fpr_bar": f"no group's mention FPR above {MAX_FPR_RATIO}x the rest's and more "
        f"than {MAX_FPR_POINTS:g} points above it",
        "fpr_bar_met": not failing,
        "counter_fpr_max": MAX_COUNTER_FPR,
        "counter_fpr_met": bool(counter_fpr is not None and counter_fpr <= MAX_COUNTER_FPR),
        "solidarity_fpr_max": MAX_SOLIDARITY_FPR,
        "solidarity_fpr_met": bool(
            solidarity_fpr is not None and solidarity_fpr <= MAX_SOLIDARITY_FPR
        ),
    }
    return {
        "threshold": threshold,
        "overall": overall,
        "bars": bars,
        "groups": per_group,
    }
