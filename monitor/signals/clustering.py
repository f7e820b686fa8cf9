"""Pure: online clustering of claim-like posts.

A post joins a cluster on the first of:
1. a link: it replies to, quotes or reposts a post already in a cluster;
2. a near-duplicate: its SimHash is within a few bits of a claim-like member's;
3. a registered claim: its embedding is at least `claim_match` similar to a claim that comms
   staff registered (between `claim_confirm` and `claim_match` it is held for a person);
4. similarity: its embedding is at least `join` similar to a cluster's centroid (a post that
   is not itself claim-like needs `join_unclaimed`, and a cluster two claim-like posts agree on).
Otherwise a claim-like post that asserts the claim (the classifier does not read it as a
question or a denial) starts a new cluster, and any other post stays out, waiting (`WAITING`
in event time) for the claims it answers: a cluster that forms or grows with claims it matches
takes it in then (`take_late`), as it would have had the claims come first. Only such posts move
a centroid or add hashes, so questions, replies and chatter cannot drag a cluster or split off
a cluster of their own.

Centroids live in one float32 matrix, so matching a batch against 10,000 clusters is one
matrix product; after each batch, clusters whose centroids came within `merge` of each other
are merged (the rumour is one cluster, not many). And at event-time checkpoints
(`SPLIT_EVERY`, decided once the stream is `SPLIT_LATENESS` past them) a cluster is split in
two when its claims dated before the checkpoint have diverged into two stories
(`monitor.signals.split`): the newer story leaves for a new cluster, with its claims' replies.
A split is a function of the set of claims and their event times, never of the order they
arrived in.

Joins and merges are too. Each claim is judged against the clusters as the claims before it
*in event time* (then post id) left them: when a claim comes late (dated before a claim
already assigned), the clusters are wound back to that time, the claims dated since are
assigned again in event-time order, and what changed is reported as a `Regroup` (claims that
moved, clusters merged). So a drifting claim told third-first, or a claim held back a batch,
ends in the cluster time order would have put it in. A cluster keeps its id while its first
claim still starts it, so alerts already raised stay with their story; a cluster left with
none of its claims is merged into the one that took most of them. Claims more than
`REGROUP_HORIZON` (or `REGROUP_MAX` claims) late join where they fall, and a stream in time
order never winds back, so a bulk import pays nothing for it.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from monitor.signals.config import RumourConfig
from monitor.signals.hashing import SimHashIndex
from monitor.signals.split import SplitConfig, SplitDecision, decide_split
from monitor.signals.terms import DocumentFrequency, TermProfile
from monitor.types import as_utc

Vector = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]


def normalise(vector: Sequence[float] | npt.NDArray[Any]) -> Vector | None:
    """Unit-length float32 copy, or None for an empty or zero vector."""
    v = np.asarray(vector, dtype=np.float32)
    if v.ndim != 1 or v.size == 0:
        return None
    norm = float(np.linalg.norm(v))
    if not np.isfinite(norm) or norm == 0.0:
        return None
    return v / norm


class Index(Protocol):
    """What the clusterer needs of a centroid index (the matrix one, or the naive loop)."""

    dim: int

    def __len__(self) -> int: ...

    def __contains__(self, cid: object) -> bool: ...

    def set(self, cid: int, vector: Vector) -> None: ...

    def remove(self, cid: int) -> None: ...

    def search(self, vectors: Matrix) -> tuple[npt.NDArray[np.int64], Vector]: ...

    def search_one(self, vector: Vector, exclude: int | None = None) -> tuple[int, float]: ...

    def ids(self) -> npt.NDArray[np.int64]: ...

    def similarities(self, vectors: Matrix) -> Matrix: ...

    def search_others(
        self, vectors: Matrix, own: Sequence[int]
    ) -> tuple[npt.NDArray[np.int64], Vector]: ...


class CentroidIndex:
    """Unit centroids in one growing float32 matrix; removal moves the last row into the gap."""

    def __init__(self, dim: int, capacity: int = 1024) -> None:
        self.dim = dim
        self._m: Matrix = np.zeros((capacity, dim), dtype=np.float32)
        self._ids: npt.NDArray[np.int64] = np.full(capacity, -1, dtype=np.int64)
        self._row: dict[int, int] = {}
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def __contains__(self, cid: object) -> bool:
        return cid in self._row

    @property
    def nbytes(self) -> int:
        return int(self._m.nbytes + self._ids.nbytes)

    def set(self, cid: int, vector: Vector) -> None:
        row = self._row.get(cid)
        if row is None:
            if self._n == len(self._m):
                self._m = np.concatenate([self._m, np.zeros_like(self._m)])
                self._ids = np.concatenate([self._ids, np.full(len(self._ids), -1, np.int64)])
            row = self._n
            self._n += 1
            self._row[cid] = row
            self._ids[row] = cid
        self._m[row] = vector

    def vector(self, cid: int) -> Vector | None:
        row = self._row.get(cid)
        return None if row is None else self._m[row].copy()

    def remove(self, cid: int) -> None:
        row = self._row.pop(cid, None)
        if row is None:
            return
        last = self._n - 1
        if row != last:
            moved = int(self._ids[last])
            self._m[row] = self._m[last]
            self._ids[row] = moved
            self._row[moved] = row
        self._ids[last] = -1
        self._n = last

    def search(self, vectors: Matrix) -> tuple[npt.NDArray[np.int64], Vector]:
        """Best centroid per row of `vectors` (ids -1 and similarity -1 when empty)."""
        b = len(vectors)
        if self._n == 0 or b == 0:
            return np.full(b, -1, dtype=np.int64), np.full(b, -1.0, dtype=np.float32)
        sims = vectors @ self._m[: self._n].T
        best = np.argmax(sims, axis=1)
        return self._ids[best], sims[np.arange(b), best]

    def ids(self) -> npt.NDArray[np.int64]:
        """The cluster ids, in the order of `similarities`' columns."""
        return self._ids[: self._n].copy()

    def similarities(self, vectors: Matrix) -> Matrix:
        """Similarity of each row of `vectors` to each centroid: one matrix product."""
        return vectors @ self._m[: self._n].T

    def search_one(self, vector: Vector, exclude: int | None = None) -> tuple[int, float]:
        if self._n == 0:
            return -1, -1.0
        sims = self._m[: self._n] @ vector
        if exclude is not None and exclude in self._row:
            sims[self._row[exclude]] = -np.inf
        best = int(np.argmax(sims))
        if not np.isfinite(sims[best]):
            return -1, -1.0
        return int(self._ids[best]), float(sims[best])

    def search_others(
        self, vectors: Matrix, own: Sequence[int]
    ) -> tuple[npt.NDArray[np.int64], Vector]:
        """Best centroid per row other than row i's own cluster `own[i]`: one matrix product
        for all the clusters a batch touched."""
        b = len(vectors)
        if self._n < 2 or b == 0:
            return np.full(b, -1, dtype=np.int64), np.full(b, -1.0, dtype=np.float32)
        sims = vectors @ self._m[: self._n].T
        for i, cid in enumerate(own):
            row = self._row.get(cid)
            if row is not None:
                sims[i, row] = -np.inf
        best = np.argmax(sims, axis=1)
        return self._ids[best], sims[np.arange(b), best]


class NaiveIndex:
    """The baseline the benchmark compares with: one dot product per cluster in a Python loop."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._v: dict[int, Vector] = {}

    def __len__(self) -> int:
        return len(self._v)

    def __contains__(self, cid: object) -> bool:
        return cid in self._v

    def set(self, cid: int, vector: Vector) -> None:
        self._v[cid] = vector.copy()

    def remove(self, cid: int) -> None:
        self._v.pop(cid, None)

    def search(self, vectors: Matrix) -> tuple[npt.NDArray[np.int64], Vector]:
        ids = np.full(len(vectors), -1, dtype=np.int64)
        sims = np.full(len(vectors), -1.0, dtype=np.float32)
        for i, v in enumerate(vectors):
            ids[i], sims[i] = self.search_one(v)
        return ids, sims

    def search_others(
        self, vectors: Matrix, own: Sequence[int]
    ) -> tuple[npt.NDArray[np.int64], Vector]:
        ids = np.full(len(vectors), -1, dtype=np.int64)
        sims = np.full(len(vectors), -1.0, dtype=np.float32)
        for i, (v, cid) in enumerate(zip(vectors, own, strict=True)):
            ids[i], sims[i] = self.search_one(v, exclude=cid)
        return ids, sims

    def ids(self) -> npt.NDArray[np.int64]:
        return np.asarray(list(self._v), dtype=np.int64)

    def similarities(self, vectors: Matrix) -> Matrix:
        out = np.zeros((len(vectors), len(self._v)), dtype=np.float32)
        for j, c in enumerate(self._v.values()):
            for i, v in enumerate(vectors):
                out[i, j] = float(np.dot(c, v))
        return out

    def search_one(self, vector: Vector, exclude: int | None = None) -> tuple[int, float]:
        best, best_sim = -1, -1.0
        for cid, c in self._v.items():
            if cid == exclude:
                continue
            s = float(np.dot(c, vector))
            if s > best_sim:
                best, best_sim = cid, s
        return best, best_sim


@dataclass(frozen=True, slots=True)
class ClusterInput:
    post_id: str
    embedding: Vector | None  # unit length, or None
    simhash: int | None
    links: tuple[str, ...]  # post ids this one replies to, quotes or reposts
    claim_like: bool
    asserts: bool = True  # not a question or a denial: may start or shape a cluster
    terms: frozenset[str] = frozenset()  # claim terms (see monitor.signals.terms)
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where one post went: a cluster id (or -1: none), how, and the similarity that decided.
    `pending`: registered rumours it resembles within the confirmation band."""

    cluster: int
    how: str  # link | duplicate | claim | similar | new | none | seen
    similarity: float = 0.0
    pending: tuple[tuple[int, float], ...] = ()
    near: int = -1  # a post that stayed out but is as close to this cluster as a claim joining


CONTENT_JOINS = ("duplicate", "claim", "similar", "new")
TOP_K = 4  # clusters a post is tried against, closest first
# Claims a cluster needs before its terms can say what it is about: one or two wordings of a
# claim do not yet show which of their words are the claim's own.
MIN_PROFILE = 3
# Two clusters are one rumour only if their claims' words are mostly the same (the cosine of
# their IDF-weighted term shares): the two halves of one claim share far more than two
# claims told the same day in the same place with the same cue words.
MERGE_TERMS = 0.5


def _similarities(
    index: Index, vectors: Matrix
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """(cluster ids, similarities of each row of `vectors` to each of them)."""
    ids = [int(c) for c in index.ids()]
    if not ids or not len(vectors):
        return np.asarray(ids, dtype=np.int64), np.zeros((len(vectors), len(ids)), np.float32)
    return np.asarray(ids, dtype=np.int64), index.similarities(vectors)


def _top(
    row: npt.NDArray[np.float32],
    ids: npt.NDArray[np.int64],
    column: dict[int, int],
    dirty: dict[int, Vector],
    gone: set[int],
    vec: Vector,
) -> list[tuple[int, float]]:
    """The `TOP_K` closest clusters to `vec`, closest first: from the batch's matrix row for
    clusters unchanged since the batch began, scored again for those that changed."""
    if dirty or gone:
        row = row.copy()
        for cid in (*dirty, *gone):
            j = column.get(cid)
            if j is not None:
                row[j] = -np.inf
    out: list[tuple[int, float]] = []
    if len(row):
        k = min(TOP_K, len(row))
        part = np.argpartition(-row, k - 1)[:k]
        out = [(int(ids[j]), float(row[j])) for j in part if np.isfinite(row[j])]
    out += [(cid, float(c @ vec)) for cid, c in dirty.items()]
    out.sort(key=lambda cx: (-cx[1], cx[0]))
    return out[:TOP_K]


# Claims kept per cluster (the latest in event time) for deciding a split; older ones still
# count in its centroid. Two-means over this many 384-wide vectors is well under a millisecond.
SPLIT_MEMORY = 200
# Splits are decided at event-time checkpoints, never after whichever post happened to arrive
# last: at each multiple of SPLIT_EVERY (T), on the claims dated before T, once the stream's
# event time has passed T + SPLIT_LATENESS. So the same posts split the same way whether they
# come in bulk, one at a time or shuffled with late posts (up to SPLIT_LATENESS late), and a
# split is never decided on a half-arrived hour. The lateness is the rumour window: a split
# waits at most about an hour and a half for its evidence.
SPLIT_EVERY = timedelta(minutes=30)
SPLIT_LATENESS = timedelta(hours=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def checkpoint_after(at: datetime) -> datetime:
    """The first split checkpoint strictly after `at`."""
    at = as_utc(at)
    steps = (at - EPOCH) // SPLIT_EVERY + 1
    return EPOCH + steps * SPLIT_EVERY


@dataclass(frozen=True, slots=True)
class ClaimMember:
    """A claim that shaped a cluster, as a split needs it."""

    post_id: str
    vector: Vector
    at: datetime
    simhash: int | None
    terms: frozenset[str]


def _claim_order(claim: ClaimMember) -> tuple[datetime, str]:
    return (claim.at, claim.post_id)


@dataclass(frozen=True, slots=True)
class Split:
    """A cluster split in two: before the post at `position` in the batch, `leaving` (post
    ids) left `source` for the new cluster `target`. `decision.at` is the checkpoint whose
    evidence decided it; `decided` the event time it was decided at (`at` + the lateness)."""

    position: int
    source: int
    target: int
    leaving: tuple[str, ...]
    decision: SplitDecision
    decided: datetime


# A post that cannot start a cluster (not a claim, or a question or denial of one) and found
# none to join waits this long in event time for the claims it answers: the claims may be
# dated before it but arrive after it (a shuffled or late stream), or come up to this long
# after it. Taking it in when they come makes its cluster a function of the posts and their
# event times, not of whether it happened to arrive before or after them.
WAITING = timedelta(hours=1)
# The most posts kept waiting (the oldest in event time go first), whatever the stream's rate.
WAITING_MAX = 4096


@dataclass(frozen=True, slots=True)
class WaitingPost:
    post_id: str
    vector: Vector
    at: datetime
    terms: frozenset[str]
    claim_like: bool


@dataclass(frozen=True, slots=True)
class Late:
    """A waiting post taken in by a cluster when the claim at `position` in the batch (dated
    `at`: the evidence) made it match."""

    position: int
    post_id: str
    cluster: int
    similarity: float
    at: datetime


# How far back late claims are judged again: the lateness the splits allow, and at most
# this many claims. Further back, what winding back cannot undo (clusters closed as idle,
# merges made since) outweighs what it puts right, and a straggler hours late in a busy
# stream would re-assign thousands of claims; such a claim joins where it falls.
REGROUP_HORIZON = SPLIT_LATENESS
REGROUP_MAX = 512


@dataclass(frozen=True, slots=True)
class Regroup:
    """Claims assigned again in event-time order because late claims came (dated from
    `since`): `moves` (post id, the cluster it was in, the cluster it joined now), in the order
    made, and then `merges` (source, target) in order, the merges the new order made and the
    clusters left with none of their claims going into the cluster that took most of them."""

    moves: tuple[tuple[str, int, int], ...]
    merges: tuple[tuple[int, int], ...]
    since: datetime


@dataclass(slots=True)
class ClusterGeometry:
    total: Vector  # sum of the unit embeddings of members that joined by content
    count: int = 0


@dataclass
class Clusterer:
    """The clustering state: centroids, registered claims, member hashes and post links."""

    config: RumourConfig
    dim: int = 384
    index: Index = field(default=None)  # type: ignore[assignment]
    next_id: int = 1
    anchors: CentroidIndex = field(init=False)
    hashes: SimHashIndex = field(init=False)
    geometry: dict[int, ClusterGeometry] = field(default_factory=dict)
    members: dict[str, int] = field(default_factory=dict)  # post id -> cluster, for links
    member_ids: dict[int, list[str]] = field(default_factory=dict)
    registered: set[int] = field(default_factory=set)
    _merges: list[tuple[int, int, int]] = field(default_factory=list)
    redirect: dict[int, int] = field(default_factory=dict)  # merged cluster -> its target
    profiles: dict[int, TermProfile] = field(default_factory=dict)
    df: DocumentFrequency = field(default_factory=DocumentFrequency)
    # For splitting: each cluster's claims in event-time order (then post id), the number
    # dated before the last checkpoint it was judged at, and the next checkpoint.
    claims: dict[int, list[ClaimMember]] = field(default_factory=dict)
    judged: dict[int, int] = field(default_factory=dict)
    # Clusters with claims dated after the last checkpoint passed (or not yet judged): only
    # these can have a different set at the next one, so only these are looked at.
    unsettled: set[int] = field(default_factory=set)
    next_checkpoint: datetime | None = None
    _splits: list[Split] = field(default_factory=list)
    # Posts waiting for the claims they answer (see WAITING): by a sequence number, with
    # their vectors in one matrix so a cluster that grew is matched against all at once.
    waiting: dict[int, WaitingPost] = field(default_factory=dict)
    waiting_ids: dict[str, int] = field(default_factory=dict)
    waiting_index: CentroidIndex = field(init=False)
    _waiting_seq: int = 0
    latest: datetime | None = None  # the stream's latest event time
    _late: list[Late] = field(default_factory=list)
    # The latest claim that shaped a cluster, as (event time, post id): a claim before it is
    # late, and the clusters are wound back to it (see `_regroup`).
    latest_claim: tuple[datetime, str] | None = None
    split_made: set[int] = field(default_factory=set)  # clusters a split made: kept as split
    _regroups: list[Regroup] = field(default_factory=list)
    # While regrouping: claims whose cluster was left empty, and that cluster (its id is
    # reused by the first of them, in event time, that starts a cluster again).
    _vacant: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.index is None:
            self.index = CentroidIndex(self.dim)
        self.waiting_index = CentroidIndex(self.dim, capacity=256)
        self.anchors = CentroidIndex(self.dim, capacity=16)
        self.hashes = SimHashIndex(self.config.simhash_distance)

    # --- building state --------------------------------------------------------------------

    def new_cluster(self) -> int:
        cid = self.next_id
        self.next_id += 1
        return cid

    def restore(
        self,
        cid: int,
        total: Vector | None,
        count: int,
        hashes: Sequence[int],
        members: Sequence[str],
        anchor: Vector | None = None,
    ) -> None:
        """Put a live cluster back (at start-up, or after a person changed it)."""
        self.next_id = max(self.next_id, cid + 1)
        if total is not None and count > 0 and total.shape == (self.dim,):
            self.geometry[cid] = ClusterGeometry(total.astype(np.float32), count)
            centroid = normalise(total)
            if centroid is not None:
                self.index.set(cid, centroid)
        for h in hashes:
            self.hashes.add(h, cid)
        for post_id in members:
            self.members[post_id] = cid
        self.member_ids[cid] = list(members)
        if anchor is not None and anchor.shape == (self.dim,):
            self.register(cid, anchor)

    def attach(self, post_id: str, cid: int) -> None:
        """Record a post as a member (a reply that joined when its parent did); of the
        cluster it merged into, if it merged meanwhile."""
        while cid in self.redirect:
            cid = self.redirect[cid]
        seq = self.waiting_ids.get(post_id)
        if seq is not None:
            self._unwait(seq)
        self.members[post_id] = cid
        self.member_ids.setdefault(cid, []).append(post_id)

    def register(self, cid: int, anchor: Vector) -> None:
        """Match new posts against this registered claim's embedding."""
        self.next_id = max(self.next_id, cid + 1)
        self.anchors.set(cid, anchor)
        self.registered.add(cid)

    def best_for_claim(self, anchor: Vector) -> tuple[int, float]:
        """The live organic cluster most like a claim being registered."""
        return self.index.search_one(anchor)

    def remove(self, cid: int) -> None:
        """A closed cluster leaves every index and no longer attracts posts."""
        self.index.remove(cid)
        self.anchors.remove(cid)
        self.hashes.remove_cluster(cid)
        self.geometry.pop(cid, None)
        self.profiles.pop(cid, None)
        self.registered.discard(cid)
        self.claims.pop(cid, None)
        self.judged.pop(cid, None)
        self.unsettled.discard(cid)
        for post_id in self.member_ids.pop(cid, []):
            if self.members.get(post_id) == cid:
                del self.members[post_id]

    def centroid_total(self, cid: int) -> tuple[Vector | None, int]:
        g = self.geometry.get(cid)
        return (None, 0) if g is None else (g.total, g.count)

    # --- assignment ------------------------------------------------------------------------

    def assign(self, batch: Sequence[ClusterInput]) -> list[Assignment]:
        """Assign a batch in order, exactly as if its posts had come one at a time: each
        post sees the centroids as the posts before it left them, and clusters that came
        within `merge` of another merge at once (`take_merges` says after which post). So a
        fast bulk import, a paced replay and a live stream give the same clusters.

        One matrix product scores the batch against the centroids as they were; clusters
        that changed since (`dirty`) are scored again for each post, which is cheap because
        a batch touches few clusters."""
        vectors = np.zeros((len(batch), self.dim), dtype=np.float32)
        has_vec = np.zeros(len(batch), dtype=bool)
        for i, item in enumerate(batch):
            if item.embedding is not None and item.embedding.shape == (self.dim,):
                vectors[i] = item.embedding
                has_vec[i] = True
        ids_all, sims_all = _similarities(self.index, vectors)
        column = {int(c): j for j, c in enumerate(ids_all.tolist())}
        claim_ids, claim_sims = self.anchors.search(vectors)
        dirty: dict[int, Vector] = {}  # clusters changed in this batch: their centroid now
        gone: set[int] = set()  # ... and clusters merged away
        out: list[Assignment] = []
        late: list[tuple[datetime, str]] = []  # claims dated before the latest assigned
        for i, item in enumerate(batch):
            vec = vectors[i] if has_vec[i] else None
            if item.at is not None:
                for split in self._checkpoints(i, item.at):
                    self._moved(split.source, dirty)
                    self._moved(split.target, dirty)
            if item.at is not None and item.terms:
                self.df.add(item.at, item.terms)
            candidates: list[tuple[int, float]] = []
            if vec is not None:
                candidates = _top(sims_all[i], ids_all, column, dirty, gone, vec)
            a = self._assign_one(item, vec, candidates, int(claim_ids[i]), float(claim_sims[i]))
            out.append(a)
            if item.at is not None:
                at = as_utc(item.at)
                self.latest = at if self.latest is None else max(self.latest, at)
            if a.cluster < 0 and vec is not None and item.at is not None:
                if not (item.claim_like and item.asserts):
                    self._wait(item, vec)
            if a.cluster < 0 or a.how == "seen":
                continue
            if item.post_id in self.waiting_ids:  # it came again and joined this time
                self._unwait(self.waiting_ids[item.post_id])
            self.members[item.post_id] = a.cluster
            self.member_ids.setdefault(a.cluster, []).append(item.post_id)
            # Only posts asserting a claim shape a cluster (its centroid and its hashes): a
            # question, a denial or an everyday post must not pull it towards other words.
            if a.how in CONTENT_JOINS and item.claim_like and item.asserts:
                merged = self._shape(item, vec, a.cluster, dirty)
                grown = a.cluster
                if merged is not None:
                    source, target = merged
                    self._merges.append((i, source, target))
                    gone.add(source)
                    dirty.pop(source, None)
                    grown = target
                if vec is not None and item.at is not None:
                    self._release(i, grown, item.at)
                    key = (as_utc(item.at), item.post_id)
                    if self.latest_claim is not None and key < self.latest_claim:
                        late.append(key)
                    else:
                        self.latest_claim = key
        if late:
            self._regroup(late)
        self._prune_waiting()
        return out

    def _shape(
        self, item: ClusterInput, vec: Vector | None, cid: int, dirty: dict[int, Vector]
    ) -> tuple[int, int] | None:
        """A claim asserting its cluster's story joined it: its words, hash and vector now
        shape the cluster, which then merges with another if they are one rumour (returned:
        (source, target))."""
        if item.terms:
            self.profiles.setdefault(cid, TermProfile()).add(item.terms)
        if item.simhash is not None:
            self.hashes.add(item.simhash, cid)
        if vec is None:
            return None
        g = self.geometry.get(cid)
        if g is None:
            g = self.geometry[cid] = ClusterGeometry(np.zeros(self.dim, np.float32))
        g.total += vec
        g.count += 1
        if item.at is not None:
            self.keep_claim(cid, ClaimMember(item.post_id, vec, item.at, item.simhash, item.terms))
        self._moved(cid, dirty)
        merged = self._merge_one(cid)
        if merged is not None:
            self._moved(merged[1], dirty)
        return merged

    # --- late claims: winding back to event-time order -------------------------------------

    def _regroup(self, late: Sequence[tuple[datetime, str]]) -> None:
        """Late claims came (`late`: their event times and post ids): wind every organic
        cluster back to just before the earliest, take out the claims dated since, and
        assign them again in event-time order (then post id), as they would have come in
        time. Registered clusters (a person's) and clusters a split made keep their claims:
        people and the checkpoints decided those. Claims later than the horizon are left
        where they fell, and with them the cost (a backfill of old posts winds nothing back)."""
        assert self.latest_claim is not None
        since = max(min(late), (self.latest_claim[0] - REGROUP_HORIZON, ""))
        dated: list[tuple[datetime, str]] = []
        for cid, kept in self.claims.items():
            if cid in self.registered or cid in self.split_made or cid not in self.geometry:
                continue
            n = bisect.bisect_left(kept, since, key=_claim_order)
            dated += [_claim_order(m) for m in kept[n:]]
        if len(dated) > REGROUP_MAX:
            since = sorted(dated)[-REGROUP_MAX]
        if max(late) < since:
            return  # every late claim is beyond the horizon
        old: dict[str, int] = {}
        replay: list[ClaimMember] = []
        for cid in sorted(self.claims):
            kept = self.claims[cid]
            if cid in self.registered or cid in self.split_made or cid not in self.geometry:
                continue
            n = bisect.bisect_left(kept, since, key=_claim_order)
            if n == len(kept):
                continue
            going = kept[n:]
            del kept[n:]
            replay += going
            for m in going:
                old[m.post_id] = cid
            self._wind_back(cid, going)
        if not replay:
            return
        replay.sort(key=_claim_order)
        vacant = {cid for cid in set(old.values()) if cid not in self.geometry}
        self._vacant = {m.post_id: old[m.post_id] for m in replay if old[m.post_id] in vacant}
        moves: list[tuple[str, int, int]] = []
        merges: list[tuple[int, int]] = []
        joined: dict[str, int] = {}
        # The words of the posts dated up to each claim, as time order would have had them.
        held = self.df.hold(since[0])
        k = 0
        try:
            for m in replay:
                at = as_utc(m.at)
                while k < len(held) and held[k][0] <= at:
                    k += 1
                    self.df.put_back(held[k - 1 : k])
                cid = self._reassign(m, merges)
                joined[m.post_id] = cid
                if cid != old[m.post_id]:
                    moves.append((m.post_id, old[m.post_id], cid))
        finally:
            self._vacant = {}
            self.df.put_back(held[k:])
        # A cluster left with none of its claims goes into the one that took most of them
        # (the earliest of those on a tie): its other posts, and its alerts, go with them.
        for cid in sorted(vacant):
            if cid in self.geometry or cid in self.redirect:
                continue  # one of its claims started it again, or a merge took it
            taken: dict[int, list[tuple[datetime, str]]] = {}
            for m in replay:
                if old[m.post_id] == cid:
                    taken.setdefault(self.resolve(joined[m.post_id]), []).append(_claim_order(m))
            target = min(taken, key=lambda c: (-len(taken[c]), min(taken[c])))
            self.absorb(cid, target)
            merges.append((cid, target))
        self._regroups.append(Regroup(tuple(moves), tuple(merges), since[0]))

    def _wind_back(self, cid: int, going: Sequence[ClaimMember]) -> None:
        """Take these claims (dated at or after the point wound back to) out of a cluster's
        centroid, hashes and words; a cluster left with none leaves the index."""
        g = self.geometry[cid]
        g.total = g.total - np.sum([m.vector for m in going], axis=0).astype(np.float32)
        g.count -= len(going)
        staying = {m.simhash for m in self.claims.get(cid, ()) if m.simhash is not None}
        self.hashes.remove_some(
            [m.simhash for m in going if m.simhash is not None and m.simhash not in staying], cid
        )
        profile = self.profiles.get(cid)
        if profile is not None:
            for m in going:
                if m.terms:
                    profile.remove(m.terms)
        going_ids = {m.post_id for m in going}
        self.member_ids[cid] = [p for p in self.member_ids.get(cid, []) if p not in going_ids]
        for post_id in going_ids:
            if self.members.get(post_id) == cid:
                del self.members[post_id]
        self.judged.pop(cid, None)
        self.unsettled.add(cid)
        if g.count <= 0:
            self.geometry.pop(cid)
            self.profiles.pop(cid, None)
            self.index.remove(cid)
        else:
            self._moved(cid, {})

    def _reassign(self, m: ClaimMember, merges: list[tuple[int, int]]) -> int:
        """Assign one wound-back claim again, as `assign` does; returns the cluster it
        joined (before any merge it then made)."""
        vec = m.vector
        ids, sims = _similarities(self.index, vec[None, :])
        candidates = _top(sims[0], ids, {}, {}, set(), vec)
        claim_ids, claim_sims = self.anchors.search(vec[None, :])
        item = ClusterInput(m.post_id, vec, m.simhash, (), True, True, m.terms, m.at)
        a = self._assign_one(item, vec, candidates, int(claim_ids[0]), float(claim_sims[0]))
        self.members[m.post_id] = a.cluster
        self.member_ids.setdefault(a.cluster, []).append(m.post_id)
        merged = self._shape(item, vec, a.cluster, {})
        if merged is not None:
            merges.append(merged)
        return a.cluster

    def _start(self, post_id: str) -> int:
        """The id for a cluster this claim starts: while regrouping, the id of the cluster it
        was in if that was left empty (so a cluster keeps its id, and its alerts, while its
        first claim still starts it); otherwise a new one."""
        cid = self._vacant.pop(post_id, None)
        if cid is not None and cid not in self.geometry and cid not in self.redirect:
            for p in [p for p, c in self._vacant.items() if c == cid]:
                del self._vacant[p]
            return cid
        return self.new_cluster()

    def resolve(self, cid: int) -> int:
        """The cluster a merged one went into (itself if it was not merged)."""
        while cid in self.redirect:
            cid = self.redirect[cid]
        return cid

    def take_regroups(self) -> list[Regroup]:
        """The regroups the last batch made, in order (after all its posts)."""
        regroups, self._regroups = self._regroups, []
        return regroups

    # --- posts waiting for their claims ----------------------------------------------------

    def _wait(self, item: ClusterInput, vec: Vector) -> None:
        assert item.at is not None
        if item.post_id in self.waiting_ids or item.post_id in self.members:
            return
        at = as_utc(item.at)
        seq = self._waiting_seq
        self._waiting_seq += 1
        self.waiting[seq] = WaitingPost(item.post_id, vec.copy(), at, item.terms, item.claim_like)
        self.waiting_ids[item.post_id] = seq
        self.waiting_index.set(seq, vec)

    def keep_waiting(self, item: ClusterInput) -> None:
        """Put back a post that was waiting for its claims (at start-up)."""
        vec = item.embedding
        if vec is None or vec.shape != (self.dim,) or item.at is None:
            return
        at = as_utc(item.at)
        self.latest = at if self.latest is None else max(self.latest, at)
        self._wait(item, vec)

    def _unwait(self, seq: int) -> None:
        w = self.waiting.pop(seq, None)
        if w is not None:
            self.waiting_ids.pop(w.post_id, None)
            self.waiting_index.remove(seq)

    def _prune_waiting(self) -> None:
        """Drop posts that waited longer than any claim can still come for them (`WAITING`,
        and `SPLIT_LATENESS` for claims arriving late), and the oldest beyond `WAITING_MAX`."""
        if not self.waiting or self.latest is None:
            return
        cutoff = self.latest - WAITING - SPLIT_LATENESS
        old = [seq for seq, w in self.waiting.items() if w.at < cutoff]
        excess = len(self.waiting) - len(old) - WAITING_MAX
        if excess > 0:
            rest = sorted(
                (s for s, w in self.waiting.items() if w.at >= cutoff),
                key=lambda s: (self.waiting[s].at, self.waiting[s].post_id),
            )
            old += rest[:excess]
        for seq in old:
            self._unwait(seq)

    def _release(self, position: int, cid: int, at: datetime) -> None:
        """A claim dated `at` grew cluster `cid`: take in the waiting posts it now matches, by
        the rule they would have joined by had they come after it (a question or denial of a
        claim: `join`; any other post: `join_unclaimed` to its closest cluster, once two
        claims agree, with the claim's words), and dated no more than `WAITING` before it."""
        if not self.waiting or cid not in self.geometry:
            return
        centroid = normalise(self.geometry[cid].total)
        if centroid is None:
            return
        at = as_utc(at)
        cfg = self.config
        ids = self.waiting_index.ids()
        sims = self.waiting_index.similarities(centroid[None, :])[0]
        low = min(cfg.join, cfg.join_unclaimed)
        found = [(self.waiting[int(ids[j])], int(ids[j]), float(sims[j])) for j in
                 np.flatnonzero(sims >= low)]  # fmt: skip
        # In event time (then post id), so that ties do not depend on arrival.
        found.sort(key=lambda f: (f[0].at, f[0].post_id))
        for w, seq, sim in found:
            if at - w.at > WAITING:
                continue
            if w.claim_like:
                if sim < cfg.join:
                    continue
            else:
                if sim < cfg.join_unclaimed or not self._established(cid):
                    continue
                best, _ = self.index.search_one(w.vector)
                if best != cid or not self.same_claim(cid, w.terms, unclaimed=True):
                    continue
            self._unwait(seq)
            self.members[w.post_id] = cid
            self.member_ids.setdefault(cid, []).append(w.post_id)
            self._late.append(Late(position, w.post_id, cid, sim, max(at, w.at)))

    def take_late(self) -> list[Late]:
        """The waiting posts the last batch took in, in order."""
        late, self._late = self._late, []
        return late

    def advance(self, t: datetime) -> list[Split]:
        """Event time has reached `t` with no post (the end of a replay, a quiet stream):
        decide the checkpoints it passed, as the next post would have."""
        before = len(self._splits)
        splits = self._checkpoints(0, t)
        del self._splits[before:]  # returned here, not left for the next batch's
        return splits

    def keep_claim(self, cid: int, claim: ClaimMember) -> None:
        """Keep a claim for splitting, in event-time order (a late post goes in its place)."""
        kept = self.claims.setdefault(cid, [])
        bisect.insort(kept, claim, key=_claim_order)
        self.unsettled.add(cid)
        if len(kept) > SPLIT_MEMORY:
            del kept[0]
            self.judged.pop(cid, None)  # the set it was judged on is gone: judge it again

    def _checkpoints(self, position: int, at: datetime) -> list[Split]:
        """Decide the splits of every checkpoint the stream's event time (`at`, the post
        about to be assigned) has passed by the lateness allowed: each on the claims dated
        before its checkpoint, in time order, so that it depends on the set of posts, not
        on the order they came in. A cluster is judged again only when that set grew."""
        at = as_utc(at)
        if self.next_checkpoint is None:
            self.next_checkpoint = checkpoint_after(at)
        out: list[Split] = []
        while at >= self.next_checkpoint + SPLIT_LATENESS:
            t = self.next_checkpoint
            for cid in sorted(self.unsettled):
                kept = self.claims.get(cid)
                if not kept or cid in self.registered or cid not in self.geometry:
                    self.unsettled.discard(cid)
                    continue
                n = bisect.bisect_left(kept, t, key=lambda c: c.at)
                if n == len(kept):
                    self.unsettled.discard(cid)  # settled until another claim joins it
                if n == self.judged.get(cid):
                    continue
                self.judged[cid] = n
                split = self._split_one(position, cid, t, n)
                if split is not None:
                    out.append(split)
            self.next_checkpoint = t + SPLIT_EVERY
        return out

    def take_splits(self) -> list[Split]:
        """The splits the last batch made, in order."""
        splits, self._splits = self._splits, []
        return splits

    def split_config(self) -> SplitConfig:
        """Each side as tight as a cluster may be (and at least as tight as a claim must be
        to join); the sides not one claim by the merge rule (centroids within `merge`, the
        claims' words alike)."""
        return SplitConfig(
            cohesion=max(self.config.cohesion, self.config.join),
            separation=self.config.merge,
            terms=MERGE_TERMS,
        )

    def _split_one(self, position: int, cid: int, at: datetime, n: int) -> Split | None:
        """Split this cluster if its first `n` claims (those dated before the checkpoint
        `at`) have diverged into two stories. Its claims dated after `at` (already here,
        within the lateness) go to the side whose centroid they are closer to."""
        kept = self.claims[cid]
        judged = kept[:n]

        def terms_similarity(a: Sequence[int], b: Sequence[int]) -> float | None:
            pa, pb = TermProfile(), TermProfile()
            for i in a:
                pa.add(judged[i].terms)
            for i in b:
                pb.add(judged[i].terms)
            if pa.n < MIN_PROFILE or pb.n < MIN_PROFILE or not pa.counts or not pb.counts:
                return None  # too few words to tell: similarity alone decides
            return pa.similarity(pb, self.df)

        decision = decide_split(
            [m.vector for m in judged],
            [m.at for m in judged],
            at,
            self.split_config(),
            terms_similarity,
        )
        if decision is None:
            return None
        staying = [judged[i] for i in decision.staying]
        leaving = [judged[i] for i in decision.leaving]
        stay_c = normalise(np.sum([m.vector for m in staying], axis=0))
        leave_c = normalise(np.sum([m.vector for m in leaving], axis=0))
        for m in kept[n:]:
            if (
                stay_c is not None
                and leave_c is not None
                and m.vector @ leave_c > m.vector @ stay_c
            ):
                leaving.append(m)
            else:
                staying.append(m)
        target = self.new_cluster()
        self.split_made.add(target)
        self.claims[cid] = sorted(staying, key=_claim_order)
        self.claims[target] = sorted(leaving, key=_claim_order)
        self.judged[cid] = sum(1 for m in self.claims[cid] if m.at < at)
        self.judged[target] = sum(1 for m in self.claims[target] if m.at < at)
        self.unsettled.update((cid, target))
        g = self.geometry[cid]
        moved = np.sum([m.vector for m in leaving], axis=0).astype(np.float32)
        g.total = g.total - moved
        g.count -= len(leaving)
        self.geometry[target] = ClusterGeometry(moved, len(leaving))
        self.hashes.move_some([m.simhash for m in leaving if m.simhash is not None], cid, target)
        profile = self.profiles.get(cid)
        fresh = TermProfile()
        for m in leaving:
            if m.terms:
                fresh.add(m.terms)
                if profile is not None:
                    profile.remove(m.terms)
        if fresh.n:
            self.profiles[target] = fresh
        ids = tuple(sorted(m.post_id for m in leaving))
        self.move(ids, cid, target)
        split = Split(position, cid, target, ids, decision, at + SPLIT_LATENESS)
        self._splits.append(split)
        return split

    def move(self, post_ids: Sequence[str], source: int, target: int) -> None:
        """Record these members of `source` as members of `target` (a split)."""
        going = set(post_ids)
        self.member_ids[source] = [p for p in self.member_ids.get(source, []) if p not in going]
        dest = self.member_ids.setdefault(target, [])
        for post_id in post_ids:
            if self.members.get(post_id) == source:
                self.members[post_id] = target
                dest.append(post_id)

    def take_merges(self) -> list[tuple[int, int, int]]:
        """(position in the last batch, source, target) of the merges it made, in order."""
        merges, self._merges = self._merges, []
        return merges

    def _moved(self, cid: int, dirty: dict[int, Vector]) -> None:
        """A cluster's centroid changed: index it now (a registered rumour with no organic
        centroid yet matches by its anchor only)."""
        centroid = normalise(self.geometry[cid].total) if cid in self.geometry else None
        if centroid is None:
            return
        if cid not in self.registered or cid in self.index:
            self.index.set(cid, centroid)
            dirty[cid] = centroid

    def _merge_one(self, cid: int) -> tuple[int, int] | None:
        """Merge this cluster with the closest other if they are one rumour: centroids within
        `merge`, as tight together as a cluster may be, and telling the same claim. The smaller
        goes into the larger; a registered rumour is never absorbed by an organic one, and two
        registered rumours are never merged (people made both)."""
        if cid not in self.index or cid not in self.geometry:
            return None
        centroid = normalise(self.geometry[cid].total)
        if centroid is None:
            return None
        other, sim = self.index.search_one(centroid, exclude=cid)
        if other < 0 or sim < self.config.merge or other not in self.index:
            return None
        if not self._mergeable(cid, other):
            return None
        # Size by the claims that shaped each (replies attach at different moments in a
        # bulk batch and a paced stream); the older one wins a tie.
        size = {c: (self.geometry[c].count if c in self.geometry else 0, -c) for c in (cid, other)}
        if other in self.registered or (cid not in self.registered and size[other] >= size[cid]):
            source, target = cid, other
        else:
            source, target = other, cid
        self.absorb(source, target)
        return source, target

    def _mergeable(self, cid: int, other: int) -> bool:
        if cid in self.registered and other in self.registered:
            return False
        g_other = self.geometry.get(other)
        if g_other is not None and (
            self.cohesion(cid, g_other.total, g_other.count) < self.config.cohesion
        ):
            return False  # together they would be looser than a cluster may be
        p1, p2 = self.profiles.get(cid), self.profiles.get(other)
        if p1 is not None and p2 is not None and p1.similarity(p2, self.df) < MERGE_TERMS:
            return False  # alike in topic and place, but different claims
        return True

    def _assign_one(
        self,
        item: ClusterInput,
        vec: Vector | None,
        candidates: list[tuple[int, float]],
        claim_id: int,
        claim_sim: float,
    ) -> Assignment:
        cfg = self.config
        if item.post_id in self.members:  # seen before (a retry or an edit): counted once
            return Assignment(self.members[item.post_id], "seen", 1.0)
        for link in item.links:
            if link in self.members:
                return Assignment(self.members[link], "link", 1.0)
        if item.simhash is not None:
            dup = self.hashes.find(item.simhash)
            if dup is not None:
                return Assignment(dup[0], "duplicate", 1.0 - dup[1] / 64)
        pending: tuple[tuple[int, float], ...] = ()
        if vec is not None and claim_id >= 0:
            if claim_sim >= cfg.claim_match:
                return Assignment(claim_id, "claim", claim_sim)
            if claim_sim >= cfg.claim_confirm:
                pending = ((claim_id, claim_sim),)
        best_id, best_sim = -1, -1.0
        if vec is not None:
            if candidates:
                best_id, best_sim = candidates[0]
            if item.claim_like:
                # The closest cluster this claim fits: near enough, saying the same thing
                # (its claim terms), and staying tight with it.
                for cid, sim in candidates:
                    if sim < cfg.join:
                        break
                    if not item.asserts or (
                        self.cohesive(cid, vec) and self.same_claim(cid, item.terms)
                    ):
                        return Assignment(cid, "similar", sim, pending)
            elif best_id >= 0 and best_sim >= cfg.join_unclaimed and self._established(best_id):
                if self.same_claim(best_id, item.terms, unclaimed=True):
                    return Assignment(best_id, "similar", best_sim, pending)
        if item.claim_like and item.asserts:
            return Assignment(self._start(item.post_id), "new", 1.0, pending)
        if vec is not None and best_id >= 0 and best_sim >= cfg.join:
            # Talk about the same thing that is not a claim: it counts against the cluster's
            # claim share (a burst of everyday talk is not a rumour however alike it sounds).
            return Assignment(-1, "none", best_sim, pending, near=best_id)
        return Assignment(-1, "none", 0.0, pending)

    def cohesion(self, cid: int, extra: Vector | None = None, count: int = 1) -> float:
        """Mean similarity of a cluster's claim posts to their centroid (|sum| / n of unit
        vectors), with `extra` (a sum of `count` more unit vectors) added."""
        g = self.geometry.get(cid)
        total = g.total if g is not None else np.zeros(self.dim, np.float32)
        n = g.count if g is not None else 0
        if extra is not None:
            total, n = total + extra, n + count
        return float(np.linalg.norm(total)) / n if n else 1.0

    def cohesive(self, cid: int, vec: Vector) -> bool:
        """The ceiling on a cluster's spread: a claim joins only if the cluster stays at
        least `cohesion` tight with it, so a breaking event's many claims stay apart instead
        of drifting, post by post, into one catch-all."""
        if cid in self.registered:
            return True  # a person's claim: its anchor, not its spread, decides
        return self.cohesion(cid, vec) >= self.config.cohesion

    def same_claim(self, cid: int, terms: frozenset[str], *, unclaimed: bool = False) -> bool:
        """Whether a post's claim terms are typical of the cluster's claims (IDF-weighted,
        so the day's topic and place words count little). Without terms on either side
        (a restart, an emoji-only post) similarity alone decides. A post that is not itself
        a claim needs only half the overlap: a question about the claim rephrases it."""
        profile = self.profiles.get(cid)
        if not terms or profile is None or profile.n < MIN_PROFILE or cid in self.registered:
            return True
        need = self.config.term_overlap * (0.5 if unclaimed else 1.0)
        return profile.overlap(terms, self.df) >= need

    def _established(self, cid: int) -> bool:
        """Two claim-like posts agree: only then may other posts join by similarity."""
        g = self.geometry.get(cid)
        return (g is not None and g.count >= 2) or cid in self.registered

    # --- merging ---------------------------------------------------------------------------

    def absorb(self, source: int, target: int) -> None:
        gs, gt = self.geometry.get(source), self.geometry.get(target)
        if gs is not None:
            if gt is None:
                self.geometry[target] = ClusterGeometry(gs.total.copy(), gs.count)
            else:
                gt.total += gs.total
                gt.count += gs.count
        centroid = normalise(self.geometry[target].total) if target in self.geometry else None
        if centroid is not None:
            self.index.set(target, centroid)
        self.hashes.move(source, target)
        ps = self.profiles.pop(source, None)
        if ps is not None:
            self.profiles.setdefault(target, TermProfile()).absorb(ps)
        for post_id in self.member_ids.pop(source, []):
            self.members[post_id] = target
            self.member_ids.setdefault(target, []).append(post_id)
        claims = self.claims.pop(source, [])
        self.judged.pop(source, None)
        self.unsettled.discard(source)
        if claims:
            merged = sorted(self.claims.get(target, []) + claims, key=_claim_order)
            self.claims[target] = merged[-SPLIT_MEMORY:]
            self.judged.pop(target, None)
            self.unsettled.add(target)
        self.index.remove(source)
        self.anchors.remove(source)
        self.geometry.pop(source, None)
        self.registered.discard(source)
        self.redirect[source] = target
