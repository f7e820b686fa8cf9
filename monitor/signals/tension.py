"""Pure: per-area windows of posts, hourly history, and level evaluation at event-time ticks.

Each post counts for every area it names: its wards, their localities and their districts.
Levels are evaluated at fixed ticks of event time (every `TICK`) as posts arrive in time order,
so the same stream gives the same levels whatever batch sizes the pipeline happens to use.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from monitor.signals.config import TensionConfig
from monitor.signals.levels import (
    HOUR,
    WEEK,
    HourlyHistory,
    LevelChange,
    LevelState,
    Measures,
    crossed,
    expected_volume,
    floor_hour,
    rise,
    step,
    top_labels,
)
from monitor.types import PlaceMatch

# A level is raised at most this long after the post that crossed its thresholds: at 5
# minutes, a rising-tension item waited a median 2.5 minutes for the next mark. Still a
# fixed tick of event time, so batches and arrival order do not change when it rises.
TICK = timedelta(minutes=1)
AREA_KINDS = ("ward", "locality", "district")
SEEN_KEPT = 4096  # post ids counted beyond which those older than the window are forgotten


def author_token(author_ref: str) -> int:
    """A short token standing for an author inside one process, used only to count distinct
    authors; it is never stored or shown."""
    return int.from_bytes(hashlib.blake2b(author_ref.encode(), digest_size=8).digest(), "big")


def area_key(kind: str, name: str) -> str:
    return f"{kind}:{name}"


def split_area(key: str) -> tuple[str, str]:
    kind, _, name = key.partition(":")
    return kind, name


def areas_of(places: Iterable[PlaceMatch]) -> list[str]:
    """Area keys a post counts for, wards first: each ward, locality and district it names."""
    found: dict[str, None] = {}
    for kind in AREA_KINDS:
        for m in places:
            name = m.ward if kind == "ward" else m.locality if kind == "locality" else m.district
            if name:
                found[area_key(kind, name)] = None
    return list(found)


def parents_of(places: Iterable[PlaceMatch]) -> list[tuple[str, str]]:
    """(ward key, parent key) pairs: which locality and district each named ward lies in."""
    pairs = []
    for m in places:
        if m.ward:
            if m.locality:
                pairs.append((area_key("ward", m.ward), area_key("locality", m.locality)))
            pairs.append((area_key("ward", m.ward), area_key("district", m.district)))
    return pairs


@dataclass(frozen=True, slots=True)
class AreaPost:
    at: datetime
    post_id: str
    author: int
    weight: float
    labels: tuple[str, ...]
    rule: bool = False  # a rule flagged it (not the classifier alone)
    response: bool = False  # calming, denial, counter-speech or solidarity: never weighed


@dataclass(slots=True)
class AreaTracker:
    events: list[AreaPost] = field(default_factory=list)  # sorted by time, within the window
    history: HourlyHistory = field(default_factory=HourlyHistory)
    state: LevelState = field(default_factory=LevelState)

    def add(self, post: AreaPost) -> None:
        if not self.events or self.events[-1].at <= post.at:
            self.events.append(post)
        else:  # a late post: keep the window sorted
            bisect.insort(self.events, post, key=lambda e: e.at)

    def in_window(self, start: datetime, end: datetime) -> Iterator[AreaPost]:
        i = bisect.bisect_right(self.events, start, key=lambda e: e.at)
        for e in self.events[i:]:
            if e.at > end:
                break
            yield e

    def prune(self, before: datetime) -> None:
        i = bisect.bisect_left(self.events, before, key=lambda e: e.at)
        if i:
            del self.events[:i]


@dataclass(slots=True)
class HourCount:
    posts: int = 0
    flagged: int = 0
    weighted: float = 0.0


class TensionTracker:
    """All areas' windows, histories and levels. Feed posts with `add` (in any order; mostly
    in time order), call `advance` with the latest event time to evaluate the ticks due."""

    def __init__(self, config: TensionConfig, observed_since: datetime | None = None) -> None:
        self.config = config
        self.areas: dict[str, AreaTracker] = {}
        self.observed_since = observed_since
        self.parents: dict[str, set[str]] = {}  # parent area -> wards seen inside it
        self.hour_counts: dict[tuple[str, datetime], HourCount] = {}  # unsaved aggregates
        self._dirty: set[str] = set()
        self._seen: dict[str, datetime] = {}  # post ids counted, within the window
        self._next_tick: datetime | None = None
        self._evaluated: set[str] = set()
        self.clock: datetime | None = None

    # --- input -----------------------------------------------------------------------------

    def add(
        self,
        post_id: str,
        at: datetime,
        author_ref: str,
        places: Sequence[PlaceMatch],
        weight: float,
        labels: Sequence[str],
        *,
        rule: bool = False,
        response: bool = False,
    ) -> list[LevelChange]:
        """Count one post for its areas; returns the level changes of ticks it moved past.
        A response weighs nothing (see `monitor.signals.responses`)."""
        changes = self.advance(at)
        if post_id in self._seen:
            return changes  # processed again (a retry or an edit): counted once
        self._seen[post_id] = at
        if self.observed_since is None:
            self.observed_since = floor_hour(at)
        for ward, parent in parents_of(places):
            self.parents.setdefault(parent, set()).add(ward)
        if response:
            weight, labels = 0.0, ()
        event = AreaPost(
            at, post_id, author_token(author_ref), weight, tuple(labels), rule, response
        )
        hour = floor_hour(at)
        for key in areas_of(places):
            area = self.area(key)
            area.add(event)
            area.history.add(hour, weight)
            count = self.hour_counts.setdefault((key, hour), HourCount())
            count.posts += 1
            count.flagged += weight > 0
            count.weighted += weight
            if weight > 0:
                self._dirty.add(key)
        return changes

    def advance(self, t: datetime) -> list[LevelChange]:
        """Move the event clock to `t`, evaluating every tick passed on the way."""
        if self.clock is None or t > self.clock:
            self.clock = t
        if self._next_tick is None:
            self._next_tick = _ceil(t, TICK)
            return []
        changes: list[LevelChange] = []
        while self._next_tick <= t:
            if self._idle():
                # Every tick until the next post would evaluate no area and only prune, which
                # the last one does as well: go straight to it. Ticking each minute, one post
                # dated 2000 ahead of today's took 14 million evaluations (80 s of a blocked
                # event loop for a 26-post import) to cross the years between them.
                self._next_tick += (t - self._next_tick) // TICK * TICK
            changes += self.evaluate(self._next_tick)
            self._next_tick += TICK
        return changes

    def _idle(self) -> bool:
        """Whether the next tick would evaluate no area and change nothing but the windows:
        no new flagged post, every area at the lowest level, and the seen ids under the
        size `prune` trims them at (so skipping ticks skips no trim)."""
        return (
            not self._dirty
            and len(self._seen) <= SEEN_KEPT
            and all(a.state.level == 0 for a in self.areas.values())
        )

    # --- restart ---------------------------------------------------------------------------

    def area(self, key: str) -> AreaTracker:
        area = self.areas.get(key)
        if area is None:
            area = self.areas[key] = AreaTracker()
        return area

    def restore_post(
        self,
        post_id: str,
        at: datetime,
        author_ref: str,
        places: Sequence[PlaceMatch],
        weight: float,
        labels: Sequence[str],
        *,
        rule: bool = False,
        response: bool = False,
    ) -> None:
        """Put a stored post back in its areas' windows after a restart; its hourly
        aggregates are already in the store, so they are not counted again."""
        if post_id in self._seen:
            return
        self._seen[post_id] = at
        for ward, parent in parents_of(places):
            self.parents.setdefault(parent, set()).add(ward)
        if response:
            weight, labels = 0.0, ()
        event = AreaPost(
            at, post_id, author_token(author_ref), weight, tuple(labels), rule, response
        )
        for key in areas_of(places):
            self.area(key).add(event)

    def restore_clock(self, t: datetime) -> None:
        self.clock = t
        self._next_tick = _ceil(t, TICK)

    def take_evaluated(self) -> set[str]:
        keys, self._evaluated = self._evaluated, set()
        return keys

    # --- evaluation ------------------------------------------------------------------------

    def measures(self, key: str, t: datetime) -> Measures:
        area = self.areas[key]
        window = self.config.window
        start = t - window
        posts = flagged = responses = 0
        by_author: dict[int, float] = {}
        rule_authors: set[int] = set()
        labels: Counter[str] = Counter()
        for e in area.in_window(start, t):
            posts += 1
            responses += e.response
            if e.weight > 0:
                flagged += 1
                by_author[e.author] = by_author.get(e.author, 0.0) + e.weight
                labels.update(e.labels)
                if e.rule:
                    rule_authors.add(e.author)
        # Each author adds at most `author_cap`: one loud account cannot supply the weight
        # while a few others supply the distinct authors.
        cap = self.config.author_cap
        weighted = sum(min(w, cap) for w in by_author.values())
        authors = by_author
        expected = expected_volume(area.history, start, t, self.observed_since, self.config)
        return Measures(
            at=t,
            window_minutes=int(window / timedelta(minutes=1)),
            posts=posts,
            flagged=flagged,
            weighted=weighted,
            authors=len(authors),
            expected=expected,
            rise=rise(weighted, expected, self.config.pseudocount),
            top_labels=top_labels(labels),
            rule_authors=len(rule_authors),
            responses=responses,
        )

    def evaluate(self, t: datetime) -> list[LevelChange]:
        """Evaluate areas with new flagged posts and areas above the lowest level, at `t`."""
        keys = self._dirty | {k for k, a in self.areas.items() if a.state.level > 0}
        self._dirty = set()
        self._evaluated |= keys
        changes = []
        order = {kind: i for i, kind in enumerate(AREA_KINDS)}
        for key in sorted(keys, key=lambda k: (order.get(split_area(k)[0], 9), k)):
            area = self.areas[key]
            state, change = step(area.state, self.measures(key, t), self.config, key)
            area.state = state
            if change is not None:
                # Evidence and explanation are taken now, at the change's own time: later
                # ticks of the same batch prune the window (a bulk import's 500-post batch
                # spans hours), which left a rising-tension alert with no evidence at all.
                changes.append(
                    replace(
                        change,
                        evidence=tuple(self.evidence(key, t)),
                        explanation=self.explain(key, change),
                    )
                )
        self.prune(t)
        return changes

    def prune(self, t: datetime) -> None:
        window_start = t - self.config.window - TICK
        for area in self.areas.values():
            area.prune(window_start)
        if len(self._seen) > SEEN_KEPT:
            self._seen = {p: at for p, at in self._seen.items() if at >= window_start}

    def prune_history(self, t: datetime) -> None:
        before = floor_hour(t) - WEEK * self.config.baseline_weeks - HOUR
        for area in self.areas.values():
            area.history.prune(before)

    # --- read ------------------------------------------------------------------------------

    def level(self, key: str) -> int:
        area = self.areas.get(key)
        return area.state.level if area else 0

    def evidence(self, key: str, t: datetime, limit: int = 20) -> list[str]:
        """Post ids behind an area's level: its heaviest flagged posts in the window."""
        area = self.areas.get(key)
        if area is None:
            return []
        flagged = [e for e in area.in_window(t - self.config.window, t) if e.weight > 0]
        flagged.sort(key=lambda e: (-e.weight, e.at))
        return [e.post_id for e in flagged[:limit]]

    def explain(self, key: str, change: LevelChange, hours: int = 12) -> dict[str, object]:
        """What a rising-tension item shows: each condition of the level entered (measure,
        value, threshold, met), and a small series of the area's weighted flagged volume per
        hour against its baseline for those hours of the week (the last `hours` hours)."""
        cfg = self.config
        m = change.measures
        level = change.to_level if change.rising else change.from_level
        factor = 1.0 if change.rising else cfg.down_factor
        gate = (cfg.alert_level, cfg.alert_rule_authors)
        conditions = [
            {
                "measure": name,
                "value": round(value, 3),
                "threshold": round(threshold * factor, 3),
                "met": value >= threshold * factor,
            }
            for name, value, threshold in (crossed(cfg.scale, m, level, gate) if level > 0 else [])
        ]
        area = self.areas[key]
        end = floor_hour(change.at)
        series = []
        for k in range(hours - 1, -1, -1):
            hour = end - HOUR * k
            rate = area.history.hour_rate(hour, hour, self.observed_since, cfg)
            series.append(
                {
                    "hour": hour.isoformat(),
                    "weighted": round(area.history.weighted.get(hour, 0.0), 3),
                    "baseline": round(rate, 3),
                }
            )
        return {
            "level": cfg.scale.names[level],
            "direction": "rising" if change.rising else "falling",
            "conditions": conditions,
            "window": m.as_dict(),
            "series": series,
        }

    def take_hour_counts(self) -> dict[tuple[str, datetime], HourCount]:
        counts, self.hour_counts = self.hour_counts, {}
        return counts

    def restore_counts(self, counts: dict[tuple[str, datetime], HourCount]) -> None:
        """Put back aggregates a failed save did not write, so they are written next time."""
        for key, c in counts.items():
            mine = self.hour_counts.setdefault(key, HourCount())
            mine.posts += c.posts
            mine.flagged += c.flagged
            mine.weighted += c.weighted


def _ceil(t: datetime, step: timedelta) -> datetime:
    """The first tick strictly after `t` (ticks are whole multiples of `step` in the hour)."""
    base = t.replace(minute=0, second=0, microsecond=0)
    return base + step * ((t - base) // step + 1)
