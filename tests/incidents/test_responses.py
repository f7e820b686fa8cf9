"""Responses answer a story: the council's own counter message is recognised as such."""

from __future__ import annotations

from monitor.incidents.responses import is_counter_message, is_response, matches_counter, words
from tests.incidents.helpers import post

COUNTER = (
    "Fictional council statement: the old mill is not being used for housing and nobody has "
    "been moved down the housing list. Please check before you share."
)


def test_an_allowlisted_account_is_the_counter_message() -> None:
    official = post("o1", 0, "council", text="Fictional: please read our statement", official=True)
    assert is_counter_message(official, [])
    assert is_response(official, [])


def test_a_copy_or_share_of_a_recorded_counter_message_is_recognised() -> None:
    recorded = [words(COUNTER)]
    shared = post("s1", 0, "a1", text="RT " + COUNTER.replace("Please", "PLEASE"))
    quoted = post(
        "s2",
        0,
        "a2",
        text="Good to see this: the old mill is not being used for "
        "housing and nobody has been moved down the housing list",
    )
    assert is_counter_message(shared, recorded)
    assert is_counter_message(quoted, recorded)


def test_the_rumour_itself_is_not_mistaken_for_the_counter_message() -> None:
    recorded = [words(COUNTER)]
    rumour = post(
        "r1",
        0,
        "a1",
        text="Fictional: the old mill is being turned into housing "
        "for newcomers and locals are being moved off the list",
    )
    assert not matches_counter(rumour.text, recorded)
    assert not is_response(rumour, recorded)


def test_denials_and_rule_labelled_calming_are_responses() -> None:
    assert is_response(post("d1", 0, "a", text="Fictional: that's nonsense", stance="deny"))
    assert is_response(
        post("d2", 0, "a", text="Fictional: stay calm", kinds=frozenset({"calming"}))
    )
    assert not is_response(post("d3", 0, "a", text="Fictional: it's true", stance="support"))


def test_a_rumour_sharing_the_counter_messages_opening_words_is_still_the_rumour() -> None:
    recorded = [words("the old mill on Toller Lane is not being turned into housing, check first")]
    rumour = "the old mill on Toller Lane is being turned into flats for newcomers"
    assert not matches_counter(rumour, recorded)


def test_an_appeal_for_calm_is_a_response_by_the_same_wording_signals_use() -> None:
    """Signals keep such a post out of tension volume by its wording; the incident must not
    then count it as one more post telling the story."""
    calm = post("c1", 0, "a1", text="Fictional: please stay calm and let the police deal with it")
    assert is_response(calm, [])


def test_calm_words_on_a_call_to_gather_keep_it_evidence() -> None:
    gather = post(
        "g1",
        0,
        "a1",
        text="Fictional: stay calm lads, meet at 7 and show them",
        kinds=frozenset({"call_to_gather"}),
    )
    assert not is_response(gather, [])


def test_atrocity_denial_read_as_denying_the_story_stays_evidence() -> None:
    """A stance head reads "hoax" and "staged" as a denial of the story's claim, and a rule may
    label such a post calming; atrocity denial answers no story, so it stays one of its posts.
    A denial of a local rumour with the same words is still a response."""
    for pid, text in (
        ("a1", "Fictional: the Manchester Arena bombing was a hoax, crisis actors"),
        ("a2", "Fictional: Srebrenica never happened"),
        ("a3", "Fictional: the Christchurch shooting was staged"),
    ):
        assert not is_response(post(pid, 0, "a", text=text, stance="deny"))
        assert not is_response(post(pid, 0, "a", text=text, kinds=frozenset({"calming"})))
        assert not is_response(post(pid, 0, "a", text=text))
    rumour_denial = "Fictional: the Greyfield hotel story is a hoax"
    assert is_response(post("r1", 0, "a", text=rumour_denial, stance="deny"))
    assert is_response(post("r2", 0, "a", text=rumour_denial))
