"""What the service would make of one post, without a database: language, scores, rules.

`monitor rules scan` writes one of these records a line. The service counts a post flagged
when the classifier flags it or a rule attaches labels to it (the overview's "flagged"); a
record says which, so a batch of posts can be checked as the service would see them.

Per-post rules only: a rule that needs a stream window (a build-up in a ward) or a place the
text names cannot be judged from the text alone. Places are not matched here (no gazetteer is
read), so rules with a place condition do not fire; `monitor rules explain --ward` shows one
post with a place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitor.classify.labels import flags_over
from monitor.rules.engine import RuleSet, evaluate_post
from monitor.rules.examples import example_post
from monitor.rules.schema import Example


def scan_post(
    ruleset: RuleSet,
    text: str,
    language: str | None,
    scores: Mapping[str, float] | None,
    thresholds: Mapping[str, float],
) -> dict[str, Any]:
    """One post's record: `language`, `scored`, `scores`/`flags` (when scored), the rules that
    fire with their labels, and `flagged` (a classifier flag or a rule, as the service counts).

    `scores` is None when the classifier did not score the post (a language it does not
    cover, or no classifier): rules that read a score then see none, as in service."""
    # The post the rules' own examples are run as: no places, a fixed time (no rule reads the
    # platform or the author).
    post = example_post(Example(text, 0, (), language, None), "scan")
    hits = evaluate_post(ruleset, post, scores or {}).hits if text.strip() else []
    flags = flags_over(scores or {}, thresholds)  # as the pipeline flags
    record: dict[str, Any] = {"language": language, "scored": scores is not None}
    if scores is not None:
        record["scores"] = dict(scores)
        record["flags"] = flags
    record["rules"] = [{"id": h.rule_id, **dict(h.labels)} for h in hits]
    record["flagged"] = bool(flags or hits)
    return record
