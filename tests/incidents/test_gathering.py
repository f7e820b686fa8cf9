"""The when and where of a call to gather, from the calls' own words and place matches."""

from __future__ import annotations

from monitor.incidents.gathering import clock_time, day_named, extract, street_named
from tests.incidents.helpers import T0, alert, crowd, index, landmark, post
from tests.incidents.test_describe import describe


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


def test_a_street_the_gazetteer_lacks_is_read_as_the_calls_wrote_it() -> None:
    assert street_named("Meet outside the mosque on Carlisle Road at 7pm") == "Carlisle Road"
    assert street_named("Everyone outside the Carlisle Road mosque 7pm") == "Carlisle Road"
    assert street_named("Meet Carlisle Road 7pm") == "Carlisle Road"
    assert street_named("Pass it on. Tonight St Paul's Road, 8pm") == "St Paul's Road"
    assert street_named("meet at the park at 7pm") is None
    # A gazetteer place the calls name comes first.
    square = (landmark("Centenary Square", "City"),)
    calls = [
        post("c1", 0, "a1", square, "Fictional: Centenary Square 7pm, then Carlisle Road"),
        post("c2", 5, "a2", (), "Fictional: meet on Carlisle Road at 7pm"),
    ]
    found = extract(calls)
    assert found is not None and found.where == "Centenary Square"


def test_a_call_many_pass_on_naming_a_street_the_gazetteer_lacks_reaches_people() -> None:
    """Scenario: 'meet outside the mosque on Carlisle Road at 7pm tonight, bring your mates'
    passed on by many accounts, none naming a ward, was held for '0 named places' and never
    reached the police liaison. Its meeting point is a named place; a call naming none at
    all is still held."""
    text = "Fictional: meet outside the mosque on Carlisle Road at 7pm tonight, bring your mates"
    calls = crowd("c", 6, 0, 5, (), text)
    s = describe([alert(1, "call_to_gather", "unplaced", calls, severity="high")], index(calls))
    assert s.gate is None
    assert s.gathering is not None and s.gathering.where == "Carlisle Road"
    # the headline says where and when, what the police liaison acts on first
    assert s.headline == f"Threats and calls to gather: Carlisle Road, {s.gathering.when}"
    assert s.gathering.when and "19:00" in s.gathering.when
    nowhere = crowd("n", 6, 0, 5, (), "Fictional: everyone out at 7pm tonight, bring your mates")
    held = describe(
        [alert(1, "call_to_gather", "unplaced", nowhere, severity="high")], index(nowhere)
    )
    assert held.gate == "0 named places (needs 1)"
