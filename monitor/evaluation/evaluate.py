"""Pure: replay posts through the signals engine and score what it raised against the truth.

Reports, per scenario: detection delay of the rumour (first `rumour_spreading` alert for the
cluster holding the rumour's posts, after its onset) and of the tension episode (first
`rising_tension` alert for the right ward), whether the rumour is one cluster, when the ward's
level came back down, and false alarms (alert keys the truth does not explain) per week.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.evaluation.simulate import Truth
from monitor.signals.config import SignalsConfig
from monitor.signals.engine import SignalCandidate, SignalsEngine, SignalsUpdate
from monitor.signals.levels import LevelChange, Measures
from monitor.signals.tension import area_key
from monitor.types import Processed, RuleHit

MINUTE = timedelta(minutes=1)


@dataclass
class Replay:
    """Everything the engine produced over a replay, with merges resolved."""

    candidates: list[SignalCandidate] = field(default_factory=list)
    level_changes: list[LevelChange] = field(default_factory=list)
    cluster_of: dict[str, int] = field(default_factory=dict)  # post id -> final cluster
    # post id -> its stance towards its cluster's claim, as first recorded (the store keeps
    # the first membership row too): a denial or question answers the claim, not tells it
    stance_of: dict[str, str] = field(default_factory=dict)
    merged: dict[int, int] = field(default_factory=dict)
    splits: int = 0  # claim clusters split because their claims diverged
    engine: SignalsEngine | None = None

    def resolve(self, cid: int) -> int:
        while cid in self.merged:
            cid = self.merged[cid]
        return cid

    def collect(self, update: SignalsUpdate) -> None:
        """Add one `observe`/`flush` update: its candidates, level changes, merges, confirmed
        memberships and splits."""
        self.candidates += update.candidates
        self.level_changes += update.level_changes
        for source, target in update.rumours.merges:
            self.merged[source] = target
        for m in update.rumours.memberships:
            if m.confirmed:
                self.cluster_of.setdefault(m.post_id, m.rumour_id)
                self.stance_of.setdefault(m.post_id, m.stance)
        # A split moves posts to the rumour split off (after they joined, in the same update or
        # an earlier one): they count where they ended, as merged posts do.
        for split in update.rumours.splits:
            self.splits += 1
            for post in split.posts:
                self.cluster_of[post] = split.target
        for move in update.rumours.moves:  # late claims judged again in event-time order
            for post in move.posts:
                self.cluster_of[post] = move.target


def replay(
    items: Sequence[Processed],
    config: SignalsConfig,
    *,
    batch_size: int = 64,
    end: datetime | None = None,
    engine: SignalsEngine | None = None,
) -> Replay:
    engine = engine or SignalsEngine(config)
    out = Replay(engine=engine)
    ordered = sorted(items, key=lambda i: i.post.created_at)
    updates = []
    for start in range(0, len(ordered), batch_size):
        batch = ordered[start : start + batch_size]
        updates.append(engine.observe(batch, batch[-1].post.created_at))
    if end is not None:
        updates.append(engine.flush(end))
    for u in updates:
        out.collect(u)
    out.cluster_of = {p: out.resolve(c) for p, c in out.cluster_of.items()}
    return out


@dataclass(frozen=True)
class Score:
    weeks: float
    rumour_delay_min: float | None
    rumour_clusters: int  # clusters holding the rumour's own claim posts
    rumour_in_main: float  # share of the rumour's clustered claim posts in its main cluster
    rumour_coverage: float  # share of all its claim posts in the main cluster
    rumour_alerts: int  # distinct rumour_spreading alerts for the rumour (1 is right)
    tension_delay_min: float | None
    tension_peak: str | None
    tension_lowered_after_end_min: float | None
    false_alarms: int
    false_alarm_keys: tuple[str, ...]

    @property
    def false_alarms_per_week(self) -> float:
        return self.false_alarms / self.weeks


def score(
    result: Replay,
    truth: Truth,
    config: SignalsConfig,
    parents: Mapping[str, set[str]] | None = None,
) -> Score:
    """`parents`: area key -> ward keys inside it (from the posts' places); a locality or
    district alert during the episode is explained when the episode's ward lies inside it."""
    tcfg = config.tension
    if parents is None:
        parents = result.engine.tension.parents if result.engine is not None else {}
    explained: set[str] = set()
    first_alert: dict[str, SignalCandidate] = {}
    for c in result.candidates:
        first_alert.setdefault(c.key, c)

    # The rumour: its main cluster, and the first spreading alert for it.
    main = None
    clusters: Counter[int] = Counter()
    for pid in truth.rumour_posts:
        if pid in result.cluster_of:
            clusters[result.cluster_of[pid]] += 1
    if clusters:
        main = clusters.most_common(1)[0][0]
    rumour_delay = None
    rumour_alerts = 0
    for key, c in first_alert.items():
        if c.labels.get("kind") != "rumour_spreading":
            continue
        cid = result.resolve(int(c.labels["cluster"].lstrip("r")))
        if main is not None and cid == main and truth.rumour_onset is not None:
            explained.add(key)
            rumour_alerts += 1
            delay = (c.at - truth.rumour_onset) / MINUTE
            rumour_delay = delay if rumour_delay is None else min(rumour_delay, delay)

    # The tension episode: the ward's first alert, peak level, and when it came back down.
    tension_delay = None
    peak = None
    lowered = None
    if truth.tension_ward and truth.tension_onset and truth.tension_end:
        ward = truth.tension_ward
        window_end = truth.tension_end + tcfg.window + timedelta(hours=2)
        related = {ward, *truth.tension_related}
        for key, c in first_alert.items():
            if c.labels.get("kind") != "rising_tension":
                continue
            if not truth.tension_onset <= c.at <= window_end:
                continue
            inside = area_key("ward", ward) in parents.get(
                area_key(c.labels.get("area_kind", "ward"), c.labels.get("area", "")), set()
            )
            if c.labels.get("area") in related or inside:
                explained.add(key)
            if c.labels.get("area") == ward:
                delay = (c.at - truth.tension_onset) / MINUTE
                tension_delay = delay if tension_delay is None else min(tension_delay, delay)
        key = area_key("ward", ward)
        changes = [ch for ch in result.level_changes if ch.area == key]
        during = [ch for ch in changes if ch.at >= truth.tension_onset]
        if during:
            peak = tcfg.scale.names[max(ch.to_level for ch in during)]
            back = [ch for ch in during if ch.to_level == 0 and ch.at >= truth.tension_end]
            if back:
                lowered = (back[0].at - truth.tension_end) / MINUTE
    false = tuple(sorted(k for k in first_alert if k not in explained))
    return Score(
        weeks=truth.weeks,
        rumour_delay_min=rumour_delay,
        rumour_clusters=len(clusters),
        rumour_in_main=(clusters[main] / sum(clusters.values())) if main is not None else 0.0,
        rumour_coverage=(clusters[main] / len(truth.rumour_posts)) if main is not None else 0.0,
        rumour_alerts=rumour_alerts,
        tension_delay_min=tension_delay,
        tension_peak=peak,
        tension_lowered_after_end_min=lowered,
        false_alarms=len(false),
        false_alarm_keys=false,
    )


def truth_threshold_time(
    truth: Truth, times: Mapping[str, datetime], posts: int, window: timedelta
) -> datetime | None:
    """When the rumour's own posts (all of them, as the truth knows them) first numbered
    `posts` within `window`: the earliest an oracle with the same threshold could say so."""
    ordered = sorted(times[p] for p in truth.rumour_posts if p in times)
    for i in range(posts - 1, len(ordered)):
        if ordered[i] - ordered[i - posts + 1] <= window:
            return ordered[i]
    return None


# --- the bundled demo's ground truth ---------------------------------------------------------

# Truth tags of the demo file, as the labels a perfect rule set would attach: used to measure
# the signals on their own, apart from what today's classifier and rules catch.
TAG_LABELS: Mapping[str, Mapping[str, str]] = {
    "tension": {"kind": "tension", "severity": "medium"},
    "threat": {"kind": "threat", "severity": "high"},
    "hostile": {"kind": "hostility", "severity": "medium"},
    "call_to_gather": {"kind": "call_to_gather", "severity": "high"},
    "rumour": {"kind": "rumour", "severity": "low"},
}


def demo_truth(
    path: Path, key: Callable[[str], str] | None = None
) -> tuple[Truth, dict[str, list[str]]]:
    """The demo's `.truth.json` as a `Truth`, and each post's truth tags. `key`: how the store
    the posts went through keys their platform ids (`PostIds.key`), to compare with it."""
    raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    k: Callable[[str], str] = key or (lambda pid: pid)
    start = datetime.fromisoformat(raw["start"])
    end = datetime.fromisoformat(raw["end"])
    rumour = raw.get("rumour") or {}
    tension = raw.get("tension") or {}
    counter = raw.get("counter") or {}
    gathering = tension.get("gathering") or {}
    truth = Truth(
        start=start,
        end=end,
        weeks=(end - start) / timedelta(days=7),
        rumour_onset=_time(rumour.get("onset")),
        rumour_wards=tuple(rumour.get("wards_reached", ())),
        rumour_posts=frozenset(k(p) for p in rumour.get("post_ids", ())),
        rumour_thread=frozenset(k(p) for p in rumour.get("post_ids", ())),
        counter_at=_time(counter.get("time")),
        tension_ward=tension.get("ward"),
        tension_onset=_time(tension.get("onset")),
        tension_end=_time(tension.get("end")),
        tension_related=(gathering["ward"],) if gathering.get("ward") else (),
    )
    tags = {k(pid): list(info.get("tags", ())) for pid, info in (raw.get("posts") or {}).items()}
    return truth, tags


def with_truth_labels(
    items: Sequence[Processed], tags: Mapping[str, Sequence[str]]
) -> list[Processed]:
    """The same posts with rule hits replaced by the labels their truth tags call for."""
    out = []
    for i in items:
        hits = tuple(
            RuleHit(f"truth:{tag}", TAG_LABELS[tag])
            for tag in tags.get(i.post.id, ())
            if tag in TAG_LABELS
        )
        out.append(Processed(i.post, i.scores, i.embedding, i.flags, hits))
    return out


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def replay_from_rows(
    alerts: Sequence[Mapping[str, Any]],
    changes: Sequence[Mapping[str, Any]],
    members: Sequence[tuple[str, int]],
    merged: Mapping[int, int],
    config: SignalsConfig,
) -> Replay:
    """A `Replay` rebuilt from what the stage stored (alerts it opened, level changes, rumour
    members), so a run through the real pipeline is scored like a pure replay."""
    from monitor.signals.engine import SignalCandidate

    names = config.tension.scale.names
    out = Replay(merged=dict(merged))
    for a in alerts:
        out.candidates.append(
            SignalCandidate(a["key"], a["labels"], a["summary"], (), a["first_seen"], "store")
        )
    for c in changes:
        level = names.index(c["to_level"]) if c["to_level"] in names else 0
        before = names.index(c["from_level"]) if c["from_level"] in names else 0
        m = Measures(c["at"], 0, 0, 0, 0.0, 0, 0.0, 0.0)
        out.level_changes.append(
            LevelChange(c["area"], c["at"], before, level, c["from_level"], c["to_level"], m, "")
        )
    out.cluster_of = {p: out.resolve(cid) for p, cid in members}
    return out


def area_parents(items: Sequence[Processed]) -> dict[str, set[str]]:
    """Area key -> ward keys inside it, from the posts' places."""
    from monitor.signals.tension import parents_of

    out: dict[str, set[str]] = {}
    for i in items:
        for ward, parent in parents_of(i.post.places):
            out.setdefault(parent, set()).add(ward)
    return out
