"""The when and where of a call to gather, from the calls' own words and place matches."""

from __future__ import annotations

from monitor.incidents.gathering import clock_time, day_named, extract
from tests.incidents.helpers import T0, landmark, post


def test_clock_times_in_the_forms_people_write() -> None:
    assert clock_time("meet at 7pm") == "19:00"
    assert clock_time("meet at 7.30 pm sharp") == "19:30"
    assert clock_time("19:00 at the square") == "19:00"
    assert clock_time("12am") == "00:00"
    assert clock_time("by noon") == "12:00"
    assert clock_time("there were 7 of us") is None


def test_days_named_or_relative_to_the_post() -> None:
    # T0 is Thursday 5 November 2026, 19:00 UTC (19:00 in London)
    assert day_named("Friday, be there", T0) == "Friday"
    assert day_named("tomorrow night", T0) == "Friday"
    assert day_named("tonight at the square", T0) == "Thursday"
    assert day_named("sat morning", T0) == "Saturday"
    assert day_named("no day here", T0) is None


def test_the_most_named_place_and_day_time_across_the_calls() -> None:
    square = (landmark("Centenary Square", "City"),)
    calls = [
        post("c1", 0, "a1", square, "Fictional: everyone meet at Centenary Square at 7pm tomorrow"),
        post("c2", 5, "a2", square, "Fictional: Centenary Square, 7pm Friday. Bring everyone"),
        post("c3", 9, "a3", square, "Fictional: see you there at 7pm"),
        post("c4", 11, "a4", (), "Fictional: meet at the park on Sunday 3pm"),
    ]
    found = extract(calls)
    assert found is not None
    assert found.text == "Centenary Square, Friday 19:00"
    assert found.posts == 4


def test_no_calls_no_gathering() -> None:
    assert extract([]) is None
    assert extract([post("x", 0, "a", (), "Fictional: we should all do something")]) is None
