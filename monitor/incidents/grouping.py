"""Pure: which alerts tell one story.

Alerts are joined (union-find, so the result depends on the set of alerts and their evidence,
never on the order they arrived in):

1. alerts an analyst put in the same incident stay together, and alerts an analyst put in
   different incidents are never joined again by the engine;
2. rumour alerts (rumour, rumour_spreading, claims_rising) of the same claim cluster are one
   story wherever they are placed: the cluster label, else the cluster most of the alert's
   evidence posts belong to; without a cluster, rumour alerts of one rule topic within the gap;
3. the other alerts (tension, threats, calls to gather, hostility, rising tension) are one
   episode when their event-time spans come within `gap` of each other and they are in the
   same place (the same ward; a ward and its locality's rising tension), rest on the same
   posts, or one is a threat or call to gather whose posts name the other's ward;
4. an alert with no place of its own (its posts named none, or only the whole district) joins
   the episode nearest to it in time whose span (plus the gap) holds most of its posts, else
   the rumour its posts belong to, else another alert with no place that a rule raised on
   some of the same posts, within whose span (plus the gap) most of its posts fall; an alert
   from the classifier alone joins an episode in its own ward the same way, never by place
   and time alone;
   "unplaced" is never a place.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.incidents.model import (
    EPISODE,
    IMMEDIATE_KINDS,
    RUMOUR,
    UNPLACED,
    AlertFacts,
    PostFacts,
    Story,
)


@dataclass(frozen=True, slots=True)
class Anchor:
    """Where an alert is: its ward, else its locality; None for neither."""

    ward: str | None
    locality: str | None

    @property
    def placed(self) -> bool:
        return self.ward is not None or self.locality is not None


def cluster_number(label: str | None) -> int | None:
    if label and label.startswith("r") and label[1:].isdigit():
        return int(label[1:])
    return None


def resolve(cluster: int, merged: Mapping[int, int]) -> int:
    """The cluster a claim cluster lives on as: itself, or the one it merged into (in turn)."""
    seen = {cluster}
    while cluster in merged and merged[cluster] not in seen:
        cluster = merged[cluster]
        seen.add(cluster)
    return cluster


def cluster_of(
    alert: AlertFacts, posts: Mapping[str, PostFacts], merged: Mapping[int, int] | None = None
) -> int | None:
    """The alert's claim cluster: its label, else the cluster most of its evidence is in
    (at least half of the evidence posts that are in a cluster at all). `merged`: clusters
    that merged into another since (the label keeps the old number): the alert belongs to
    the cluster it merged into, so two halves of one claim that each spread before their
    words showed they were one are one story."""
    labelled = cluster_number(alert.labels.get("cluster"))
    if labelled is not None:
        return resolve(labelled, merged or {})
    counts: Counter[int] = Counter(
        c for p in alert.posts if p in posts and (c := posts[p].cluster) is not None
    )
    if not counts:
        return None
    (best, n), total = min(counts.items(), key=lambda kv: (-kv[1], kv[0])), sum(counts.values())
    return resolve(best, merged or {}) if 2 * n >= total else None


def anchor_of(
    alert: AlertFacts, posts: Mapping[str, PostFacts], ward_localities: Mapping[str, str]
) -> Anchor:
    """The alert's own place. Its `area` label names it (with `area_kind` when signals set
    it); the evidence and the gazetteer's ward → locality table say which kind it is."""
    area = alert.labels.get("area", "")
    if not area or area == UNPLACED:
        return Anchor(None, None)
    kind = alert.labels.get("area_kind", "")
    if kind == "ward" or (not kind and area in ward_localities):
        return Anchor(area, ward_localities.get(area))
    if kind == "locality" or (not kind and area in set(ward_localities.values())):
        return Anchor(None, area)
    if kind == "district":
        return Anchor(None, None)
    evidence = [posts[p] for p in alert.posts if p in posts]
    for post in evidence:
        for where in post.places:
            if where.ward == area:
                return Anchor(area, where.locality)
            if where.locality == area:
                return Anchor(None, area)
            if where.district == area:
                return Anchor(None, None)
    return Anchor(area, None)  # a name we cannot place further: compare it by name


def _named_wards(alert: AlertFacts, posts: Mapping[str, PostFacts]) -> frozenset[str]:
    return frozenset(w for p in alert.posts if p in posts for w in posts[p].wards)


def _episode_link(
    a: AlertFacts,
    b: AlertFacts,
    pa: Anchor,
    pb: Anchor,
    named_a: frozenset[str],
    named_b: frozenset[str],
) -> str | None:
    """Why two placed episode alerts (already close in time) tell one story, or None.

    A ward joins its locality only through the locality's own tension level (a locality
    rule alert would otherwise pull in every ward's noise); a threat or call to gather joins
    the episode in a place its posts name ("meet in the square ... show them West Bowling")."""
    if pa.ward is not None and pb.ward is not None:
        if pa.ward == pb.ward:
            return f"same place ({pa.ward})"
    elif pa.locality is not None and pa.locality == pb.locality:
        if pa.ward is None and pb.ward is None:
            return f"same place ({pa.locality})"
        if "rising_tension" in (a.kind, b.kind):
            return f"a ward and its locality ({pa.locality})"
    if set(a.posts) & set(b.posts):
        return "the same posts"
    if a.kind in IMMEDIATE_KINDS and pb.ward is not None and pb.ward in named_a:
        return f"its posts name {pb.ward}"
    if b.kind in IMMEDIATE_KINDS and pa.ward is not None and pa.ward in named_b:
        return f"its posts name {pa.ward}"
    return None


def near(a: AlertFacts, b: AlertFacts, gap: timedelta) -> bool:
    return a.first_seen - gap <= b.last_seen and b.first_seen - gap <= a.last_seen


class _Groups:
    """Union-find over alert indices that refuses to join two analysts' incidents."""

    def __init__(self, alerts: Sequence[AlertFacts]) -> None:
        self.parent = list(range(len(alerts)))
        self.pin: list[int | None] = [a.incident if a.pinned else None for a in alerts]
        self.reasons: list[list[str]] = [[] for _ in alerts]

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, i: int, j: int, reason: str) -> bool:
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return False
        pi, pj = self.pin[ri], self.pin[rj]
        if pi is not None and pj is not None and pi != pj:
            return False  # an analyst keeps these apart
        lo, hi = min(ri, rj), max(ri, rj)
        self.parent[hi] = lo
        self.pin[lo] = pi if pi is not None else pj
        self.reasons[lo] += self.reasons[hi]
        if reason not in self.reasons[lo]:
            self.reasons[lo].append(reason)
        return True


def group(
    alerts: Sequence[AlertFacts],
    posts: Mapping[str, PostFacts],
    gap: timedelta,
    ward_localities: Mapping[str, str] | None = None,
    merged: Mapping[int, int] | None = None,
) -> list[Story]:
    """The stories these alerts tell, each with the reasons its alerts were joined.
    `merged`: rumour clusters that merged into another (source -> target)."""
    places = ward_localities or {}
    ordered = sorted(alerts, key=lambda a: (a.first_seen, a.key, a.id))
    g = _Groups(ordered)
    clusters = [cluster_of(a, posts, merged) if a.family == RUMOUR else None for a in ordered]
    anchors = [anchor_of(a, posts, places) for a in ordered]

    # 1. an analyst's incidents
    by_pin: dict[int, int] = {}
    for i, a in enumerate(ordered):
        if a.pinned and a.incident is not None:
            first = by_pin.setdefault(a.incident, i)
            g.join(first, i, "put together by an analyst")

    # 2. rumours: one claim cluster, else one rule topic close in time
    by_cluster: dict[int, int] = {}
    for i, c in enumerate(clusters):
        if c is not None:
            first = by_cluster.setdefault(c, i)
            g.join(first, i, f"same rumour cluster r{c}")
    loose = [i for i, a in enumerate(ordered) if a.family == RUMOUR and clusters[i] is None]
    for x, i in enumerate(loose):
        topic = ordered[i].labels.get("topic")
        for j in loose[x + 1 :]:
            if (
                topic
                and ordered[j].labels.get("topic") == topic
                and near(ordered[i], ordered[j], gap)
            ):
                g.join(i, j, f"same rumour topic {topic.replace('_', ' ')} close in time")

    # 3. episodes: same place, the same posts, or a call naming the other's place; close in time
    episode = [i for i, a in enumerate(ordered) if a.family == EPISODE]
    # The classifier alone links nothing: its alerts only join an episode most of their posts
    # fall within (step 4), so a stray flag days earlier cannot stretch a story.
    placed = [i for i in episode if anchors[i].placed and not ordered[i].from_classifier_only]
    named = [_named_wards(ordered[i], posts) for i in range(len(ordered))]
    for x, i in enumerate(placed):
        for j in placed[x + 1 :]:
            a, b = ordered[i], ordered[j]
            if not near(a, b, gap):
                continue
            reason = _episode_link(a, b, anchors[i], anchors[j], named[i], named[j])
            if reason:
                g.join(i, j, f"{reason}, within {_hours(gap)}")

    # 4. alerts with no place of their own join the episode nearest in time, else their rumour
    spans: dict[int, tuple[datetime, datetime, int]] = {}
    wards_of: dict[int, set[str]] = {}
    for i in placed:
        r = g.find(i)
        lo, hi, n = spans.get(r, (ordered[i].first_seen, ordered[i].last_seen, 0))
        spans[r] = (min(lo, ordered[i].first_seen), max(hi, ordered[i].last_seen), n + 1)
        wards_of.setdefault(r, set()).update(w for w in (anchors[i].ward,) if w)
    placed_set = set(placed)
    unplaced_rules = [
        i for i in episode if not anchors[i].placed and not ordered[i].from_classifier_only
    ]
    for i in episode:
        if i in placed_set:
            continue
        a = ordered[i]
        times = [posts[p].at for p in a.posts if p in posts] or [a.first_seen, a.last_seen]
        best: tuple[timedelta, int, datetime, int] | None = None
        for root, (lo, hi, n) in spans.items():
            if anchors[i].ward is not None and anchors[i].ward not in wards_of.get(root, set()):
                continue  # a placed alert joins only an episode in its own ward
            distance = max(lo - a.last_seen, a.first_seen - hi, timedelta(0))
            inside = sum(1 for t in times if lo - gap <= t <= hi + gap)
            if distance > gap or 2 * inside <= len(times):
                continue  # most of its posts must fall within the episode's time
            candidate = (distance, -n, lo, root)
            if best is None or candidate < best:
                best = candidate
        if best is not None:
            why = (
                "the episode in its place at the same time"
                if anchors[i].placed
                else ("no place of its own: the episode at the same time")
            )
            g.join(best[3], i, why)
            continue
        if anchors[i].placed:
            continue
        c = cluster_of(a, posts, merged)
        if c is not None and c in by_cluster:
            g.join(by_cluster[c], i, f"no place of its own: its posts are in rumour r{c}")
            continue
        # Neither placed: a rule's alert resting on the same posts, most of them within its
        # time (a call to gather naming a street the gazetteer lacks, and the classifier's
        # hostile flags on those same calls, are one story, not two).
        own = set(a.posts)
        for j in unplaced_rules:
            b = ordered[j]
            if j == i or not own & set(b.posts):
                continue
            inside = sum(1 for t in times if b.first_seen - gap <= t <= b.last_seen + gap)
            if near(a, b, gap) and 2 * inside > len(times):
                g.join(j, i, f"no place of its own: the same posts, within {_hours(gap)}")

    members: dict[int, list[int]] = {}
    for i in range(len(ordered)):
        members.setdefault(g.find(i), []).append(i)
    stories = []
    for root, idx in members.items():
        group_alerts = [ordered[i] for i in idx]
        family = RUMOUR if any(a.family == RUMOUR for a in group_alerts) else EPISODE
        found = Counter(clusters[i] for i in idx if clusters[i] is not None)
        cluster = min(found.items(), key=lambda kv: (-kv[1], kv[0]))[0] if found else None
        stories.append(
            Story(
                alert_ids=tuple(sorted(a.id for a in group_alerts)),
                family=family,
                cluster=cluster,
                links=tuple(g.reasons[root]),
            )
        )
    by_id = {a.id: a for a in ordered}
    stories.sort(key=lambda s: (min(by_id[i].first_seen for i in s.alert_ids), s.alert_ids))
    return stories


def _hours(gap: timedelta) -> str:
    hours = gap.total_seconds() / 3600
    return f"{hours:g} h"
