"""The lifecycle planner when a regrouping moves alerts between stories: each incident ends
with one fate, carried on or merged, never both (all posts fictional)."""

from __future__ import annotations

from datetime import timedelta

from monitor.incidents import describe, lifecycle
from monitor.incidents.config import IncidentsConfig
from monitor.incidents.model import MERGED, OPEN, AlertFacts, Story
from tests.incidents.helpers import T0, alert, crowd, index, ward

CFG = IncidentsConfig()


def _existing(incident: int, *held: AlertFacts) -> lifecycle.Existing:
    return lifecycle.Existing(
        id=incident,
        status=OPEN,
        first_seen=min(a.first_seen for a in held),
        last_seen=max(a.last_seen for a in held),
        level="medium",
        alert_ids=frozenset(a.id for a in held),
    )


def test_an_incident_carrying_a_story_is_not_also_merged_into_another() -> None:
    """One claim told in Manningham and Heaton, as two claim clusters (r3, r4), each opened
    its incident. A regrouping then puts the Heaton hotel rule's alert (held by incident 2,
    most of its posts in r3) with r3's story, while r4's own alert stays incident 2's story.
    Incident 2 still carries a story: it goes on, and is not marked merged into incident 1
    (which left it open in the queue with `merged_into` set and a 'merged' history)."""
    manningham = crowd("m", 8, 0, 5, (ward("Manningham"),), "Fictional: hotel claim")
    heaton = crowd("h", 8, 10, 5, (ward("Heaton"),), "Fictional: hotel claim, retold")
    posts = index(manningham, heaton)
    r3 = alert(1, "rumour_spreading", "Manningham", manningham, cluster="r3", incident=1)
    rule = alert(2, "rumour", "Heaton", heaton[:5] + manningham[:6], topic="hotel", incident=2)
    r4 = alert(3, "rumour_spreading", "Heaton", heaton, cluster="r4", incident=2)
    alerts = {a.id: a for a in (r3, rule, r4)}
    stories = [
        Story((1, 2), "rumour", 3, ("same rumour cluster r3",)),
        Story((3,), "rumour", 4, ("same rumour cluster r4",)),
    ]
    described = [
        (s, describe.summarise(s, list(alerts.values()), posts, CFG), [p.at for p in heaton])
        for s in stories
    ]
    existing = {1: _existing(1, r3), 2: _existing(2, rule, r4)}
    now = T0 + timedelta(hours=2)

    plan = lifecycle.plan(described, alerts, existing, now, CFG)

    carried = [c.incident for c in plan.changes]
    absorbed = [i for c in plan.changes for i in c.absorbed]
    assert carried == [1, 2]
    assert absorbed == []  # incident 2 carries r4: not merged as well
    assert not set(carried) & set(absorbed)
    assert all(c.status != MERGED for c in plan.changes)


def test_two_stories_never_both_absorb_one_incident() -> None:
    """Incident 3's alerts went to two stories that each carry on an older incident: it is
    merged into one of them, once."""
    a = crowd("a", 6, 0, 5, (ward("Toller"),), "Fictional: school claim")
    b = crowd("b", 6, 0, 5, (ward("Heaton"),), "Fictional: hotel claim")
    posts = index(a, b)
    alerts = {
        1: alert(1, "rumour", "Toller", a, topic="school", incident=1),
        2: alert(2, "rumour", "Heaton", b, topic="hotel", incident=2),
        3: alert(3, "rumour", "Toller", a[:3], topic="school", incident=3),
        4: alert(4, "rumour", "Heaton", b[:3], topic="hotel", incident=3),
    }
    stories = [Story((1, 3), "rumour"), Story((2, 4), "rumour")]
    described = [
        (s, describe.summarise(s, list(alerts.values()), posts, CFG), [p.at for p in a])
        for s in stories
    ]
    existing = {
        1: _existing(1, alerts[1]),
        2: _existing(2, alerts[2]),
        3: _existing(3, alerts[3], alerts[4]),
    }
    plan = lifecycle.plan(described, alerts, existing, T0 + timedelta(hours=1), CFG)
    absorbed = [i for c in plan.changes for i in c.absorbed]
    assert absorbed == [3]
