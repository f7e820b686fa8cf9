"""Cluster splitting on divergence (issue 15): the pure decision on fictional posts (every
post here is invented), and the split carried through the clusterer and the rumour board."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np

from monitor.classify.keyword import EMBEDDING_DIM, hashed_embedding
from monitor.signals.clustering import SPLIT_EVERY, SPLIT_LATENESS, Clusterer
from monitor.signals.config import SignalsConfig
from monitor.signals.engine import SignalsEngine
from monitor.signals.rumours import RumourSplit
from monitor.signals.split import SplitConfig, decide_split, two_means
from monitor.types import Processed
from tests.signals.conftest import T0, item

# Fictional: a claim about a fire at a school, told many ways ...
FIRE = [
    "they say the school fire on Hawthorn Road was started on purpose last night",
    "heard the Hawthorn Road school fire was started deliberately, the fire was no accident",
    "apparently someone started the school fire on Hawthorn Road on purpose",
    "the school on Hawthorn Road burned last night and people say the fire was set on purpose",
    "my cousin says the Hawthorn Road school fire was deliberate, started on purpose",
    "word is the fire at the Hawthorn Road school was started on purpose by someone",
]
# ... then posts about an unrelated event at the mosque in the same place.
MOSQUE = [
    "the mosque on Hawthorn Road is holding an open day with food for all neighbours on Sunday",
    "open day at the Hawthorn Road mosque this Sunday, free food and tea for neighbours",
    "neighbours invited to the mosque open day on Hawthorn Road, food and tea on Sunday",
    "Sunday open day at the mosque, Hawthorn Road, everyone welcome for food and tea",
    "the Hawthorn Road mosque open day on Sunday has free food and tea for all",
]


def _vectors(texts: list[str]) -> list[np.ndarray]:
    return [np.asarray(hashed_embedding(t), dtype=np.float32) for t in texts]


# ... and posts that tell both, through which the fire's cluster drifts towards the mosque.
BRIDGE = [
    "apparently after the school fire on Hawthorn Road the mosque is holding an open day with food",
    "they say the mosque open day on Hawthorn Road is because of the school fire, food and tea",
]


def _config(config: SignalsConfig) -> SplitConfig:
    return Clusterer(config.rumours, dim=EMBEDDING_DIM).split_config()


def _stream(texts: list[str], start: int = 0) -> list[Processed]:
    return [
        item(t, T0 + timedelta(minutes=5 * (start + i)), author=f"a{start + i}",
             ward=("Little Horton", "Manningham")[i % 2])
        for i, t in enumerate(texts)
    ]  # fmt: skip


def test_two_stories_that_diverged_split_the_newer_off(config: SignalsConfig) -> None:
    texts = FIRE + MOSQUE
    times = [T0 + timedelta(minutes=10 * i) for i in range(len(texts))]
    at = times[-1]
    decision = decide_split(_vectors(texts), times, at, _config(config))
    assert decision is not None
    assert set(decision.staying) == set(range(len(FIRE)))
    assert set(decision.leaving) == set(range(len(FIRE), len(texts)))
    assert decision.at == at
    assert decision.similarity < config.rumours.join
    assert "diverged" in decision.reason()


def test_the_answer_does_not_depend_on_the_order_of_members(config: SignalsConfig) -> None:
    texts = MOSQUE + FIRE  # the fire still came first in time
    times = [T0 + timedelta(minutes=100 + i) for i in range(len(MOSQUE))]
    times += [T0 + timedelta(minutes=i) for i in range(len(FIRE))]
    decision = decide_split(_vectors(texts), times, times[0], _config(config))
    assert decision is not None
    assert set(decision.leaving) == set(range(len(MOSQUE)))  # the mosque posts, newer


def test_one_coherent_story_told_in_paraphrases_never_splits(config: SignalsConfig) -> None:
    for n in range(2, len(FIRE) + 1):
        vectors = _vectors(FIRE[:n])
        times = [T0 + timedelta(minutes=i) for i in range(n)]
        assert decide_split(vectors, times, times[-1], _config(config)) is None


def test_a_few_stray_posts_never_split_a_cluster(config: SignalsConfig) -> None:
    texts = FIRE + MOSQUE[:2]  # two off-topic posts: noise, not a second story
    times = [T0 + timedelta(minutes=i) for i in range(len(texts))]
    assert decide_split(_vectors(texts), times, times[-1], _config(config)) is None


def test_two_groups_told_side_by_side_are_not_a_divergence(config: SignalsConfig) -> None:
    """The same two groups, their posts interleaved in time from the start: one claim told in
    two families of wording, not a second story the cluster drifted into."""
    texts = [t for pair in zip(FIRE, MOSQUE, strict=False) for t in pair]
    times = [T0 + timedelta(minutes=i) for i in range(len(texts))]
    assert decide_split(_vectors(texts), times, times[-1], _config(config)) is None
    # ... while the very same posts, one group told after the other, split.
    later = [T0 + timedelta(minutes=i + (100 if i % 2 else 0)) for i in range(len(texts))]
    assert decide_split(_vectors(texts), later, later[-1], _config(config)) is not None


def test_claims_whose_words_are_one_claim_never_split(config: SignalsConfig) -> None:
    texts = FIRE + MOSQUE
    times = [T0 + timedelta(minutes=10 * i) for i in range(len(texts))]
    same_words = decide_split(_vectors(texts), times, times[-1], _config(config), lambda a, b: 0.9)
    assert same_words is None


def test_two_means_is_deterministic() -> None:
    rng = np.random.default_rng(7)
    a = rng.normal(size=(6, 16)).astype(np.float32) + 3
    b = rng.normal(size=(6, 16)).astype(np.float32) - 3
    vectors = np.concatenate([a, b])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    first = two_means(vectors)
    assert (first == two_means(vectors.copy())).all()
    assert len(set(first[:6])) == 1 and len(set(first[6:])) == 1 and first[0] != first[6]


MOSQUE_CLAIMS = ["apparently " + t for t in MOSQUE]


def _observe_all(engine: SignalsEngine, items: list[Processed]) -> list[RumourSplit]:
    """One batch, then event time moves on past the lateness with no new post (as the end
    of a replay does): the splits of both."""
    update = engine.observe(items, items[-1].post.created_at)
    later = engine.flush(items[-1].post.created_at + SPLIT_LATENESS + SPLIT_EVERY)
    return update.rumours.splits + later.rumours.splits


def test_a_cluster_that_drifted_into_a_second_story_splits_in_the_engine(
    config: SignalsConfig,
) -> None:
    """The fire's claims, posts telling both, then the mosque's: the centroid takes them all
    in one cluster; at the checkpoint after the mosque's side is big enough to tell apart it
    leaves for a cluster of its own, with the claims that came after the checkpoint."""
    engine = SignalsEngine(config)
    items = _stream(FIRE + BRIDGE + MOSQUE_CLAIMS)
    splits = _observe_all(engine, items)
    assert len(splits) == 1
    split = splits[0]
    ids = {i.post.text: i.post.id for i in items}
    fire = {ids[t] for t in FIRE}
    assert not fire & set(split.posts)  # the older story keeps the cluster
    assert set(split.posts) <= {ids[t] for t in BRIDGE + MOSQUE_CLAIMS}
    assert "diverged" in split.reason
    # Recorded at a checkpoint: the event time of the evidence it was decided on, after
    # the mosque's posts began and no later than the stream's end.
    assert split.at.minute % 30 == 0 and split.at.second == 0
    assert items[len(FIRE) + len(BRIDGE)].post.created_at < split.at
    assert split.at <= items[-1].post.created_at + SPLIT_EVERY
    source, target = engine.board.rumours[split.source], engine.board.rumours[split.target]
    assert target.split_from == split.source and target.split_at == split.at
    members = engine.board.clusterer.members
    assert {members[ids[t]] for t in FIRE if ids[t] in members} == {split.source}
    assert {members[ids[t]] for t in MOSQUE_CLAIMS[-2:]} == {split.target}
    # Each side counted again: every post once, on one side.
    sides = (split.source, split.target)
    assert source.posts + target.posts == sum(1 for c in members.values() if c in sides)
    assert target.representative_post_id in target.facts


def test_a_split_waits_for_its_checkpoint_and_the_lateness(config: SignalsConfig) -> None:
    """Until event time has passed a checkpoint by the lateness allowed, a cluster is not
    split however far its claims have diverged: a post still on its way may belong to it."""
    engine = SignalsEngine(config)
    items = _stream(FIRE + BRIDGE + MOSQUE_CLAIMS)
    assert engine.observe(items, items[-1].post.created_at).rumours.splits == []
    assert engine.flush(items[-1].post.created_at + SPLIT_EVERY).rumours.splits == []


def test_one_story_told_many_ways_never_splits_in_the_engine(config: SignalsConfig) -> None:
    engine = SignalsEngine(config)
    texts = [*FIRE, *("apparently " + t for t in FIRE), *("they say " + t for t in FIRE)]
    items = _stream(texts)
    assert _observe_all(engine, items) == []
    assert len(engine.board.rumours) == 1


def _partition(engine: SignalsEngine) -> set[frozenset[str]]:
    groups: dict[int, set[str]] = {}
    for post, cid in engine.board.clusterer.members.items():
        groups.setdefault(cid, set()).add(post)
    return {frozenset(g) for g in groups.values()}


def test_a_split_is_the_same_whatever_the_batches(config: SignalsConfig) -> None:
    items = _stream(FIRE + BRIDGE + MOSQUE_CLAIMS)
    end = items[-1].post.created_at + SPLIT_LATENESS + SPLIT_EVERY
    bulk = SignalsEngine(config)
    bulk.observe(items, items[-1].post.created_at)
    bulk.flush(end)
    paced = SignalsEngine(config)
    for one in items:
        paced.observe([one], one.post.created_at)
    paced.flush(end)
    assert bulk.board.clusterer.members == paced.board.clusterer.members
    assert len(bulk.board.rumours) == len(paced.board.rumours) == 2


def test_late_posts_give_the_same_split_as_posts_in_time_order(config: SignalsConfig) -> None:
    """The same drift with both stories going on for hours, delivered in shuffled batches
    whose posts come up to half an hour late (after later ones): the split is decided on the
    same posts at the same checkpoint, and the clusters end the same as in time order."""
    texts = [*FIRE, *BRIDGE, *MOSQUE_CLAIMS]
    for fire, mosque in zip(FIRE, MOSQUE_CLAIMS, strict=False):
        texts += ["they say " + fire, "word is " + mosque]
    items = _stream(texts)
    end = items[-1].post.created_at + SPLIT_LATENESS + SPLIT_EVERY

    def replay(batches: list[list[Processed]]) -> tuple[SignalsEngine, list[RumourSplit]]:
        engine = SignalsEngine(config)
        splits: list[RumourSplit] = []
        for batch in batches:
            splits += engine.observe(batch, max(i.post.created_at for i in batch)).rumours.splits
        splits += engine.flush(end).rumours.splits
        return engine, splits

    in_order, want = replay([items[k : k + 4] for k in range(0, len(items), 4)])
    assert len(want) == 1
    rng = random.Random(5)
    for _ in range(5):
        # Batches of four, shuffled, and a quarter of the posts held back to the next batch:
        # they arrive after posts up to 35 minutes newer (posts are 5 minutes apart). The
        # first hour comes in order: a post that is not itself a claim and arrives before
        # the claim it repeats has no cluster to join yet, split or not.
        batches: list[list[Processed]] = [[] for _ in range(len(items) // 4 + 3)]
        for k, one in enumerate(items):
            late = k >= 12 and rng.random() < 0.25
            batches[k // 4 + late].append(one)
        for b in batches:
            rng.shuffle(b)
        got_engine, got = replay([b for b in batches if b])
        assert _partition(got_engine) == _partition(in_order)
        # (Cluster ids are handed out as posts arrive, so a late post may shift them.)
        assert [(s.posts, s.at) for s in got] == [(s.posts, s.at) for s in want]
