"""Online clustering: the centroid index, near-duplicate hashing, and how posts join."""

from __future__ import annotations

import numpy as np

from monitor.classify.keyword import hashed_embedding
from monitor.signals.clustering import (
    CentroidIndex,
    Clusterer,
    ClusterInput,
    NaiveIndex,
    normalise,
)
from monitor.signals.config import SignalsConfig
from monitor.signals.hashing import SimHashIndex, simhash

CLAIM = (
    "Apparently the tap water in Toller is contaminated and the water company is covering it up."
)


def _unit(rng: np.random.Generator, n: int, dim: int = 384) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_matrix_index_answers_as_the_naive_loop_through_adds_and_removals() -> None:
    rng = np.random.default_rng(3)
    fast, slow = CentroidIndex(384, capacity=8), NaiveIndex(384)
    vectors = _unit(rng, 300)
    for cid, v in enumerate(vectors):
        fast.set(cid, v)
        slow.set(cid, v)
    for cid in range(0, 300, 3):  # removal moves the last row into the gap
        fast.remove(cid)
        slow.remove(cid)
    fast.set(1, vectors[7])
    slow.set(1, vectors[7])
    queries = _unit(rng, 50)
    ids_f, sims_f = fast.search(queries)
    ids_s, sims_s = slow.search(queries)
    assert len(fast) == len(slow) == 200
    assert ids_f.tolist() == ids_s.tolist()
    assert np.allclose(sims_f, sims_s, atol=1e-5)
    assert fast.search_one(vectors[7], exclude=1)[0] == 7


def test_simhash_finds_near_duplicates_but_not_other_posts() -> None:
    index = SimHashIndex(3)
    h = simhash(CLAIM)
    assert h is not None
    index.add(h, 1)
    copied = simhash(
        "apparently the TAP water in Toller is contaminated and the water company is "
        "covering it up!! https://example.org/x"
    )
    assert index.find(copied) == (1, 0)  # type: ignore[arg-type]
    other = simhash(
        "The bus through Toller was twenty minutes late again this morning, standing in the rain."
    )
    assert other is not None and index.find(other) is None
    assert simhash("Source?") is None  # too short to compare: never a duplicate of anything


def test_simhash_index_moves_and_removes_a_cluster() -> None:
    index = SimHashIndex(3)
    h = simhash(CLAIM)
    assert h is not None
    index.add(h, 1)
    index.move(1, 2)
    assert index.find(h) == (2, 0)
    index.remove_cluster(2)
    assert index.find(h) is None and len(index) == 0


def _input(pid: str, text: str, claim: bool = True, links: tuple[str, ...] = ()) -> ClusterInput:
    return ClusterInput(pid, normalise(hashed_embedding(text)), simhash(text), links, claim)


VARIANTS = [
    "Apparently the tap water in Toller is contaminated and the water company is covering it up.",
    "I heard that the water supply in Toller is contaminated and they're keeping it quiet.",
    "Word is the tap water in Toller has got sewage in it and nobody is telling residents.",
    "Rumour is the water round Toller is contaminated and the council knew for weeks.",
    "Apparently tap water across Toller is unsafe to drink and the water company is covering "
    "it up.",
]


def test_a_claim_and_its_variants_form_one_cluster(config: SignalsConfig) -> None:
    c = Clusterer(config.rumours)
    out = c.assign([_input(f"p{i}", t) for i, t in enumerate(VARIANTS)])
    assert out[0].how == "new"
    assert {a.cluster for a in out} == {out[0].cluster}
    assert all(a.how in ("similar", "duplicate") for a in out[1:])


def test_replies_join_by_link_and_do_not_move_the_centroid(config: SignalsConfig) -> None:
    c = Clusterer(config.rumours)
    first = c.assign([_input("p1", VARIANTS[0]), _input("p2", VARIANTS[1])])
    cid = first[0].cluster
    before = c.centroid_total(cid)[0].copy()  # type: ignore[union-attr]
    out = c.assign([_input("r1", "Source?", claim=False, links=("p1",))])
    assert (out[0].cluster, out[0].how) == (cid, "link")
    assert np.array_equal(c.centroid_total(cid)[0], before)  # type: ignore[arg-type]


def test_everyday_posts_cannot_chain_into_a_claim(config: SignalsConfig) -> None:
    """A lone claim does not pull in posts that merely share its words; a post that is not
    claim-like joins only an established cluster, and only when clearly similar."""
    c = Clusterer(config.rumours)
    seed = c.assign(
        [_input("p1", "I heard a lion escaped near the bowling green in City. Anyone know more?")]
    )
    chatter = [
        "Does anyone know why the chippy in City is shut today?",
        "Anyone know a good plumber round City? Boiler's packed in.",
        "Parking outside the school in City is a nightmare every single morning.",
    ]
    out = c.assign([_input(f"c{i}", t, claim=False) for i, t in enumerate(chatter)])
    assert all(a.cluster == -1 for a in out)
    assert seed[0].how == "new"


def test_a_question_about_an_established_rumour_joins_it(config: SignalsConfig) -> None:
    c = Clusterer(config.rumours)
    cid = c.assign([_input(f"p{i}", t) for i, t in enumerate(VARIANTS)])[0].cluster
    q = c.assign(
        [_input("q", "Is it true that the tap water in Toller is contaminated?", claim=False)]
    )
    assert q[0].cluster == cid


def test_two_halves_of_one_rumour_are_merged(config: SignalsConfig) -> None:
    c = Clusterer(config.rumours)
    a = c.assign([_input("a", VARIANTS[0])])[0].cluster
    # A second cluster for the same claim, made as if the first had not matched.
    b = c.new_cluster()
    vec = normalise(hashed_embedding(VARIANTS[2]))
    assert vec is not None
    c.restore(b, vec, 1, [], ["b"])
    c.assign([_input(f"m{i}", t) for i, t in enumerate(VARIANTS[1:])])
    # They merge as soon as a post brings them together, and the batch says after which.
    merges = c.take_merges()
    assert merges and {merges[0][1], merges[0][2]} == {a, b}
    assert 0 <= merges[0][0] < len(VARIANTS) - 1
    assert len({c.members[p] for p in ("a", "b")}) == 1
    assert c.take_merges() == []  # taken once


def test_registered_claim_matches_and_holds_the_band_for_a_person(config: SignalsConfig) -> None:
    cfg = config.rumours
    c = Clusterer(cfg)
    cid = c.new_cluster()
    anchor = normalise(hashed_embedding(VARIANTS[0]))
    assert anchor is not None
    c.register(cid, anchor)
    posts = [
        _input("same", VARIANTS[4], claim=False),
        _input(
            "related", "Anyone else think the Toller tap water tastes funny lately?", claim=False
        ),
        _input(
            "other", "Lovely sunset over Shipley tonight, the whole sky went orange.", claim=False
        ),
    ]
    sims = [float(anchor @ p.embedding) for p in posts]  # type: ignore[operator]
    out = c.assign(posts)
    assert sims[0] >= cfg.claim_match and (out[0].cluster, out[0].how) == (cid, "claim")
    assert cfg.claim_confirm <= sims[1] < cfg.claim_match
    assert out[1].pending == ((cid, out[1].pending[0][1]),) and out[1].cluster != cid
    assert sims[2] < cfg.claim_confirm and out[2].pending == () and out[2].cluster == -1


def test_a_post_processed_twice_counts_once(config: SignalsConfig) -> None:
    c = Clusterer(config.rumours)
    first = c.assign([_input("p1", VARIANTS[0]), _input("p2", VARIANTS[1])])
    again = c.assign([_input("p2", VARIANTS[1])])
    assert again[0].how == "seen" and again[0].cluster == first[1].cluster
    assert c.member_ids[first[0].cluster].count("p2") == 1


def test_a_closed_cluster_attracts_nothing(config: SignalsConfig) -> None:
    c = Clusterer(config.rumours)
    cid = c.assign([_input(f"p{i}", t) for i, t in enumerate(VARIANTS[:3])])[0].cluster
    c.remove(cid)
    out = c.assign(
        [_input("late", VARIANTS[3]), _input("reply", "Wow.", claim=False, links=("p0",))]
    )
    assert out[0].cluster != cid and out[0].how == "new"
    assert out[1].cluster == -1
