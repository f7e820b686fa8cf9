"""Order independence (issue 15): the same posts make the same rumours whether they come in
one bulk batch, one at a time, or shuffled with the claims arriving after the posts that
answer them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from monitor.classify.keyword import EMBEDDING_DIM
from monitor.signals.clustering import Clusterer, ClusterInput
from monitor.signals.config import SignalsConfig
from monitor.signals.rumours import RumourBoard, RumourPost
from tests.signals.conftest import T0, minutes
from tests.signals.test_clustering import VARIANTS
from tests.signals.test_rumours import _post

QUESTIONS = [
    "Is it true that the tap water in Toller is contaminated?",
    "Is it true the tap water in Toller is contaminated? Is the water company covering it up?",
    "Is it true that the water company is covering up contaminated tap water in Toller?",
]


def _stream() -> list[RumourPost]:
    """Claims of contaminated water in Toller (fictional), and questions passing it on
    ("is it true": hearsay) dated after the claims they ask about: the eighth post in the
    window, the one that makes the rumour spread, is a question."""
    claims = [_post(f"c{i}", t, 10 + 4 * i, f"teller-{i}") for i, t in enumerate(VARIANTS)]
    questions = [
        replace(_post(f"q{i}", t, 32 + 3 * i, f"asker-{i}", claim=False), hearsay=True)
        for i, t in enumerate(QUESTIONS)
    ]
    return claims + questions


def _replay(config: SignalsConfig, batches: Sequence[Sequence[RumourPost]]) -> dict[str, object]:
    board = RumourBoard(config.rumours)
    members: dict[str, int] = {}
    spreading: list[tuple[int, int, str]] = []
    for batch in batches:
        update = board.observe(batch, max(p.at for p in batch))
        for m in update.memberships:
            if m.confirmed:
                members[m.post_id] = m.rumour_id
        spreading += [(e.rumour_id, e.posts, e.at.isoformat()) for e in update.spreading]
    clusters: dict[int, set[str]] = {}
    for post_id, cid in members.items():
        clusters.setdefault(cid, set()).add(post_id)
    return {
        "clusters": sorted(sorted(c) for c in clusters.values()),
        "spreading": [(posts, at) for _, posts, at in spreading],
    }


def test_posts_answering_a_claim_join_it_whichever_comes_first(config: SignalsConfig) -> None:
    posts = _stream()
    by_time = sorted(posts, key=lambda p: (p.at, p.post_id))
    bulk = _replay(config, [by_time])
    paced = _replay(config, [[p] for p in by_time])
    claims = [p for p in by_time if p.claim_like]
    questions = [p for p in by_time if not p.claim_like]
    # A live stream with the claims late: the questions come first, newest first.
    shuffled = _replay(config, [questions[::-1], claims[3:], claims[:3]])
    # What time order gives: one rumour, the questions in it as talk about the claim.
    assert bulk["clusters"] == [sorted(p.post_id for p in posts)]
    # ... which spreads when the last question comes (not before its own time).
    assert bulk["spreading"] == [(8, posts[-1].at.isoformat())]
    assert paced == bulk
    assert shuffled == bulk


def _claim(pid: str, degrees: float, at_min: float) -> ClusterInput:
    """A claim whose embedding lies at this angle in one plane (a wording drifting step by
    step from the first telling of a claim to a third)."""
    v = np.zeros(EMBEDDING_DIM, dtype=np.float32)
    v[0], v[1] = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return ClusterInput(pid, v, None, (), True, at=T0 + minutes(at_min))


def test_claims_drifting_in_wording_cluster_alike_in_any_arrival(config: SignalsConfig) -> None:
    # 40 degrees apart: each telling is near enough to the one before it (and the first two's
    # centroid) to join, the first and the third are not.
    a, b, c = _claim("a", 0, 10), _claim("b", 40, 14), _claim("c", 80, 18)

    def partition(batches: Sequence[Sequence[ClusterInput]]) -> list[list[str]]:
        clusterer = Clusterer(config.rumours, dim=EMBEDDING_DIM)
        for batch in batches:
            clusterer.assign(batch)
        groups: dict[int, list[str]] = {}
        for post_id, cid in clusterer.members.items():
            groups.setdefault(cid, []).append(post_id)
        return sorted(sorted(g) for g in groups.values())

    assert partition([[a, b, c]]) == [["a", "b", "c"]]
    assert partition([[a], [b], [c]]) == [["a", "b", "c"]]
    assert partition([[c], [a], [b]]) == [["a", "b", "c"]]  # the third telling came first


def _telling(pid: str, degrees: float, at_min: float, reply_to: str | None = None) -> RumourPost:
    """A post of the drifting claim on the board: a telling, or (`reply_to`) a reply to one."""
    v = np.zeros(EMBEDDING_DIM, dtype=np.float32)
    v[0], v[1] = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return RumourPost(
        post_id=pid,
        at=T0 + minutes(at_min),
        text=f"telling {pid}",
        author_ref=f"author-{pid}",
        embedding=v,
        simhash=None,
        links=(reply_to,) if reply_to else (),
        claim_like=reply_to is None,
        scores={},
        place="Toller",
    )


def test_a_late_telling_regroups_the_board_and_keeps_one_story(config: SignalsConfig) -> None:
    a, b, c = _telling("a", 0, 10), _telling("b", 40, 14), _telling("c", 80, 18)
    reply = _telling("r", 80, 19, reply_to="c")
    board = RumourBoard(config.rumours, dim=EMBEDDING_DIM)
    board.observe([c, reply], reply.at)
    first = board.clusterer.members["c"]
    board.observe([a], reply.at)
    update = board.observe([b], reply.at)
    # In time order the three tellings are one rumour, and the reply to the third is in it.
    live = [r for r in board.rumours.values() if r.facts]
    assert len(live) == 1
    assert sorted(live[0].facts) == ["a", "b", "c", "r"]
    assert {board.clusterer.members[p] for p in "abcr"} == {live[0].id}
    # The rumour the third telling began before the others came is merged into it, not
    # dropped: whatever it raised stays with the one story.
    assert first != live[0].id
    assert (first, live[0].id) in update.merges


def test_words_are_weighed_as_of_the_claims_wound_back_to() -> None:
    from monitor.signals.terms import DocumentFrequency

    df = DocumentFrequency()
    df.add(T0, frozenset({"water", "toller"}))
    df.add(T0 + minutes(30), frozenset({"water", "sewage"}))
    df.add(T0 + minutes(40), frozenset({"water", "sewage"}))
    before = {w: df.idf(w) for w in ("water", "sewage", "toller")}
    held = df.hold(T0 + minutes(30))
    # As of just before the half hour, only the first post's words were in use.
    fresh = DocumentFrequency()
    fresh.add(T0, frozenset({"water", "toller"}))
    assert [df.idf(w) for w in ("water", "sewage")] == [fresh.idf(w) for w in ("water", "sewage")]
    df.put_back(held)
    assert {w: df.idf(w) for w in before} == before
