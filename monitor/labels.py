"""The label contract: the one module rules, signals, incidents, alerts and the store share.

Labels are the only contract between rules/classifier and alerts: an alert is a set of labels
(kind, area, topic, severity, cluster), never an author. This module says which labels an alert
carries (`ALERT_LABELS`), which classifier flags raise one on their own (`FLAG_LABELS`), how
severities rank, the stable dedup key of a label set (`alert_key`), and which alerts a
processed post supports (`candidates`). Pure; it imports only `monitor.types`, so any layer
may import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from monitor.types import Processed

# Classifier flags that raise an alert on their own, and the labels they carry. A rumour flag
# alone does not: rumours become alerts through rules and clustering, or every passing claim
# would page someone.
FLAG_LABELS: Mapping[str, Mapping[str, str]] = {
    "hostile": {"kind": "hostility", "topic": "hostile_content", "severity": "medium"},
}
ALERT_LABELS = ("kind", "topic", "severity", "area", "cluster")
UNPLACED = "unplaced"


@dataclass(frozen=True, slots=True)
class AlertCandidate:
    key: str
    labels: Mapping[str, str]
    summary: str
    rule: str


def area_of(item: Processed) -> str:
    """The ward a post is about, else its locality or district, else 'unplaced'."""
    for match in item.post.places:
        if match.ward:
            return match.ward
    for match in item.post.places:
        return match.locality or match.district
    return UNPLACED


def alert_key(labels: Mapping[str, str]) -> str:
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def candidates(item: Processed) -> list[AlertCandidate]:
    area = area_of(item)
    found: dict[str, AlertCandidate] = {}
    sources: list[tuple[str, Mapping[str, str]]] = [(h.rule_id, h.labels) for h in item.hits]
    sources += [(f"classifier:{f}", FLAG_LABELS[f]) for f in item.flags if f in FLAG_LABELS]
    for origin, raw in sources:
        if "kind" not in raw:
            continue
        labels = {k: str(raw[k]) for k in ALERT_LABELS if k in raw}
        labels.setdefault("area", area)
        key = alert_key({k: v for k, v in labels.items() if k != "severity"})
        kind = labels["kind"].replace("_", " ")
        topic = labels.get("topic", "").replace("_", " ")
        # "unplaced" is a label value for routing, never shown as if it were a place
        where = "with no named place" if labels["area"] == UNPLACED else f"in {labels['area']}"
        summary = f"{kind}: {topic} {where}" if topic else f"{kind} {where}"
        previous = found.get(key)
        if previous is None or _rank(labels) > _rank(previous.labels):
            found[key] = AlertCandidate(key=key, labels=labels, summary=summary, rule=origin)
    return list(found.values())


SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}


def _rank(labels: Mapping[str, str]) -> int:
    return SEVERITY_RANK.get(labels.get("severity", ""), 0)
