"""Tension levels: the three measures, the area's own baseline, and hysteresis."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from monitor.config import ConfigError, Settings
from monitor.signals.config import SignalsConfig
from monitor.signals.levels import LevelChange, LevelState, Measures, level_for, step
from monitor.signals.tension import TensionTracker, area_key
from tests.signals.conftest import T0, minutes, place

THREAT = ["kind=threat"]
WARD = area_key("ward", "Little Horton")


def _flagged(
    tracker: TensionTracker,
    at: datetime,
    n: int,
    *,
    authors: int,
    ward: str = "Little Horton",
    locality: str = "Bradford East",
    weight: float = 1.0,
    spread: timedelta = timedelta(minutes=30),
    tag: str = "",
) -> list[LevelChange]:
    changes = []
    for i in range(n):
        changes += tracker.add(
            f"{tag}{ward}-{at.isoformat()}-{i}",
            at + spread * (i / max(n, 1)),
            f"author-{i % authors}",
            [place(ward, locality)],
            weight,
            THREAT,
            rule=True,  # a threat rule fired, as the labels say
        )
    return changes


def test_one_loud_author_does_not_raise_a_level(config: SignalsConfig) -> None:
    tracker = TensionTracker(config.tension)
    _flagged(tracker, T0 + timedelta(hours=10), 30, authors=1, weight=3.0)
    tracker.advance(T0 + timedelta(hours=11))
    m = tracker.measures(WARD, T0 + timedelta(hours=11))
    assert m.flagged == 30 and m.authors == 1
    assert m.weighted == config.tension.author_cap  # 90 uncapped
    assert tracker.level(WARD) == 0


def test_a_loud_author_cannot_lend_weight_to_a_few_others(config: SignalsConfig) -> None:
    """Twenty posts from one account and one post each from five others: the distinct
    authors are there, the weight is not."""
    tracker = TensionTracker(config.tension)
    at = T0 + timedelta(hours=10)
    _flagged(tracker, at, 20, authors=1, weight=1.0, tag="loud")
    _flagged(tracker, at, 5, authors=5, weight=1.0, tag="others")
    tracker.advance(at + timedelta(hours=1))
    m = tracker.measures(WARD, at + timedelta(hours=1))
    assert m.authors == 5 and m.flagged == 25
    assert m.weighted == config.tension.author_cap + 4  # the loud one counts up to the cap
    assert tracker.level(WARD) < config.tension.alert_level


def test_many_authors_raise_the_level_of_the_ward_its_locality_and_district(
    config: SignalsConfig,
) -> None:
    tracker = TensionTracker(config.tension)
    changes = _flagged(tracker, T0 + timedelta(hours=10), 30, authors=15, weight=1.5)
    changes += tracker.advance(T0 + timedelta(hours=11))
    assert tracker.level(WARD) == config.tension.scale.index("critical")
    assert {c.area for c in changes} == {
        WARD,
        area_key("locality", "Bradford East"),
        area_key("district", "Bradford"),
    }


def test_a_few_posts_in_a_quiet_place_are_a_small_rise(config: SignalsConfig) -> None:
    """Shrinkage: with no history the baseline is the prior, and the pseudocount keeps three
    posts over a near-zero baseline from reading as a tenfold rise."""
    tracker = TensionTracker(config.tension)
    at = T0 + timedelta(days=3, hours=14)
    _flagged(tracker, at, 3, authors=3)
    t = at + minutes(40)
    tracker.advance(t)
    m = tracker.measures(WARD, t)
    assert m.expected < 0.5  # the prior for three hours
    naive = m.weighted / m.expected  # what an unshrunk ratio would call this
    assert naive > 9
    assert m.rise < naive / 4
    assert tracker.level(WARD) == 0


def test_baseline_follows_the_weekly_rhythm(config: SignalsConfig) -> None:
    """Three Saturdays of match-day banter at 15:00-18:00 make the fourth Saturday's the same
    volume normal; the same volume on a Tuesday afternoon is a rise."""
    manningham = area_key("ward", "Manningham")
    saturday = T0 + timedelta(days=5, hours=15)
    tracker = TensionTracker(config.tension, observed_since=T0)
    for week in range(3):
        start = saturday + timedelta(weeks=week)
        _flagged(
            tracker, start, 24, authors=12, ward="Manningham", spread=timedelta(hours=3), tag="m"
        )
        tracker.advance(start + timedelta(hours=8))
    fourth = saturday + timedelta(weeks=3)
    _flagged(tracker, fourth, 24, authors=12, ward="Manningham", spread=timedelta(hours=3))
    end = fourth + timedelta(hours=3)
    tracker.advance(end)
    on_saturday = tracker.measures(manningham, end)
    assert on_saturday.expected > 10
    assert level_for(config.tension.scale, on_saturday) == 0

    tuesday = TensionTracker(config.tension, observed_since=T0)
    tuesday.areas = tracker.areas  # the same history
    tuesday.areas[manningham].events.clear()
    start = T0 + timedelta(weeks=3, days=1, hours=15)
    _flagged(tuesday, start, 24, authors=12, ward="Manningham", spread=timedelta(hours=3))
    m = tuesday.measures(manningham, start + timedelta(hours=3))
    assert m.expected < on_saturday.expected / 3
    assert level_for(config.tension.scale, m) >= 2


def _m(at: datetime, weighted: float, authors: int, rise: float) -> Measures:
    return Measures(at, 180, 100, int(weighted), weighted, authors, 0.5, rise, rule_authors=authors)


def test_hysteresis_raises_at_once_and_lowers_only_after_the_cool_down(
    config: SignalsConfig,
) -> None:
    tc = config.tension
    high = tc.scale.index("high")
    state = LevelState()
    t = T0
    state, change = step(state, _m(t, 12, 8, 6), tc, WARD)
    assert change is not None and state.level == high
    # Under high's thresholds but over half of them: stays high.
    state, change = step(state, _m(t + minutes(5), 8, 5, 3.5), tc, WARD)
    assert change is None and state.level == high and state.below_since is None
    # Under half: the cool-down starts, the level holds.
    state, change = step(state, _m(t + minutes(10), 2, 2, 1.2), tc, WARD)
    assert change is None and state.below_since == t + minutes(10)
    state, change = step(state, _m(t + minutes(40), 2, 2, 1.2), tc, WARD)
    assert change is None and state.level == high
    # A rebound over half resets the cool-down.
    state, change = step(state, _m(t + minutes(45), 6, 4, 3), tc, WARD)
    assert state.below_since is None and state.level == high
    state, change = step(state, _m(t + minutes(50), 1, 1, 1.0), tc, WARD)
    state, change = step(state, _m(t + minutes(105), 1, 1, 1.0), tc, WARD)
    assert change is None
    state, change = step(state, _m(t + minutes(110), 1, 1, 1.0), tc, WARD)
    assert change is not None and change.to_name == "normal" and state.level == 0


def test_measures_hovering_at_a_threshold_do_not_flap(config: SignalsConfig) -> None:
    tc = config.tension
    state = LevelState()
    changes = []
    for i in range(48):
        weighted = 10.5 if i % 2 else 9.0  # high needs 10
        state, change = step(state, _m(T0 + minutes(5 * i), weighted, 7, 5), tc, WARD)
        if change:
            changes.append(change.to_name)
    assert changes == ["elevated", "high"]  # up once, and it stays there


def test_a_change_records_why(config: SignalsConfig) -> None:
    tracker = TensionTracker(config.tension)
    changes = _flagged(tracker, T0 + timedelta(hours=10), 12, authors=8)
    changes = [c for c in changes + tracker.advance(T0 + timedelta(hours=11)) if c.area == WARD]
    reason = changes[-1].reason
    m = changes[-1].measures
    assert f"{m.flagged} flagged" in reason and f"{m.authors} distinct authors" in reason
    assert f"baseline {m.expected:.2f}" in reason and f"rise ×{m.rise:.1f}" in reason
    assert "kind=threat (" in reason
    assert m.top_labels[0][0] == "kind=threat"


def test_the_scale_is_configurable() -> None:
    settings = Settings(
        signals_levels="calm,watch,concern,serious,severe",
        signals_level_rise="1.5,2,4,8",
        signals_level_weighted="2,4,10,25",
        signals_level_authors="2,3,6,12",
        signals_alert_level="serious",
    )
    cfg = SignalsConfig.from_settings(settings).tension
    assert cfg.alert_level == 3
    assert [cfg.scale.severity(i) for i in range(5)] == [
        "low",
        "low",
        "medium",
        "high",
        "critical",
    ]
    m = Measures(T0, 180, 10, 3, 3.0, 2, 0.2, 1.6)
    assert cfg.scale.names[level_for(cfg.scale, m)] == "watch"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"signals_level_rise": "2,4"}, "signals_level_rise: needs 3 values"),
        ({"signals_level_weighted": "10,4,25"}, "must not decrease"),
        ({"signals_alert_level": "severe"}, "not on the scale"),
        ({"signals_kind_weights": "threat"}, "signals_kind_weights"),
        ({"signals_levels": "only"}, "at least two levels"),
        ({"signals_down_factor": 1.5}, "signals_down_factor"),
    ],
)
def test_a_bad_scale_is_refused_with_the_setting_named(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        SignalsConfig.from_settings(replace(Settings(), **overrides))  # type: ignore[arg-type]


class _TickingEveryMinute(TensionTracker):
    """The tracker without its skip over idle ticks: the reference it must agree with."""

    def _idle(self) -> bool:
        return False


def _counting_evaluations(tracker: TensionTracker) -> list[datetime]:
    ticks: list[datetime] = []
    evaluate = tracker.evaluate

    def counted(t: datetime) -> list[LevelChange]:
        ticks.append(t)
        return evaluate(t)

    tracker.evaluate = counted  # type: ignore[method-assign]
    return ticks


def _two_bursts(tracker: TensionTracker, first: datetime, second: datetime) -> list[LevelChange]:
    changes = _flagged(tracker, first, 30, authors=15, weight=1.5, tag="a")
    changes += _flagged(tracker, second, 30, authors=15, weight=1.5, tag="b")
    return changes + tracker.advance(second + timedelta(hours=1))


def test_idle_ticks_are_skipped_with_the_same_levels_as_ticking_each_minute(
    config: SignalsConfig,
) -> None:
    first, second = T0 + timedelta(hours=10), T0 + timedelta(days=3, hours=10)
    reference = _two_bursts(_TickingEveryMinute(config.tension), first, second)
    skipping = TensionTracker(config.tension)
    ticks = _counting_evaluations(skipping)
    assert _two_bursts(skipping, first, second) == reference
    ward = [(c.at.day, c.rising) for c in reference if c.area == WARD]
    assert (2, True) in ward and (2, False) in ward and (5, True) in ward  # up, cooled, up
    assert len(ticks) < 3 * 24 * 60 / 4


def test_a_post_dated_years_before_the_next_is_not_a_tick_for_every_minute_between(
    config: SignalsConfig,
) -> None:
    # Ingest accepts posts from 2000-01-01 on: one such post first, then today's, made the
    # tracker evaluate every minute of the 26 years between (14 million ticks, 80 s of a
    # blocked event loop for a 26-post import).
    tracker = TensionTracker(config.tension)
    ticks = _counting_evaluations(tracker)
    changes = _two_bursts(tracker, datetime(2000, 1, 1, 9, tzinfo=T0.tzinfo), T0)
    assert len(ticks) < 2000  # two bursts, each raising and cooling a level over hours
    raised = [c for c in changes if c.area == WARD and c.rising]
    assert sorted({c.at.year for c in raised}) == [2000, T0.year]
