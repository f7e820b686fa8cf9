"""Solidarity hashtags and phrases are responses; hostile slogans that share their words are not.

Every post, place and hashtag here is fictional.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pytest

from monitor.classify.fairness import load_suite
from monitor.evaluation.evaluate import Replay
from monitor.evaluation.events import run
from monitor.rules.loader import load_ruleset
from monitor.signals.config import SignalsConfig
from monitor.signals.levels import Measures
from monitor.signals.responses import denies_atrocity, response_kind
from monitor.signals.tension import area_key
from monitor.types import RuleHit
from tests.signals.conftest import T0, item, minutes

ROOT = Path(__file__).resolve().parents[2]

RESPONSES = [
    ("#StandWithThornton", "solidarity"),
    ("#StandWithUkraine", "solidarity"),  # a nation under attack is not the in-group
    ("#StandWithOurMuslimNeighbours", "solidarity"),
    ("#StandWithBritishMuslims", "solidarity"),
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
    # the hate a response rejects, quoted or reported, does not cancel it
    ("People calling refugees vermin is disgusting. We stand with you", "counter_speech"),
    ("Stop the boats is a racist slogan, reported the lot", "counter_speech"),
    ("'Invaders'? They're our neighbours. Solidarity with Manningham", "solidarity"),
    ("Stay calm everyone, the rumour about the hotel is not true", "calming"),
]
NOT_RESPONSES = [
    "#StandUpToThem send them back",
    "#StopTheBoats",
    "#EnoughIsEnough",
    "stand with us against the invaders",
    "Stand with me outside the hotel on Saturday",
    "#StandWithUs",
    # standing with an in-group is mobilisation's wording, not solidarity with a target
    "Something has to be done about them #StandWithBritain",
    "#StandWithEngland #StandWithOurKids",
    "#standwithourpeople",
    "#StandWithUK",
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
    # hate with a response's words added: calming, denial and solidarity words do not hide it
    "These vermin need to go back where they came from. Stay calm.",
    "Filthy invaders everywhere, not true what the council says #MakeSureItAddsUp",
    "It's not true that they're refugees, they're invaders",
    "Muslims are a disease on this country. Solidarity with the lads",
    "Get them out of Manningham. Thinking of everyone affected",
    "Disgusting vermin, reported them all, they should all be deported",
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
    result, measures = _wave_read_as_hostile(
        [f"Thinking about last night {tag}" for tag in tags], config
    )
    assert not [c for c in result.level_changes if c.rising and c.area == THORNTON]
    assert measures.responses > 100 and measures.weighted == 0


THORNTON = area_key("ward", "Thornton")


def _wave_read_as_hostile(texts: Sequence[str], config: SignalsConfig) -> tuple[Replay, Measures]:
    """120 posts in Thornton over two hours from 40 people, cycling through `texts`, each
    scored hostile by the classifier: the replay and Thornton's measures at its end."""
    items = [
        item(
            texts[i % len(texts)],
            T0 + minutes(i),
            author=f"author-{i % 40}",
            ward="Thornton",
            scores={"hostile": 0.8},
        )
        for i in range(120)
    ]
    end = T0 + minutes(120)
    result = run(items, config, end)
    assert result.engine is not None
    return result, result.engine.tension.measures(THORNTON, end)


# Atrocity denial reads like a rumour denial ("hoax", "never happened", "fake"), but it answers
# no story: it is hate, and must be weighed like any other post. All fictional posts; the
# events named are real because denial names them.
ATROCITY_DENIALS = [
    "the holocaust was a hoax",
    "The Holocaust is fake, stop spreading lies",
    "the holocaust is a lie, made up by them",
    "the so-called holocaust was exaggerated, no evidence",
    "There was no holocaust. Debunked",
    "no evidence the gas chambers existed",
    "the holocaust hoax has been debunked",
    "#HolocaustHoax stop spreading lies",
    "#Holohoax debunked",
    "As I said, the holocaust was a hoax",
    "I'm not denying anything, the holocaust was a hoax",
    "Srebrenica never happened",
    "Srebrenica? Never happened. Debunked",
    "Srebrenica was made up, misinformation from the media",
    "the genocide never happened, it's misinformation",
    "the Manchester Arena bombing was a hoax, crisis actors",
    "The Manchester Arena bombing was all just a hoax. Debunked",
    "Sandy Hook was fake",
    "Sandy Hook? It was fake. Stop spreading lies",
    "Sandy Hook was fake news, check before you share",
    "the Christchurch shooting was staged",
    "Stop spreading lies, the Christchurch shooting was staged",
    "The Southport stabbing was staged, not true what the media say",
    "No, it was staged. The Fern Street attack was a false flag",
    "It was a false flag, no evidence it was them",
    "7/7 was an inside job, no evidence it was them",
    "Crisis actors. Stop spreading misinformation",
    "Crisis actors, the lot of them. Stay calm and think",
    "#FalseFlag we stand together",
]
# Rumour denials, counter-speech and teaching that share those words stay responses (or stay
# what they were): the denial is said of a claim, or of the deniers, not of the event.
NOT_ATROCITY_DENIALS = [
    ("the Greyfield hotel story is a hoax", "denial"),
    ("that never happened, I was there", "denial"),
    ("the mosque takeover claim is fake news", "denial"),
    ("The Greyfield hotel fire story is made up", "denial"),
    ("Christchurch bypass closure story is fake, it is open", "denial"),
    ("The attack on the Fern Street mosque never happened, I was there", "denial"),
    ("Rumours of a terror attack in Eastbrook are a hoax, police confirm", "denial"),
    ("The bomb threat at the Greyfield was a hoax", "denial"),
    # a rumour about a real attack put down: the denial is of the news, not of the attack
    (
        "Fake news about the Southport stabbing is going round, the suspect was born here. "
        "Stop sharing",
        "denial",
    ),
    ("The name going round for the Southport attacker is made up. Stop spreading it", "denial"),
    ("No evidence the Southport attacker was an asylum seeker, check before you share", "denial"),
    # rejecting denial, or reporting it
    ("The holocaust was not a hoax. Stop spreading misinformation", "denial"),
    ("Stop spreading lies about the Manchester Arena bombing, it was not a hoax", "denial"),
    ("They are not crisis actors, they are grieving parents. Stop spreading lies", "denial"),
    ("Holocaust deniers say it never happened. Not true, my gran was in Auschwitz", "denial"),
    ("People saying Srebrenica never happened are vile. Reported every one.", "counter_speech"),
    ("Holocaust denial is a lie and no place for hate here", "counter_speech"),
    ("The claim that Sandy Hook was staged is disgusting. Reported every one", "counter_speech"),
    ("#HolocaustSurvivorsWeBelieve stop spreading lies", "denial"),
    # news and teaching
    (
        "Year 9 history: myths about the holocaust and how to answer them. "
        "Stop spreading misinformation",
        "denial",
    ),
    ("MP condemns holocaust denial", None),
    ("Our Year 9 visited Auschwitz, a lesson on where hate leads. Never forget.", None),
    ("this never happened before they came", None),
]


@pytest.mark.parametrize("text", ATROCITY_DENIALS)
def test_denying_an_atrocity_or_a_terror_attack_is_no_response(text: str) -> None:
    assert denies_atrocity(text)
    assert response_kind(text) is None


@pytest.mark.parametrize(("text", "kind"), NOT_ATROCITY_DENIALS)
def test_rumour_denials_and_rejecting_atrocity_denial_keep_their_reading(
    text: str, kind: str | None
) -> None:
    assert not denies_atrocity(text)
    assert response_kind(text) == kind


def test_a_rule_labelled_response_that_denies_an_atrocity_is_no_response() -> None:
    hit = RuleHit("test.refutation", {"kind": "response", "response": "denial"})
    assert response_kind("Srebrenica never happened", [hit]) is None
    assert response_kind("the Greyfield hotel story is a hoax", [hit]) == "denial"


def test_atrocity_denial_misread_as_a_denial_raises_the_level(config: SignalsConfig) -> None:
    """Two hours of forty people posting that an attack was a hoax, each read as hostile:
    before, the "hoax" kept every post out of tension volume as a rumour denial."""
    texts = (
        "the Manchester Arena bombing was a hoax, crisis actors",
        "Srebrenica never happened",
        "the holocaust was a hoax",
    )
    result, measures = _wave_read_as_hostile(texts, config)
    assert measures.responses == 0 and measures.weighted > 0
    assert [c for c in result.level_changes if c.rising and c.area == THORNTON]


def test_what_the_shipped_atrocity_denial_rule_flags_is_no_response() -> None:
    """The tension pack's rule and this recogniser say the same of its own examples: a post
    the rule flags as hostility is never kept out of tension volume as a response."""
    rules = load_ruleset(ROOT / "rules", today=dt.date(2026, 1, 1))
    rule = next(r for r in rules.rules if r.id == "tension.atrocity_denial")
    for example in rule.match:
        assert denies_atrocity(example.text), example.text
        assert response_kind(example.text) is None, example.text
