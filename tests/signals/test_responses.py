"""Solidarity hashtags and phrases are responses; hostile slogans that share their words are not.

Every post, place and hashtag here is fictional.
"""

from __future__ import annotations

import pytest

from monitor.classify.fairness import load_suite
from monitor.evaluation.events import run
from monitor.signals.config import SignalsConfig
from monitor.signals.responses import response_kind
from monitor.signals.tension import area_key
from tests.signals.conftest import T0, item, minutes

RESPONSES = [
    ("#StandWithThornton", "solidarity"),
    ("#standwiththornton", "solidarity"),
    ("#Stand_With_Thornton", "solidarity"),
    ("#BradfordStandsTogether", "solidarity"),
    ("#WeStandTogether", "solidarity"),
    ("Candles lit on the green tonight #ShipleyTogether", "solidarity"),
    ("#WeAreAllKeighley", "solidarity"),
    ("#RefugeesWelcome in Girlington", "solidarity"),
    ("#YouAreNotAlone", "solidarity"),
    ("Solidarity with the family facing deportation", "solidarity"),
    ("People shouting send them back outside the hotel. We stand with you", "solidarity"),
    ("Solidarity with our Muslim neighbours in Manningham tonight", "solidarity"),
    ("Our neighbours are welcome here. Toller is your home too.", "solidarity"),
    ('"Send them back" sprayed on the mosque wall. We stand with our neighbours.', "solidarity"),
    ("#LoveNotHate", "counter_speech"),
    ("#NotInOurName", "counter_speech"),
    ("#UnitedAgainstHate", "counter_speech"),
    ("#StandUpToRacism in Batley this Saturday", "counter_speech"),
    ("#NoPlaceForHate", "counter_speech"),
]
NOT_RESPONSES = [
    "#StandUpToThem send them back",
    "#StopTheBoats",
    "#EnoughIsEnough",
    "stand with us against the invaders",
    "Stand with me outside the hotel on Saturday",
    "#StandWithUs",
    "#StandTogether #StopTheBoats",
    "#DeportThemAll #StandTogether",
    "#SendThemBackNow #WeStandTogether",
    "British people must stand together against the invasion",
    "We stand together. Say no to the invasion",
    "#NotWelcome",
    "they are not welcome here",
    "#TakeBackOurStreets",
    "#LeedsUnited",  # #<Place>United names football clubs, so it is no solidarity tag
    "#BradfordDistrict",
]


@pytest.mark.parametrize(("text", "kind"), RESPONSES)
def test_solidarity_hashtags_and_phrases_are_responses(text: str, kind: str) -> None:
    assert response_kind(text) == kind


@pytest.mark.parametrize("text", NOT_RESPONSES)
def test_hostile_slogans_sharing_solidaritys_words_are_not_responses(text: str) -> None:
    assert response_kind(text) is None


def test_the_fairness_suites_hashtag_waves_are_responses_and_its_hostile_posts_are_not() -> None:
    """The labelled identity suite (fictional, written apart from these markers): every
    hashtag-wave sentence reads as a response, no hostile or neutral one does."""
    cases = load_suite()
    assert all(response_kind(c.text) for c in cases if c.kind == "hashtag")
    wrong = [c.text for c in cases if c.kind in {"hostile", "neutral"} and response_kind(c.text)]
    assert wrong == []


def test_a_hashtag_wave_misread_as_hostile_raises_no_level(config: SignalsConfig) -> None:
    """Two hours of a solidarity hashtag wave from forty people, every post read as hostile
    by the classifier: the ward's level does not move and the posts are counted apart."""
    tags = ("#StandWithThornton", "#BradfordStandsTogether", "#WeAreAllThornton", "#LoveNotHate")
    items = [
        item(
            f"Thinking about last night {tags[i % len(tags)]}",
            T0 + minutes(i),
            author=f"author-{i % 40}",
            ward="Thornton",
            scores={"hostile": 0.8},
        )
        for i in range(120)
    ]
    end = T0 + minutes(120)
    result = run(items, config, end)
    ward = area_key("ward", "Thornton")
    assert not [c for c in result.level_changes if c.rising and c.area == ward]
    assert result.engine is not None
    measures = result.engine.tension.measures(ward, end)
    assert measures.responses > 100 and measures.weighted == 0
