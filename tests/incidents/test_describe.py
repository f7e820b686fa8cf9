"""What a person sees of a story: the headline from its evidence, places without 'unplaced',
the precision gate, and responses that never raise its level."""

from __future__ import annotations

from datetime import timedelta

from monitor.incidents.config import IncidentsConfig
from monitor.incidents.describe import summarise
from monitor.incidents.grouping import group
from tests.incidents.helpers import LOCALITY, alert, crowd, index, ward

CFG = IncidentsConfig()
LH = (ward("Little Horton"),)


def describe(alerts, posts):  # type: ignore[no-untyped-def]
    (story,) = group(alerts, posts, timedelta(hours=6), LOCALITY)
    return summarise(story, alerts, posts, CFG, ward_localities=LOCALITY)


def test_an_episode_is_headed_by_what_happened_and_where() -> None:
    angry = crowd("a", 6, 0, 10, LH, "Fictional: the car fire last night, whoever did it")
    unplaced = crowd("u", 3, 20, 10, (), "Fictional: the fire was no accident")
    posts = index(angry, unplaced)
    s = describe(
        [
            alert(1, "tension", "Little Horton", angry, topic="incident_anger"),
            alert(2, "tension", "unplaced", unplaced, topic="incident_blame"),
        ],
        posts,
    )
    assert s.headline == "Tension after the fire in Little Horton"
    assert s.wards == ("Little Horton",) and s.localities == ("Bradford East",)
    assert s.post_count == 9 and s.author_count == 9 and s.gate is None


def test_the_council_post_a_rule_also_flagged_does_not_raise_the_level() -> None:
    angry = crowd("a", 6, 0, 10, LH, "Fictional: so angry about it")
    council = crowd("c", 1, 30, 10, LH, "Fictional: please stay calm", official=True)
    posts = index(angry, council)
    s = describe(
        [
            alert(1, "tension", "Little Horton", angry, topic="community_anger"),
            alert(2, "threat", "Little Horton", council, topic="vigilante", severity="critical"),
        ],
        posts,
    )
    assert s.level == "medium"  # not the council post's "critical"
    assert s.post_count == 6 and s.official_count == 1


def test_a_handful_of_posts_is_held_with_the_reason() -> None:
    few = crowd("f", 3, 0, 10, LH, "Fictional: angry")
    assert describe([alert(1, "tension", "Little Horton", few)], index(few)).gate == (
        "3 posts (needs 5)"
    )
    flagged = crowd("h", 6, 0, 10, LH, "Fictional: hostile")
    held = describe(
        [alert(1, "hostility", "Little Horton", flagged, topic="hostile_content")], index(flagged)
    )
    assert held.gate == "classifier alone on 6 posts (needs 10)"
    nowhere = crowd("n", 8, 0, 10, (), "Fictional: angry")
    assert describe([alert(1, "tension", "unplaced", nowhere)], index(nowhere)).gate == (
        "0 named places (needs 1)"
    )
    denials = crowd("d", 8, 0, 10, LH, "Fictional: nonsense", stance="deny")
    assert describe([alert(1, "rumour", "Little Horton", denials)], index(denials)).gate == (
        "only responses (denials, calming, counter messages): nothing to review"
    )
