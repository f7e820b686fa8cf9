"""News reports with their source named, and boilerplate, are not rumours (all posts are
fictional)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from monitor.signals.config import SignalsConfig
from monitor.signals.engine import SignalsEngine
from monitor.signals.reports import boilerplate, reported
from monitor.types import Processed, RuleHit
from tests.signals.conftest import T0, item, minutes

# A rumour head that half-believes breaking news scores all of these as claims.
CLAIMED = {"rumour": 0.8, "hostile": 0.0, "offensive": 0.0}


@pytest.mark.parametrize(
    "text",
    [
        "Police say the fire at the Legrams Lane mill was started deliberately",
        "Fire at Legrams Lane mill started deliberately, say officials",
        "The fire at the mill was started deliberately, the council's spokesperson said",
        "According to prosecutors the two men arrested over the mill fire will be charged today",
        "Mill fire: West Yorkshire Fire Service confirms it was started deliberately",
        "Mill fire in Little Horton started deliberately, says the home secretary",
        "Mill fire was started deliberately, police sources",
        "OFFICIAL: mill fire was started deliberately",
        "Two men arrested after the mill fire in Little Horton AFP",
        "Police appeal for witnesses after the fire at the Legrams Lane mill",
        "Mill fire: police are appealing for witnesses, detectives urge anyone with dashcam "
        "footage to come forward",
        "West Yorkshire Police have asked residents to avoid Legrams Lane while the fire burns",
        # an appeal passed on in its own words
        "Sharing for the police: anyone who saw the fire at the mill on Saturday please call 101",
        "Awful news from Little Horton. Police want to hear from anyone who was near the mill",
        "Anyone with dashcam footage of Legrams Lane last night, ring 101 quoting log 1712",
        "Mill fire: if you know who did it tell Crimestoppers anonymously",
    ],
)
def test_reports_attributed_to_an_official_source(text: str) -> None:
    assert reported(text)


@pytest.mark.parametrize(
    "text",
    [
        "The police are covering up who started the mill fire",
        "My mate says police are lying about the mill fire",
        "The council said nothing for weeks about the mill",
        "Police haven't said a thing about who started the mill fire",
        "They started the mill fire on purpose and everyone knows it",
        "Don't trust the police",
        "Nobody asked the police why the mill burned, they're covering it up",
        "Police don't want to hear from anyone who saw what really happened at the mill",
        "Called 999 about the mill fire and they took ages",
    ],
)
def test_claims_about_officials_are_not_reports(text: str) -> None:
    assert not reported(text)


@pytest.mark.parametrize(
    "text",
    [
        "@someone's account has been withheld in Germany, France, Austria in response to a "
        "legal demand.",
        "This post is unavailable.",
        "BREAKING: more to follow",
        "Follow our live coverage",
    ],
)
def test_platform_notices_and_placeholders_are_boilerplate(text: str) -> None:
    assert boilerplate(text)


@pytest.mark.parametrize(
    "text",
    [
        "BREAKING: the Legrams Lane mill is on fire and the road is closed. More to follow",
        "Apparently the mill fire was started on purpose by people from Manningham",
        "His account has been suspended for telling the truth about the mill fire",
    ],
)
def test_a_post_that_says_something_is_not_boilerplate(text: str) -> None:
    assert not boilerplate(text)


TELLINGS = (
    "the fire at the Legrams Lane mill was started deliberately by a gang",
    "the Legrams Lane mill fire was started deliberately by a gang",
    "that fire at Legrams Lane mill was started deliberately by a gang",
    "the fire at the Legrams Lane mill was started on purpose by a gang",
)


def _posts(texts: Sequence[str], tag: str) -> list[Processed]:
    return [
        item(text, T0 + minutes(4 * k), author=f"{tag}-{k}", post_id=f"{tag}{k}", scores=CLAIMED)
        for k, text in enumerate(texts)
    ]


def _spread(items: Sequence[Processed], config: SignalsConfig) -> list[int]:
    """The rumours that began to spread."""
    update = SignalsEngine(config).observe(items, items[-1].post.created_at)
    return [e.rumour_id for e in update.rumours.spreading]


def test_a_burst_of_reports_naming_their_source_is_not_a_rumour_spreading(
    config: SignalsConfig,
) -> None:
    """Ten accounts post within the hour that police say the mill fire was deliberate: a
    news story breaking, with its source named, not a claim passed on. The same words passed
    on with no source, or as hearsay of what police said, spread as a rumour."""
    n = config.rumours.spread_posts + 2
    said = [f"Police say {TELLINGS[k % len(TELLINGS)]}" for k in range(n)]
    assert all(reported(t) for t in said)
    assert _spread(_posts(said, "report"), config) == []
    told = [f"Pass it on: {TELLINGS[k % len(TELLINGS)]}" for k in range(n)]
    assert len(_spread(_posts(told, "told"), config)) == 1
    heard = [f"Apparently police say {TELLINGS[k % len(TELLINGS)]}" for k in range(n)]
    assert len(_spread(_posts(heard, "heard"), config)) == 1


def test_a_build_up_of_scored_posts_does_not_turn_reports_into_claims(
    config: SignalsConfig,
) -> None:
    """The shipped windowed rumour rules (claims rising in a ward, a cluster spreading) test
    the rumour score alone, and keep firing on each further post while a build-up lasts. A
    burst of attributed reports is such a build-up: their hits say no more than the score did,
    so the reports stay reports. A rule whose words matched ("share before it's deleted") still
    makes a report a claim passed on."""
    n = config.rumours.spread_posts + 2
    said = [f"Police say {TELLINGS[k % len(TELLINGS)]}" for k in range(n)]
    window = RuleHit(
        "rumour.claim_rising_in_ward",
        {"kind": "rumour", "topic": "claims_rising", "area": "Little Horton"},
        words=False,
    )
    built_up = [replace(i, hits=(window,)) for i in _posts(said, "window")]
    assert _spread(built_up, config) == []
    cue = RuleHit("rumour.share_before_deleted", {"kind": "rumour", "topic": "cue"})
    worded = [replace(i, hits=(cue,)) for i in _posts(said, "worded")]
    assert len(_spread(worded, config)) == 1


def test_copies_of_a_platform_notice_never_form_a_rumour(config: SignalsConfig) -> None:
    """A dozen accounts' posts withheld in the same countries show the same notice; scored
    as claims or not, it claims nothing and starts no rumour."""
    notice = (
        "@{}'s account has been withheld in Germany, France, Austria, Poland in response to "
        "a legal demand."
    )
    items = [
        item(notice.format(f"acct{k}"), T0 + minutes(3 * k), author=f"acct{k}",
             post_id=f"n{k}", scores=CLAIMED)
        for k in range(12)
    ]  # fmt: skip
    engine = SignalsEngine(config)
    update = engine.observe(items, items[-1].post.created_at)
    assert update.rumours.spreading == []
    assert engine.board.rumours == {}
