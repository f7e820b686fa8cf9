"""Which alerts tell one story: rumours by claim cluster, episodes by place and time."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

from monitor.incidents.grouping import group
from monitor.incidents.model import EPISODE, RUMOUR
from tests.incidents.helpers import LOCALITY, alert, crowd, index, landmark, post, ward

GAP = timedelta(hours=6)
WARDS = ("Toller", "Manningham", "Heaton", "City", "Little Horton", "Wibsey")


def rumour_alerts() -> tuple[list, dict]:  # type: ignore[type-arg]
    """One fictional claim spreading across six wards: per ward, per topic alerts (as the
    rules open them) and the cluster's spreading alert."""
    alerts, posts = [], {}
    n = 1
    for i, name in enumerate(WARDS):
        for topic in ("unverified_claim", "housing_allocation"):
            batch = crowd(
                f"r{name[:3]}{topic[:3]}",
                4,
                i * 60,
                5,
                (ward(name),),
                "Fictional: the old mill is being turned into housing, they say",
                cluster=7,
            )
            posts |= index(batch)
            alerts.append(alert(n, "rumour", name, batch, topic=topic))
            n += 1
    spread = list(posts.values())[:8]
    alerts.append(alert(n, "rumour_spreading", "Toller", spread, cluster="r7"))
    return alerts, posts


def episode_alerts() -> tuple[list, dict]:  # type: ignore[type-arg]
    lh = (ward("Little Horton"),)
    anger = crowd("anger", 8, 0, 10, lh, "Fictional: so angry about the fire")
    threat = crowd("threat", 4, 30, 10, lh, "Fictional: find them before the police do")
    unplaced = crowd("blame", 5, 40, 15, (), "Fictional: whoever did this will pay")
    call = crowd(
        "call",
        6,
        120,
        5,
        (landmark("Centenary Square", "City"), ward("Little Horton")),
        "Fictional: meet at Centenary Square 7pm tomorrow, show them West Bowling won't take it",
    )
    posts = index(anger, threat, unplaced, call)
    alerts = [
        alert(101, "tension", "Little Horton", anger, topic="incident_anger"),
        alert(102, "threat", "Little Horton", threat, topic="vigilante", severity="high"),
        alert(103, "tension", "unplaced", unplaced, topic="incident_blame"),
        alert(104, "call_to_gather", "City", call, topic="gathering", severity="high"),
        alert(105, "rising_tension", "Little Horton", [], area_kind="ward", severity="critical"),
    ]
    return alerts, posts


def partition(stories) -> set[frozenset[int]]:  # type: ignore[no-untyped-def]
    return {frozenset(s.alert_ids) for s in stories}


def test_a_rumour_across_six_wards_is_one_story() -> None:
    alerts, posts = rumour_alerts()
    stories = group(alerts, posts, GAP, LOCALITY)
    assert len(stories) == 1
    assert stories[0].family == RUMOUR and stories[0].cluster == 7
    assert "same rumour cluster r7" in stories[0].links


def test_two_halves_of_a_claim_that_spread_before_they_merged_are_one_story() -> None:
    toller = crowd("a", 8, 0, 5, (ward("Toller"),), "Fictional: the mill is being sold", cluster=9)
    heaton = crowd("b", 8, 90, 5, (ward("Heaton"),), "Fictional: they sold the mill", cluster=9)
    posts = index(toller, heaton)
    alerts = [
        alert(1, "rumour_spreading", "Toller", toller, cluster="r9"),
        alert(2, "rumour_spreading", "Heaton", heaton, cluster="r7"),  # r7 merged into r9 later
    ]
    assert len(group(alerts, posts, GAP, LOCALITY)) == 2  # nothing says they are one claim
    (story,) = group(alerts, posts, GAP, LOCALITY, {7: 9})
    assert story.cluster == 9 and story.alert_ids == (1, 2)


def test_an_episode_gathers_its_threats_calls_unplaced_posts_and_level() -> None:
    alerts, posts = episode_alerts()
    stories = group(alerts, posts, GAP, LOCALITY)
    assert partition(stories) == {frozenset({101, 102, 103, 104, 105})}
    assert stories[0].family == EPISODE
    reasons = " | ".join(stories[0].links)
    assert "same place (Little Horton)" in reasons
    assert "its posts name Little Horton" in reasons  # the call to gather in the centre
    assert "no place of its own" in reasons


def test_other_places_and_later_days_are_other_stories() -> None:
    alerts, posts = episode_alerts()
    wibsey = crowd("wib", 6, 20, 10, (ward("Wibsey"),), "Fictional: hostile post")
    later = crowd("later", 6, 3 * 24 * 60, 10, (ward("Little Horton"),), "Fictional: angry")
    posts |= index(wibsey, later)
    alerts += [
        alert(201, "hostility", "Wibsey", wibsey, topic="exclusion"),
        alert(202, "tension", "Little Horton", later, topic="community_anger"),
    ]
    stories = group(alerts, posts, GAP, LOCALITY)
    assert partition(stories) == {
        frozenset({101, 102, 103, 104, 105}),
        frozenset({201}),
        frozenset({202}),
    }


def test_an_unplaced_alert_mostly_outside_the_episode_stays_apart() -> None:
    alerts, posts = episode_alerts()
    spread = crowd("spread", 6, -3 * 24 * 60, 12 * 60, (), "Fictional: hostile post")
    posts |= index(spread)
    alerts.append(alert(301, "hostility", "unplaced", spread, topic="hostile_content"))
    stories = group(alerts, posts, GAP, LOCALITY)
    assert frozenset({301}) in partition(stories)


def test_a_wards_episode_does_not_absorb_a_locality_rule_alert_or_its_neighbours() -> None:
    """A ward joins its locality only through the locality's own tension level."""
    city = crowd("city", 6, 0, 10, (ward("City"),), "Fictional: angry")
    manningham = crowd("man", 6, 0, 10, (ward("Manningham"),), "Fictional: angry")
    posts = index(city, manningham)
    alerts = [
        alert(1, "tension", "City", city, topic="community_anger"),
        alert(2, "tension", "Manningham", manningham, topic="community_anger"),
        alert(3, "rising_tension", "Bradford West", [], area_kind="locality", severity="high"),
    ]
    stories = group(alerts, posts, GAP, LOCALITY)
    assert partition(stories) == {frozenset({1, 2, 3})}
    alerts = alerts[:2]
    assert partition(group(alerts, posts, GAP, LOCALITY)) == {frozenset({1}), frozenset({2})}


def test_grouping_does_not_depend_on_the_order_alerts_arrive_in() -> None:
    alerts, posts = episode_alerts()
    more, more_posts = rumour_alerts()
    alerts += more
    posts |= more_posts
    expected = partition(group(alerts, posts, GAP, LOCALITY))
    rng = random.Random(4)
    for _ in range(10):
        shuffled = alerts[:]
        rng.shuffle(shuffled)
        assert partition(group(shuffled, posts, GAP, LOCALITY)) == expected


def test_an_analysts_split_is_kept_apart() -> None:
    alerts, posts = episode_alerts()
    pinned = [replace(a, incident=9 if a.id == 104 else 8, pinned=True) for a in alerts]
    stories = group(pinned, posts, GAP, LOCALITY)
    assert partition(stories) == {frozenset({101, 102, 103, 105}), frozenset({104})}


def test_a_stray_classifier_flag_days_earlier_does_not_join_or_stretch_the_episode() -> None:
    alerts, posts = episode_alerts()
    stray = [
        post("fox1", -3 * 24 * 60, "fox-a", (ward("Little Horton"),), "Fictional: foxes again"),
        post("fox2", 60, "fox-b", (ward("Little Horton"),), "Fictional: so angry"),
    ]
    during = crowd("hostile", 5, 20, 20, (ward("Little Horton"),), "Fictional: hostile post")
    posts |= index(stray, during)
    alerts += [
        alert(401, "hostility", "Little Horton", stray, topic="hostile_content"),
        alert(402, "hostility", "Little Horton", during, topic="hostile_content"),
    ]
    stories = group(alerts, posts, GAP, LOCALITY)
    assert frozenset({401}) in partition(stories)  # half its posts are days away
    episode = next(s for s in stories if 101 in s.alert_ids)
    assert 402 in episode.alert_ids  # flagged during the episode, in its ward


def test_a_call_naming_no_gazetteer_place_and_the_classifier_flags_on_it_are_one_story() -> None:
    """Scenario: a call to gather on a street the gazetteer lacks, passed on by many; the
    classifier reads some of the same calls as hostile. Both alerts have no place: they were
    two incidents of one story. A classifier alert sharing a post but mostly days away stays
    apart."""
    text = "Fictional: meet outside the mosque on Carlisle Road at 7pm tonight, bring your mates"
    calls = crowd("call", 10, 0, 5, (), text)
    flagged = calls[6:] + crowd("more", 2, 60, 5, (), text)
    stray = [calls[0], *crowd("old", 3, -3 * 24 * 60, 60, (), "Fictional: hostile post")]
    posts = index(calls, flagged, stray)
    alerts = [
        alert(1, "call_to_gather", "unplaced", calls, topic="gathering", severity="high"),
        alert(2, "hostility", "unplaced", flagged, topic="hostile_content"),
        alert(3, "hostility", "unplaced", stray, topic="hostile_content"),
    ]
    stories = group(alerts, posts, GAP, LOCALITY)
    assert partition(stories) == {frozenset({1, 2}), frozenset({3})}
    assert all(s.family == EPISODE for s in stories)
