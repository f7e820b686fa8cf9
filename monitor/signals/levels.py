"""Pure: tension level of one area from its window's measures and its own baseline.

Three measures decide a level, and all three must clear a level's thresholds:
- weighted flagged volume in the window (each flagged post weighed by kind and severity),
- distinct authors of those posts (one loud account cannot raise a level on its own),
- rise over the area's own baseline: (observed + c) / (expected + c).

The baseline is an hour-of-week profile of the area's own history, so a Saturday night is
compared with Saturday nights; each hour-of-week rate is shrunk towards the area's overall rate
and that towards a prior rate, in proportion to how much history there is. A quiet place with
little history therefore sits near the prior, and the pseudocount `c` keeps three posts over a
near-zero baseline a small rise instead of an infinite one.

Levels rise as soon as the thresholds are met and fall only when the measures stay under the
thresholds times `down_factor` for `cool_down` (hysteresis), so a level does not flap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.signals.config import LevelScale, TensionConfig

HOUR = timedelta(hours=1)
WEEK = timedelta(days=7)
# How many weeks of one hour-of-week slot count as much as the area's overall rate. Weekly
# rhythms in local feeds are strong (match days, markets, Friday nights), so one past week
# already counts half; the absolute thresholds on volume and authors still guard each level.
SLOT_PRIOR_WEEKS = 1.0


@dataclass(frozen=True, slots=True)
class Measures:
    """What the area looked like over one window ending at `at`."""

    at: datetime
    window_minutes: int
    posts: int  # all posts about the area in the window
    flagged: int  # posts with a weight above zero
    weighted: float
    authors: int  # distinct authors of the flagged posts
    expected: float  # baseline weighted volume for this window
    rise: float
    top_labels: tuple[tuple[str, int], ...] = ()
    rule_authors: int = 0  # distinct authors of posts a rule flagged (not the classifier alone)
    responses: int = 0  # calming, denials, counter-speech, solidarity: shown, never weighed

    def as_dict(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "window_minutes": self.window_minutes,
            "posts": self.posts,
            "flagged": self.flagged,
            "weighted": round(self.weighted, 3),
            "authors": self.authors,
            "rule_authors": self.rule_authors,
            "responses": self.responses,
            "expected": round(self.expected, 3),
            "rise": round(self.rise, 3),
        }


def rise(observed: float, expected: float, pseudocount: float) -> float:
    return (observed + pseudocount) / (expected + pseudocount)


def level_for(
    scale: LevelScale, m: Measures, factor: float = 1.0, gate: tuple[int, int] = (0, 0)
) -> int:
    """The highest level whose thresholds (times `factor`) the measures all meet. `gate`:
    (alert level, rule authors): from the alert level up, rule-flagged posts from that many
    distinct authors are needed too, so the classifier alone never opens an item."""
    level = 0
    for i in range(len(scale.names) - 1):
        if all(
            value >= threshold * factor for _, value, threshold in crossed(scale, m, i + 1, gate)
        ):
            level = i + 1
        else:
            break
    return level


def crossed(
    scale: LevelScale, m: Measures, level: int, gate: tuple[int, int] = (0, 0)
) -> list[tuple[str, float, float]]:
    """(measure, value, threshold) for each condition of entering `level`."""
    i = level - 1
    out = [
        ("rise", m.rise, scale.rise[i]),
        ("weighted", m.weighted, scale.weighted[i]),
        ("authors", float(m.authors), scale.authors[i]),
    ]
    if gate[1] and level >= gate[0]:
        out.append(("rule_authors", float(m.rule_authors), float(gate[1])))
    return out


def floor_hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


@dataclass(slots=True)
class HourlyHistory:
    """One area's weighted flagged volume per UTC hour, for its baseline.

    Hourly rates are memoised per window cut-off; an addition before the cut-off (a late post)
    drops the memo, additions to the current hours do not touch it.
    """

    weighted: dict[datetime, float] = field(default_factory=dict)
    _memo_cutoff: datetime | None = None
    _memo: dict[datetime, float] = field(default_factory=dict)

    def add(self, hour: datetime, value: float) -> None:
        if not value:
            return
        self.weighted[hour] = self.weighted.get(hour, 0.0) + value
        if self._memo_cutoff is not None and hour < self._memo_cutoff:
            self._memo.clear()

    def prune(self, before: datetime) -> None:
        for hour in [h for h in self.weighted if h < before]:
            del self.weighted[hour]

    def hour_rate(
        self,
        hour: datetime,
        cutoff: datetime,
        observed_since: datetime | None,
        config: TensionConfig,
    ) -> float:
        """Baseline weighted volume per hour for `hour`, from history strictly before
        `cutoff`: its hour-of-week rate shrunk to the area's overall rate, shrunk to the prior."""
        if cutoff != self._memo_cutoff:
            self._memo_cutoff = cutoff
            self._memo = {}
        cached = self._memo.get(hour)
        if cached is not None:
            return cached
        tz = ZoneInfo(config.timezone)
        horizon = cutoff - WEEK * config.baseline_weeks
        begin = max(horizon, floor_hour(observed_since)) if observed_since else cutoff
        hours_observed = max(0.0, (cutoff - begin) / HOUR)
        if _OVERALL not in self._memo:
            total = sum(v for h, v in self.weighted.items() if begin <= h < cutoff)
            self._memo[_OVERALL] = (total + config.prior_rate * config.prior_hours) / (
                hours_observed + config.prior_hours
            )
        overall = self._memo[_OVERALL]
        # The same hour of the week in earlier weeks. The local hour-of-week is what matters
        # (a clock change shifts UTC), so step back a week at a time and check the slot.
        slot = hour_of_week(hour, tz)
        weeks = 0
        slot_total = 0.0
        past = hour - WEEK
        while past >= begin:
            if past < cutoff and hour_of_week(past, tz) == slot:
                weeks += 1
                slot_total += self.weighted.get(past, 0.0)
            past -= WEEK
        rate = (slot_total + overall * SLOT_PRIOR_WEEKS) / (weeks + SLOT_PRIOR_WEEKS)
        self._memo[hour] = rate
        return rate


# A key no real hour can have, for the overall rate in the memo.
_OVERALL = datetime.min.replace(tzinfo=ZoneInfo("UTC"))


def hour_of_week(hour: datetime, tz: ZoneInfo) -> int:
    local = hour.astimezone(tz)
    return local.weekday() * 24 + local.hour


def expected_volume(
    history: HourlyHistory,
    start: datetime,
    end: datetime,
    observed_since: datetime | None,
    config: TensionConfig,
) -> float:
    """Baseline weighted volume for the window [start, end): the sum over the window's hours
    of their hour-of-week rates, from history strictly before `start`'s hour, so that an
    episode never becomes its own baseline."""
    cutoff = floor_hour(start)
    expected = 0.0
    hour = cutoff
    while hour < end:
        overlap = (min(end, hour + HOUR) - max(start, hour)) / HOUR
        expected += history.hour_rate(hour, cutoff, observed_since, config) * overlap
        hour += HOUR
    return expected


@dataclass(frozen=True, slots=True)
class LevelState:
    """Where an area's level stands, and since when the measures have been under it."""

    level: int = 0
    since: datetime | None = None
    below_since: datetime | None = None
    measures: Measures | None = None


@dataclass(frozen=True, slots=True)
class LevelChange:
    """A change of an area's level and why: the counts, the baseline and the top labels."""

    area: str  # area key, e.g. "ward:Little Horton"
    at: datetime
    from_level: int
    to_level: int
    from_name: str
    to_name: str
    measures: Measures
    reason: str
    evidence: tuple[str, ...] = ()  # the flagged posts it stood on, taken at the change
    explanation: Mapping[str, object] | None = None  # thresholds crossed, window vs baseline

    @property
    def rising(self) -> bool:
        return self.to_level > self.from_level


def step(
    state: LevelState, m: Measures, config: TensionConfig, area: str
) -> tuple[LevelState, LevelChange | None]:
    """Advance one area's level with new measures (the hysteresis state machine)."""
    scale = config.scale
    gate = (config.alert_level, config.alert_rule_authors)
    raw = level_for(scale, m, gate=gate)
    if raw > state.level:
        return _change(state, raw, m, config, area, "thresholds met")
    relaxed = level_for(scale, m, config.down_factor, gate)
    if relaxed >= state.level:
        return replace(state, below_since=None, measures=m), None
    below_since = state.below_since or m.at
    if m.at - below_since >= config.cool_down:
        minutes = int(config.cool_down / timedelta(minutes=1))
        why = f"under {config.down_factor:g}× the thresholds for {minutes} min"
        return _change(state, relaxed, m, config, area, why)
    return replace(state, below_since=below_since, measures=m), None


def _change(
    state: LevelState, to: int, m: Measures, config: TensionConfig, area: str, why: str
) -> tuple[LevelState, LevelChange]:
    names = config.scale.names
    change = LevelChange(
        area=area,
        at=m.at,
        from_level=state.level,
        to_level=to,
        from_name=names[state.level],
        to_name=names[to],
        measures=m,
        reason=explain(area, names[state.level], names[to], m, why),
    )
    return LevelState(level=to, since=m.at, below_since=None, measures=m), change


def explain(area: str, before: str, after: str, m: Measures, why: str) -> str:
    kind, _, name = area.partition(":")
    labels = ", ".join(f"{label} ({n})" for label, n in m.top_labels) or "none"
    return (
        f"{name} ({kind}): {before} → {after} ({why}). In the last {m.window_minutes} min: "
        f"weighted {m.weighted:.1f} (each author's share capped) from {m.flagged} flagged "
        f"of {m.posts} posts by "
        f"{m.authors} distinct authors ({m.rule_authors} with rule-flagged posts); "
        f"{m.responses} responses (calming, denials, counter-speech, solidarity) not weighed; "
        f"baseline {m.expected:.2f} for these hours of the week; "
        f"rise ×{m.rise:.1f}. Top labels: {labels}."
    )


def top_labels(counts: Mapping[str, int], n: int = 5) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n])


def post_weight(labels: Iterable[tuple[str, str | None]], config: TensionConfig) -> float:
    """A flagged post's weight: its heaviest (kind, severity) pair; a post counts once however
    many rules fired on it. Classifier flags come as (flag, None)."""
    weight = 0.0
    for kind, severity in labels:
        base = config.kind_weights.get(kind, 0.0)
        if base and severity is not None:
            base *= config.severity_weights.get(severity, 1.0)
        weight = max(weight, base)
    return weight
