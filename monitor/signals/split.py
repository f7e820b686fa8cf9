"""Pure: whether a claim cluster's posts have diverged into two stories.

A cluster only ever grows and merges, and each claim that joins it is judged against its
centroid as it stands; so two stories told in the same place (a claim about a school fire,
then posts about an event at the mosque the centroid had drifted towards) can end up in one
cluster, and so in one incident. This asks the cluster's own claim posts, not its centroid:

1. two-means on the members' unit embeddings (spherical: centroids are normalised sums),
   seeded deterministically from the member furthest from the whole cluster's centroid, so
   the same members always give the same answer whatever order they arrived in;
2. a split needs each side to hold at least `min_side` claims *and* `min_share` of them, so
   a few stray or noisy posts never split a cluster;
3. each side must be a tight cluster in its own right (cohesion at least `cohesion`);
4. each side must be tighter than the whole by `gain`, and the sides must be well separated:
   the two sides' spreads together (1 − cohesion each) less than `ratio` times the distance
   between their centroids (1 − their similarity), a Davies–Bouldin test. Paraphrases of one
   claim spread evenly around one centre, so two-means finds two halves about as far apart
   as they are wide; two stories are two tight groups far apart;
5. the two sides must be two claims: their claims' words different (the caller's
   `terms_similarity` of the two sides below `terms`, the merge rule's own threshold), or,
   where there are too few words to tell, their centroids less alike than `separation`
   (the merge threshold); a split the merge rule would undo at once is no split;
6. and the stories must have diverged: the newer side began only after at least half of
   the older side's claims were told. One claim told in two families of wording interleaves
   in time; a second story the cluster drifted into comes after the first.

Nothing here reads a clock or a store, and the answer depends only on the set of claims
given (with their event times), not on their order: the caller (`Clusterer`) passes the
claims dated before an event-time checkpoint, sorted by time then post id, and the
checkpoint as `at`, and records the split there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]
ITERATIONS = 20


@dataclass(frozen=True, slots=True)
class SplitConfig:
    cohesion: float  # least mean similarity of each side's members to its own centroid
    separation: float  # the sides' centroids must be less similar than this
    min_side: int = 4  # least claims on each side
    min_share: float = 0.2  # ... and least share of the cluster's claims on each side
    gain: float = 0.05  # each side must be this much tighter than the whole cluster
    terms: float = 0.0  # sides whose claim words are less alike than this are two claims
    ratio: float = 1.0  # the sides' spreads together, at most this times their distance


@dataclass(frozen=True, slots=True)
class SplitDecision:
    """The members (by position in the input) that leave for a new cluster, and why."""

    leaving: tuple[int, ...]  # the side whose first claim is later (the newer story)
    staying: tuple[int, ...]
    similarity: float  # of the two sides' centroids
    cohesion: tuple[float, float]  # (staying, leaving)
    whole: float  # cohesion of the cluster before
    at: datetime

    def reason(self) -> str:
        return (
            f"its claims diverged into two stories: the sides' centroids are "
            f"{self.similarity:.2f} alike, each side far tighter ({self.cohesion[0]:.2f}, "
            f"{self.cohesion[1]:.2f}) than the whole ({self.whole:.2f})"
        )


def cohesion(vectors: Matrix) -> float:
    """Mean similarity of unit vectors to their centroid: |sum| / n."""
    n = len(vectors)
    return float(np.linalg.norm(vectors.sum(axis=0))) / n if n else 1.0


def _unit(v: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def two_means(vectors: Matrix) -> npt.NDArray[np.bool_]:
    """Spherical two-means; True marks the second side. Deterministic: seeded with the member
    least like the whole's centroid and the member least like that one (ties by position)."""
    centre = _unit(vectors.sum(axis=0))
    a = int(np.argmin(vectors @ centre))
    b = int(np.argmin(vectors @ vectors[a]))
    ca, cb = vectors[b].copy(), vectors[a].copy()
    side = np.zeros(len(vectors), dtype=bool)
    for _ in range(ITERATIONS):
        new = (vectors @ cb) > (vectors @ ca)
        if new.all() or not new.any():
            break
        if np.array_equal(new, side):
            break
        side = new
        ca, cb = _unit(vectors[~side].sum(axis=0)), _unit(vectors[side].sum(axis=0))
    return side


def decide_split(
    embeddings: Sequence[npt.NDArray[np.float32]] | Matrix,
    times: Sequence[datetime],
    at: datetime,
    config: SplitConfig,
    terms_similarity: Callable[[Sequence[int], Sequence[int]], float | None] | None = None,
) -> SplitDecision | None:
    """Whether these claim posts (unit embeddings, with their event times) are two stories;
    None when they are one (or too few to tell). `terms_similarity(side, other)`: how alike
    the claim words of two sides (positions in the input) are, 0..1, or None when there are
    too few to tell."""
    n = len(embeddings)
    if n != len(times):
        raise ValueError("one time per embedding")
    need = max(config.min_side, 1)
    if n < 2 * need:
        return None
    vectors = np.asarray(embeddings, dtype=np.float32).reshape(n, -1)
    side = two_means(vectors)
    ones = int(side.sum())
    smaller = min(ones, n - ones)
    if smaller < need or smaller < config.min_share * n:
        return None
    first, second = vectors[~side], vectors[side]
    c1, c2, whole = cohesion(first), cohesion(second), cohesion(vectors)
    if min(c1, c2) < config.cohesion or min(c1, c2) < whole + config.gain:
        return None
    sim = float(_unit(first.sum(axis=0)) @ _unit(second.sum(axis=0)))
    if (1 - c1) + (1 - c2) >= config.ratio * (1 - sim):
        return None  # two halves of one spread-out cloud, not two groups
    idx_first = tuple(int(i) for i in np.flatnonzero(~side))
    idx_second = tuple(int(i) for i in np.flatnonzero(side))
    alike = terms_similarity(idx_first, idx_second) if terms_similarity is not None else None
    if (alike is not None and alike >= config.terms) or (
        alike is None and sim >= config.separation
    ):
        return None  # one claim by the merge rule
    # The newer story leaves; the cluster keeps its id (and its alerts) for the older one.
    start_first = min((times[i], i) for i in idx_first)
    start_second = min((times[i], i) for i in idx_second)
    if start_first <= start_second:
        staying, leaving, coh = idx_first, idx_second, (c1, c2)
    else:
        staying, leaving, coh = idx_second, idx_first, (c2, c1)
    began = min(times[i] for i in leaving)
    if 2 * sum(1 for i in staying if times[i] < began) < len(staying):
        return None  # the two sides interleave in time: one story told two ways
    return SplitDecision(leaving, staying, sim, coh, whole, at)
