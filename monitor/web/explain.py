"""Why an alert's post was flagged: each rule's conditions, and classifier scores over threshold.

Rules are re-evaluated on the stored text (or the excerpt once the text is purged) with the
rule engine's own `verdict`, so the explanation is the engine's, not a paraphrase. A rule edited
since the post was flagged is explained as it is now, and says so when it no longer fires.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitor.classify.labels import HOSTILE
from monitor.classify.sentences import expand
from monitor.rules.engine import RuleSet
from monitor.rules.examples import verdict
from monitor.types import PlaceMatch, Post

CLASSIFIER_PREFIX = "classifier:"


@dataclass(frozen=True, slots=True)
class Reason:
    source: str  # a rule id, or "classifier:<head>"
    title: str
    fired_now: bool
    lines: tuple[str, ...]


def current_ruleset(rules: object) -> RuleSet | None:
    """The rule set a running evaluator holds (the rule service), if it exposes one."""
    ruleset = getattr(rules, "ruleset", None)
    return ruleset if isinstance(ruleset, RuleSet) else None


def _post(row: Mapping[str, Any]) -> Post:
    places = tuple(
        PlaceMatch(
            place_id=p["place_id"],
            name=p["name"],
            kind=p["kind"],
            ward=p["ward"],
            locality=p["locality"],
            district=p["district"],
            matched=p["matched"],
        )
        for p in row.get("places", ())
    )
    return Post(
        id=row["post_id"],
        platform=row.get("platform") or "",
        source="",
        text=row.get("text") or row.get("excerpt") or "",
        language=row.get("language"),
        created_at=row["created_at"],
        collected_at=row["created_at"],
        author_ref="",
        places=places,
    )


def reasons(
    row: Mapping[str, Any],
    ruleset: RuleSet | None,
    thresholds: Mapping[str, float],
    sentence_threshold: float | None = None,
) -> list[Reason]:
    """`sentence_threshold`: the classifier's sentence rule (monitor.classify.sentences), which
    also flags a post of two sentences or more hostile when one sentence alone clears it."""
    out: list[Reason] = []
    scores: dict[str, float] = dict(row.get("scores") or {})
    for source in row.get("rules") or ():
        if source.startswith(CLASSIFIER_PREFIX):
            head = source[len(CLASSIFIER_PREFIX) :]
            score = scores.get(head)
            limit = thresholds.get(head)
            shown = "—" if score is None else f"{score:.2f}"
            line = f"score {shown}" + ("" if limit is None else f", threshold {limit:.2f}")
            text = row.get("text") or row.get("excerpt") or ""
            if head == HOSTILE and sentence_threshold is not None and len(expand([text])[0]) > 1:
                line += f" (or one sentence read alone at {sentence_threshold:.2f})"
            out.append(Reason(source, f"Classifier: {head}", True, (line,)))
            continue
        rule = ruleset.rule(source) if ruleset is not None else None
        if ruleset is None or rule is None:
            out.append(Reason(source, source, False, ("rule no longer loaded",)))
            continue
        if row.get("created_at") is None:
            out.append(Reason(source, rule.description, False, ("post no longer stored",)))
            continue
        v = verdict(ruleset, rule, _post(row), scores or None)
        lines = v.lines if v.fired else (*v.lines, "(does not fire as the rule reads now)")
        out.append(Reason(source, rule.description or rule.id, v.fired, tuple(lines)))
    return out
