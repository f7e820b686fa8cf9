"""The event evaluation counts what a person is shown: an incident past the incidents'
precision gate, opened when it passes, not the moment a signal fires.

The streams are small and constructed (fictional posts in Little Horton and West Bowling), and
the signals' output is given, not replayed: the point is what the evaluation makes of an alert
that the gate would hold, whatever made the signals raise it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from monitor.evaluation.evaluate import Replay
from monitor.evaluation.events import (
    Item,
    Stream,
    evaluate_stream,
    incidents_of,
    items_of,
    score_items,
)
from monitor.evaluation.simulate import Story
from monitor.incidents.config import IncidentsConfig
from monitor.signals.config import SignalsConfig
from monitor.signals.engine import SignalCandidate
from monitor.types import Processed
from tests.signals.conftest import T0, item

KEY = "rumour_spreading:r1"
LABELS = {
    "kind": "rumour_spreading",
    "cluster": "r1",
    "area": "Little Horton",
    "area_kind": "ward",
    "severity": "warning",
}
CLAIMS = (
    "They're moving 200 men into the old mill on Manor Row next week",
    "Heard the old mill on Manor Row is getting 200 men moved in next week",
    "200 men going into the old Manor Row mill from next week apparently",
    "So the old mill on Manor Row takes 200 men next week, nobody asked us",
)
DENIALS = (
    "That's not true, the mill on Manor Row is being turned into flats, it was in the paper",
    "Is this actually true? Where did anyone hear this about the Manor Row mill?",
)


def minutes(n: float) -> datetime:
    return T0 + timedelta(hours=9, minutes=n)


def stream_of(items: Sequence[Processed], story: Sequence[Processed]) -> Stream:
    rumour = Story(
        id="rumour:mill",
        kind="rumour",
        first_at=min(i.post.created_at for i in story),
        posts=frozenset(i.post.id for i in story),
        wards=("Little Horton",),
    )
    return Stream("constructed", items, (rumour,), T0, T0 + timedelta(days=7))


def replay(
    signals: Sequence[tuple[datetime, Sequence[Processed]]], stances: dict[str, str]
) -> Replay:
    """What the signals produced: spreading alerts for claim cluster r1 (each with the
    cluster's posts so far as evidence), and the members' stances."""
    out = Replay()
    for at, evidence in signals:
        out.candidates.append(
            SignalCandidate(
                key=KEY,
                labels=LABELS,
                summary="rumour spreading",
                evidence=tuple(i.post.id for i in evidence),
                at=at,
                origin="signals:rumour_spreading",
            )
        )
        for i in evidence:
            out.cluster_of.setdefault(i.post.id, 1)
    out.stance_of = stances
    return out


def test_a_spreading_alert_whose_evidence_is_partly_denials_is_not_an_item() -> None:
    """Five posts from five authors: enough for a spreading signal, but two of them deny
    or question the claim, so the story has 3 posts of its own, all in one ward, and the
    gate (5) holds it. Before the evaluation applied the gate it counted this as an item
    (and so a story found) at the alert's time."""
    claims = [
        item(text, minutes(5 * n), author=f"c{n}", ward="Little Horton")
        for n, text in enumerate(CLAIMS[:3])
    ]
    denials = [
        item(text, minutes(16 + n), author=f"d{n}", reply_to=claims[0].post.id)
        for n, text in enumerate(DENIALS)
    ]
    posts = claims + denials
    stream = stream_of(posts, posts)
    stances = {d.post.id: s for d, s in zip(denials, ("deny", "query"), strict=True)}
    got = replay([(minutes(17), posts)], stances)

    shown = incidents_of(items_of(got), stream, got, IncidentsConfig())
    assert shown == []
    # ... the same incident ungated: what was counted before (the alert did fire)
    ungated = incidents_of(items_of(got), stream, got, IncidentsConfig(), gated=False)
    assert [(i.at, i.kind) for i in ungated] == [(minutes(17), "rumour")]
    found, false_keys = score_items(shown, stream)
    assert found == {} and false_keys == []


def test_an_item_opens_when_the_gate_passes_not_when_the_signal_fired() -> None:
    """The alert fires on 5 posts from 2 authors at 09:20; the gate needs 3 authors, which
    a third author's post at 09:50 (the alert extended at 09:52) brings: the item opens at
    09:50 (that post's own time, as the store stamps it), 30 minutes after the signal."""
    first = [
        item(CLAIMS[n % 4], minutes(4 * n), author=("a1", "a2")[n % 2], ward="Little Horton")
        for n in range(5)
    ]
    third = item(CLAIMS[3], minutes(50), author="a3", ward="West Bowling")
    posts = [*first, third]
    stream = stream_of(posts, posts)
    got = replay([(minutes(20), first), (minutes(52), posts)], {})

    shown = incidents_of(items_of(got), stream, got, IncidentsConfig())
    assert [(i.at, i.signal_at) for i in shown] == [(minutes(50), minutes(20))]
    found, false_keys = score_items(shown, stream)
    assert found == {"rumour:mill": 50.0} and false_keys == []
    # Without the third author's post the story never passes: held, no item at all.
    early = replay([(minutes(20), first)], {})
    assert incidents_of(items_of(early), stream_of(first, first), early) == []


def test_a_rule_s_threat_is_an_item_at_once_as_the_service_opens_it(
    config: SignalsConfig,
) -> None:
    """A post a threat rule matches and the classifier reads as hostile, then another that
    calls people to gather: no signal fires on two posts, but the service opens each rule's
    alert as the post comes and the incidents put the police liaison's corroborated threat
    before a person at once. The evaluation replays them the same way: the episode is found
    at its first post, not missed. Without the classifier's agreement the threat waits for
    the call to gather twelve minutes later (two such posts within the hour)."""
    hostile = {"hostile": 0.9, "offensive": 0.3, "rumour": 0.0}
    gather = item(
        "Everyone meet at the Manor Row mill 8pm tonight, bring your mates",
        minutes(12), author="g1", hits=[{"kind": "call_to_gather", "severity": "high"}],
    )  # fmt: skip
    for scores, delay in ((hostile, 0.0), ({**hostile, "hostile": 0.1}, 12.0)):
        threat = item(
            "Whoever set that fire on Manor Row, we know where you live and we're coming tonight",
            minutes(0), author="t1", hits=[{"kind": "threat", "severity": "high"}], scores=scores,
        )  # fmt: skip
        posts = [threat, gather]
        episode = Story("episode:mill", "episode", minutes(0),
                        frozenset(p.post.id for p in posts), ("Little Horton",))  # fmt: skip
        stream = Stream("constructed", posts, (episode,), T0, T0 + timedelta(days=7))

        result = evaluate_stream(stream, config, incidents=IncidentsConfig())
        assert (result.items, result.found, result.false_items) == (1, 1, 0)
        assert result.delays_min == [delay]
    # A hostile score alone on one post is the classifier's, not a rule's: held, no item.
    flagged = item("Disgusting lot round Manor Row", minutes(30), author="h1",
                   scores={"hostile": 0.9, "offensive": 0.2, "rumour": 0.0})  # fmt: skip
    assert flagged.flags == ("hostile",)
    quiet = Stream("constructed", [flagged], (), T0, T0 + timedelta(days=7))
    assert evaluate_stream(quiet, config, incidents=IncidentsConfig()).items == 0


def test_an_item_open_before_a_story_finds_it_when_its_posts_join() -> None:
    """A rule misfired on an ordinary post hours before and its alert for the ward stayed
    open; the story's posts extend it later. The item holds mostly the story's posts, so it
    is the story's, but it showed the story only when the first of them joined: 0 minutes
    after the story's first post, not hours before it."""
    monday = item("An ordinary post a threat rule misread", T0, author="m1")
    story = [
        item(f"We're coming for them on Manor Row tonight ({n})", minutes(3 * n), author=f"a{n}")
        for n in range(3)
    ]
    stream = stream_of([monday, *story], story)
    extended = Item("incident:area=Little Horton,kind=threat", "episode", T0,
                    frozenset(i.post.id for i in [monday, *story]))  # fmt: skip
    found, false_keys = score_items([extended], stream)
    assert found == {"rumour:mill": 0.0} and false_keys == []


def test_a_claim_three_people_tell_in_rules_words_is_an_item_at_the_third() -> None:
    """Three tellings from three authors, two of them matched by a rumour rule: corroborated
    beyond the classifier, so the incident passes the gate on three posts and the item opens
    at the third post's time. Before the corroborated tier it waited for five posts: with no
    more tellings it was held and the story never found."""
    rule = {"kind": "rumour", "severity": "low"}
    claims = [
        item(text, minutes(6 * n), author=f"c{n}", hits=[rule] if n < 2 else [])
        for n, text in enumerate(CLAIMS[:3])
    ]
    stream = stream_of(claims, claims)
    got = replay([(minutes(12), claims)], {})

    shown = incidents_of(items_of(got), stream, got, IncidentsConfig())
    assert [(i.at, i.kind) for i in shown] == [(minutes(12), "rumour")]
    found, false_keys = score_items(shown, stream)
    assert found == {"rumour:mill": 12.0} and false_keys == []
    # The same three tellings with the classifier's word alone: held for the usual five.
    bare = [item(c.post.text, c.post.created_at, author=c.post.author_ref) for c in claims]
    held = replay([(minutes(12), bare)], {})
    assert incidents_of(items_of(held), stream_of(bare, bare), held) == []


def test_each_story_says_when_its_item_came_and_what_it_is_made_of(config: SignalsConfig) -> None:
    """Per story, for finding where a slow one waited: its minutes to the item (as the
    stream's delays), the kinds of the alerts its incident is made of, and its own evidence's
    minutes; a story nothing found says so."""
    hostile = {"hostile": 0.9, "offensive": 0.3, "rumour": 0.0}
    threat = item(
        "Whoever set that fire on Manor Row, we know where you live and we're coming tonight",
        minutes(0), author="t1", hits=[{"kind": "threat", "severity": "high"}], scores=hostile,
    )  # fmt: skip
    later = item("Nobody round Manor Row saw anything", minutes(20), author="n1")
    episode = Story("episode:mill", "episode", minutes(0), frozenset({threat.post.id}),
                    ("Little Horton",))  # fmt: skip
    unseen = Story("rumour:unseen", "rumour", minutes(20), frozenset({later.post.id}))
    stream = Stream("constructed", [threat, later], (episode, unseen), T0,
                    T0 + timedelta(days=7))  # fmt: skip
    result = evaluate_stream(stream, config, incidents=IncidentsConfig())
    found, missed = result.per_story
    assert found["story"] == "episode:mill" and found["minutes_to_item"] == result.delays_min[0]
    assert "threat" in found["made_of"]
    assert found["minutes_to_3/3"] is None  # one post: never three from three authors
    assert missed == {
        "story": "rumour:unseen",
        "minutes_to_item": None,
        "made_of": [],
        "minutes_to_3/3": None,
        "minutes_to_4/3": None,
        "minutes_to_5/3": None,
        # a rumour says how near it came to spreading, and what held it
        "most_posts_in_window": 1,
        "closest_cluster": None,
        "held": "at most 1 of its posts in one 60-min window; spreading needs 8 from 5 authors;"
        " 5 from 3 told in 2 places, 3 where a rumour rule matched",
    }
    assert result.as_dict()["stories_detail"] == result.per_story
