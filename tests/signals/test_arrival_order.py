"""Order independence (issue 15): the same posts make the same rumours whether they come in
one bulk batch, one at a time, or shuffled with the claims arriving after the posts that
answer them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from monitor.signals.config import SignalsConfig
from monitor.signals.rumours import RumourBoard, RumourPost
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
