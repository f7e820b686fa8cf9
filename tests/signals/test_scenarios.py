"""Generated weeks with known ground truth through the signals engine (keyword classifier
scores and its hashed embeddings, simulated rule hits, injected clock: post times)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from monitor.evaluation.evaluate import replay, score
from monitor.evaluation.events import Stream, incidents_of, items_of, story_of
from monitor.evaluation.simulate import ScenarioSpec, generate
from monitor.labels import alert_key
from monitor.signals.config import SignalsConfig
from monitor.signals.levels import LevelChange

# The figures these tests hold the engine to, with the shipped defaults.
RUMOUR_SPREADING_WITHIN_MIN = (
    210  # its rate (doubling every 75 min from 2/h) needs 150 to reach 8/h
)
TENSION_ALERT_WITHIN_MIN = 60
TENSION_LOWERED_WITHIN_MIN = 6 * 60  # after the episode ends (window 3 h + cool-down 1 h)


# Spreading alerts each week's rumour raises: in week 11 two halves of the claim both spread
# (10:46 and 12:33) before their words showed they were one claim and they merged (claims
# are kept apart until then), so two alerts, which the incidents put in one story. In week 7
# too since rule-matched tellings spread on 3 posts (signals_spread_early_rule_posts): a half
# spreads before it merges; still one item.
RUMOUR_ALERTS = {7: 2, 11: 2}


@pytest.mark.parametrize("seed", [7, 11])
def test_an_episode_week_is_detected_and_nothing_else_is(config: SignalsConfig, seed: int) -> None:
    items, truth = generate(ScenarioSpec(seed=seed))
    replayed = replay(items, config, end=truth.end)
    result = score(replayed, truth, config)
    # The rumour: one cluster, holding most of its claim posts (with hashed vectors, questions
    # that are not claim-like need 0.6 similarity and some stay out), in time.
    assert result.rumour_clusters == 1, result
    assert result.rumour_coverage >= 0.85, result
    assert result.rumour_alerts == RUMOUR_ALERTS[seed]
    # ... and exactly one item for it: its alerts' clusters merged, so one incident.
    stream = Stream("week", items, truth.stories, truth.start, truth.end, truth.waves)
    found = incidents_of(items_of(replayed), stream, replayed)
    rumour = next(s for s in truth.stories if s.kind == "rumour")
    assert [story_of(i, truth.stories) for i in found].count(rumour) == 1
    assert result.rumour_delay_min is not None
    assert 0 < result.rumour_delay_min <= RUMOUR_SPREADING_WITHIN_MIN
    # The tension episode: the right ward goes up fast, and comes back down afterwards.
    assert result.tension_delay_min is not None
    assert result.tension_delay_min <= TENSION_ALERT_WITHIN_MIN
    assert result.tension_peak in ("high", "critical")
    assert result.tension_lowered_after_end_min is not None
    assert result.tension_lowered_after_end_min <= TENSION_LOWERED_WITHIN_MIN
    assert result.false_alarms == 0, result.false_alarm_keys


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 5])
def test_calm_weeks_raise_no_alerts(config: SignalsConfig, seed: int) -> None:
    """Two weeks of ordinary posts with half again the usual background noise: offensive
    banter, rules firing on it, one-off claims, a Saturday match-day crowd."""
    spec = ScenarioSpec(seed=seed, weeks=2, rumour_at=None, tension_at=None, noise=1.5)
    items, truth = generate(spec)
    result = replay(items, config, end=truth.end)
    assert result.candidates == []
    assert score(result, truth, config).false_alarms_per_week == 0


def test_levels_do_not_depend_on_batch_sizes(config: SignalsConfig) -> None:
    spec = ScenarioSpec(seed=13, weeks=0.5, rumour_at=None, tension_at=timedelta(days=2, hours=20))
    items, truth = generate(spec)

    def run(batch: int) -> list[tuple[str, str, str]]:
        r = replay(items, config, batch_size=batch, end=truth.end)
        return [(c.area, c.at.isoformat(), c.to_name) for c in r.level_changes]

    small, large = run(7), run(500)
    assert small == large and small  # the same changes, at the same ticks


def test_the_tension_alert_names_the_ward_not_its_locality_or_district(
    config: SignalsConfig,
) -> None:
    spec = ScenarioSpec(seed=21, weeks=0.5, rumour_at=None, tension_at=timedelta(days=2, hours=20))
    items, truth = generate(spec)
    result = replay(items, config, end=truth.end)
    areas = {(c.labels["area"], c.labels["area_kind"]) for c in result.candidates}
    assert areas == {("Little Horton", "ward")}
    # The locality and district did rise with it: recorded as changes, not as more alerts.
    assert {c.area for c in result.level_changes if c.to_level >= 2} >= {
        "ward:Little Horton",
        "locality:Bradford East",
    }
    tension = [c for c in result.candidates if c.labels["kind"] == "rising_tension"]
    assert tension[0].evidence and all(e.startswith("sim:") for e in tension[0].evidence)


def _level_at(changes: list[LevelChange], area: str, t: datetime) -> int:
    """An area's level just after its changes up to `t` (0 before any)."""
    level = 0
    for change in changes:
        if change.area == area and change.at <= t:
            level = change.to_level
    return level


@pytest.mark.parametrize("seed", [1, 2])
def test_alerts_do_not_depend_on_batch_sizes(config: SignalsConfig, seed: int) -> None:
    """A City episode: the ward alerts and calms down again inside one 500-post batch. Its
    locality (Bradford West) and district rise with it, and their alerts stay held back by the
    ward's alert at the time they rise, whatever the batch size (the demo imports in 500s)."""
    spec = ScenarioSpec(
        seed=seed,
        weeks=0.5,
        rumour_at=None,
        tension_at=timedelta(days=2, hours=20),
        tension_ward="City",
    )
    items, truth = generate(spec)
    alert_level = config.tension.alert_level

    def run(batch: int) -> set[tuple[str, str, str]]:
        r = replay(items, config, batch_size=batch, end=truth.end)
        assert r.engine is not None
        # The locality did reach the alert level, so holding its alert back was needed.
        assert any(
            c.area == "locality:Bradford West" and c.to_level >= alert_level
            for c in r.level_changes
        )
        # No locality or district alert while one of its wards is alerting at that time.
        for c in r.candidates:
            if c.labels["kind"] != "rising_tension" or c.labels["area_kind"] == "ward":
                continue
            area = f"{c.labels['area_kind']}:{c.labels['area']}"
            wards = r.engine.tension.parents.get(area, set())
            levels = {w: _level_at(r.level_changes, w, c.at) for w in wards}
            assert max(levels.values(), default=0) < alert_level, (c.key, levels)
        return {(c.key, c.at.isoformat(), c.labels.get("level", "")) for c in r.candidates}

    one, small, large = run(1), run(64), run(500)
    assert one == small == large
    city = alert_key({"kind": "rising_tension", "area": "City", "area_kind": "ward"})
    assert {key for key, _, _ in one} == {city}
