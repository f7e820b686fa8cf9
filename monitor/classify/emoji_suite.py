"""Pure: the emoji suite and its figures per category.

tests/fixtures/fairness/emoji.yaml (fictional) holds hateful posts whose group, slur or violent
verb is an emoji, and benign posts that use the same emoji for pride, faith, real animals,
kitchens and bonfires, or repeat them to reject abuse. `emoji_report` gives, per category, the
share the hostile flag gets right, and overall the hateful recall and the benign flag rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HATEFUL = ("identity_swap", "descriptor_swap", "verb_swap", "reaction")
BENIGN = ("identity_positive", "literal", "counter")


def default_suite() -> Path:
    return Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "fairness" / "emoji.yaml"


@dataclass(frozen=True, slots=True)
class EmojiCase:
    text: str
    category: str
    hateful: bool


def load_suite(path: Path | None = None) -> list[EmojiCase]:
    """The suite's cases; a category outside `HATEFUL` and `BENIGN` is refused, so a typo
    cannot move a post to the wrong side of the figures."""
    path = path or default_suite()
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    cases = []
    for side, known in (("hateful", HATEFUL), ("benign", BENIGN)):
        for category, texts in (data.get(side) or {}).items():
            if category not in known:
                raise ValueError(f"{path}: unknown {side} category {category!r}")
            cases += [EmojiCase(str(t), category, side == "hateful") for t in texts]
    return cases


def emoji_report(
    cases: Sequence[EmojiCase], scores: Sequence[float], threshold: float
) -> dict[str, Any]:
    """Per category the share right (flagged when hateful, left alone when benign), and the
    hateful recall and benign flag rate over the whole suite."""
    if len(cases) != len(scores):
        raise ValueError(f"{len(cases)} cases but {len(scores)} scores")
    per: dict[str, dict[str, Any]] = {}
    for case, score in zip(cases, scores, strict=True):
        row = per.setdefault(case.category, {"hateful": case.hateful, "cases": 0, "right": 0})
        row["cases"] += 1
        row["right"] += (score >= threshold) == case.hateful
    hateful = [r for r in per.values() if r["hateful"]]
    benign = [r for r in per.values() if not r["hateful"]]
    n_h, n_b = sum(r["cases"] for r in hateful), sum(r["cases"] for r in benign)
    return {
        "threshold": threshold,
        "per_category": {
            k: {"hateful": r["hateful"], "cases": r["cases"], "share_right": _share(r)}
            for k, r in per.items()
        },
        "recall_hateful": round(sum(r["right"] for r in hateful) / n_h, 4) if n_h else None,
        "fpr_benign": round(sum(r["cases"] - r["right"] for r in benign) / n_b, 4) if n_b else None,
    }


def _share(row: dict[str, Any]) -> float:
    return round(int(row["right"]) / int(row["cases"]), 4)
