"""The identity-group bias suite: templated fictional posts and the error rates on them.

The templates live in tests/fixtures/bias/templates.yaml (kept apart from the training
templates). Each case kind is expected to be flagged hostile or not:
- neutral, positive, counter (quoting or refuting a rumour or slur): should not be flagged;
- hostile: should be.
`bias_report` gives, per group and overall, the false-positive rate on the first three and
the recall on the last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from monitor.classify.labels import HOSTILE

BENIGN_KINDS: tuple[str, ...] = ("neutral", "positive", "counter")
HOSTILE_KIND = "hostile"


def default_templates() -> Path:
    return Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "bias" / "templates.yaml"


@dataclass(frozen=True, slots=True)
class BiasCase:
    text: str
    kind: str
    group: str


def load_cases(path: Path | None = None) -> list[BiasCase]:
    """Every template filled once per group (surface forms and places alternate)."""
    path = path or default_templates()
    if not path.is_file():
        raise FileNotFoundError(f"bias templates not found: {path}")
    spec: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    groups: Mapping[str, Sequence[str]] = spec["groups"]
    places: Sequence[str] = spec["places"]
    cases: list[BiasCase] = []
    n = 0
    for kind, templates in spec["cases"].items():
        for t_idx, template in enumerate(templates):
            for g_idx, (group, forms) in enumerate(sorted(groups.items())):
                form = forms[(t_idx + g_idx) % len(forms)]
                place = places[n % len(places)]
                n += 1
                text = template.format(group=form, place=place)
                cases.append(BiasCase(text[0].upper() + text[1:], kind, group))
    return cases


def bias_report(
    cases: Sequence[BiasCase],
    scores: Sequence[Mapping[str, float]],
    threshold: float,
    label: str = HOSTILE,
) -> dict[str, Any]:
    """False-positive rate per benign kind and recall on hostile cases, per group and overall."""
    flagged = [s[label] >= threshold for s in scores]
    groups = sorted({c.group for c in cases})

    def rate(kind_set: Sequence[str], group: str | None) -> float | None:
        sel = [
            f
            for c, f in zip(cases, flagged, strict=True)
            if c.kind in kind_set and (group is None or c.group == group)
        ]
        return round(sum(sel) / len(sel), 4) if sel else None

    per_group = {
        g: {
            "fpr_neutral": rate(("neutral",), g),
            "fpr_positive": rate(("positive",), g),
            "fpr_counter": rate(("counter",), g),
            "recall_hostile": rate((HOSTILE_KIND,), g),
        }
        for g in groups
    }
    overall = {
        "fpr_neutral": rate(("neutral",), None),
        "fpr_positive": rate(("positive",), None),
        "fpr_counter": rate(("counter",), None),
        "fpr_benign": rate(BENIGN_KINDS, None),
        "recall_hostile": rate((HOSTILE_KIND,), None),
    }
    return {"label": label, "threshold": threshold, "overall": overall, "groups": per_group}
