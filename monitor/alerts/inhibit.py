"""Pure: inhibition — an open alert matching a rule's source mutes the alerts matching its
target that share the rule's `equal` labels. The routing file's default: a critical tension
alert for a place mutes the elevated (and high) ones for the same place, so people get the one
that matters. An alert never inhibits itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from monitor.alerts.config import InhibitRule
from monitor.alerts.matchers import matches_all


@dataclass(frozen=True, slots=True)
class OpenAlert:
    id: int
    labels: Mapping[str, str]


def inhibited_by(
    target_id: int,
    target: Mapping[str, str],
    open_alerts: Iterable[OpenAlert],
    rules: Iterable[InhibitRule],
) -> tuple[InhibitRule, OpenAlert] | None:
    """The rule and source alert that mute `target`, or None."""
    rules = [r for r in rules if matches_all(r.target, target)]
    if not rules:
        return None
    for source in open_alerts:
        if source.id == target_id:
            continue
        for rule in rules:
            if matches_all(rule.source, source.labels) and all(
                source.labels.get(name, "") == target.get(name, "") for name in rule.equal
            ):
                return rule, source
    return None
