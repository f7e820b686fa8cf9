"""The functional suite: the hostile flag per phenomenon (issue 18).

Functional tests of hate-speech classifiers (HateCheck and its successors) ask, phenomenon by
phenomenon, whether a model catches hatred however it is phrased (asked as a question, hedged
as an opinion, carried by a pronoun, disguised) and leaves alone what only looks like it
(negated hate, counter-speech, abuse of things or of groups that are not protected, news).
Overall accuracy hides which; this report gives each phenomenon's share right, the hateful
recall and non-hateful false-positive rate overall, and the hateful recall per target group,
whose spread is a bias the neutral-mention bars cannot see.

The suite (tests/fixtures/fairness/functional.yaml) was written apart from the project's
augmentation and other suites; it is measurement only, never training or selection data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from monitor.classify.fairness import auc


def default_suite() -> Path:
    return (
        Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "fairness" / "functional.yaml"
    )


@dataclass(frozen=True, slots=True)
class FunctionalCase:
    text: str
    functionality: str
    hateful: bool
    group: str | None  # None where the template names no protected group


def load_suite(path: Path | None = None) -> list[FunctionalCase]:
    """Every `{group}` template filled once per group; the others used once."""
    path = path or default_suite()
    if not path.is_file():
        raise FileNotFoundError(f"functional suite not found: {path}")
    spec: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    groups: Mapping[str, Mapping[str, Any]] = spec["groups"]
    cases: list[FunctionalCase] = []
    for name, entry in spec["functionalities"].items():
        hateful = entry.get("hateful")
        if not isinstance(hateful, bool):
            raise ValueError(f"{path}: functionality {name!r} needs hateful: true or false")
        for template in entry["templates"]:
            if "{group}" not in template:
                cases.append(FunctionalCase(_capital(template), name, hateful, None))
                continue
            for key, group in groups.items():
                text = template.replace("{group}", str(group["form"]))
                cases.append(FunctionalCase(_capital(text), name, hateful, key))
    return cases


def _capital(text: str) -> str:
    return text[0].upper() + text[1:]


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def functional_report(
    cases: Sequence[FunctionalCase], scores: Sequence[float], threshold: float
) -> dict[str, Any]:
    """Shares right per functionality, overall recall / false-positive rate / accuracy / AUC,
    and hateful recall per target group, at `threshold`."""
    if len(cases) != len(scores):
        raise ValueError(f"{len(cases)} cases but {len(scores)} scores")
    flags = [s >= threshold for s in scores]
    per_functionality: dict[str, dict[str, Any]] = {}
    for case, flag in zip(cases, flags, strict=True):
        row = per_functionality.setdefault(
            case.functionality, {"hateful": case.hateful, "cases": 0, "right": 0}
        )
        row["cases"] += 1
        row["right"] += int(flag == case.hateful)
    for row in per_functionality.values():
        row["share_right"] = round(row.pop("right") / row["cases"], 4)
    hateful = [f for c, f in zip(cases, flags, strict=True) if c.hateful]
    benign = [f for c, f in zip(cases, flags, strict=True) if not c.hateful]
    per_group: dict[str, dict[str, float | None]] = {}
    for key in dict.fromkeys(c.group for c in cases if c.group is not None):
        mine = [(c, f) for c, f in zip(cases, flags, strict=True) if c.group == key]
        per_group[key] = {
            "recall_hateful": _share([f for c, f in mine if c.hateful]),
            "fpr_non_hateful": _share([f for c, f in mine if not c.hateful]),
        }
    recalls = [r["recall_hateful"] for r in per_group.values() if r["recall_hateful"] is not None]
    return {
        "threshold": threshold,
        "overall": {
            "cases": len(cases),
            "accuracy": _share([f == c.hateful for c, f in zip(cases, flags, strict=True)]),
            "recall_hateful": _share(hateful),
            "fpr_non_hateful": _share(benign),
            "auc": auc(
                [s for c, s in zip(cases, scores, strict=True) if c.hateful],
                [s for c, s in zip(cases, scores, strict=True) if not c.hateful],
            ),
            "lowest_group_recall": min(recalls) if recalls else None,
            "highest_group_recall": max(recalls) if recalls else None,
        },
        "per_functionality": per_functionality,
        "per_group": per_group,
    }


def format_report(report: Mapping[str, Any]) -> list[str]:
    o = {k: "-" if v is None else v for k, v in report["overall"].items()}

    def num(key: str) -> str:  # a suite with no hateful or no benign posts has no figure
        return o[key] if o[key] == "-" else f"{o[key]:.3f}"

    lines = [
        "",
        f"functional suite: {o['cases']} fictional posts, hostile flag at {report['threshold']}",
        f"  right {num('accuracy')}; hateful caught {num('recall_hateful')}; non-hateful "
        f"flagged {num('fpr_non_hateful')}; AUC {num('auc')}; hateful caught per group "
        f"{num('lowest_group_recall')} to {num('highest_group_recall')}",
        f"  {'functionality':<26} {'hateful':>8} {'cases':>6} {'right':>6}",
    ]
    for name, row in report["per_functionality"].items():
        lines.append(
            f"  {name:<26} {'yes' if row['hateful'] else 'no':>8} {row['cases']:>6} "
            f"{row['share_right']:>6.2f}"
        )
    lines.append(
        "  hateful caught per group: "
        + ", ".join(
            f"{k} {r['recall_hateful']:.2f}"
            for k, r in report["per_group"].items()
            if r["recall_hateful"] is not None
        )
    )
    return lines
