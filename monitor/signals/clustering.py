"""Pure: online clustering of claim-like posts.

A post joins a cluster on the first of:
1. a link: it replies to, quotes or reposts a post already in a cluster;
2. a near-duplicate: its SimHash is within a few bits of a claim-like member's;
3. a registered claim: its embedding is at least `claim_match` similar to a claim that comms
   staff registered (between `claim_confirm` and `claim_match` it is held for a person);
4. similarity: its embedding is at least `join` similar to a cluster's centroid (a post that
   is not itself claim-like needs `join_unclaimed`, and a cluster two claim-like posts agree on).
Otherwise a claim-like post that asserts the claim (the classifier does not read it as a
question or a denial) starts a new cluster, and any other post stays out. Only such posts move
a centroid or add hashes, so questions, replies and chatter cannot drag a cluster or split off
a cluster of their own.

Centroids live in one float32 matrix, so matching a batch against 10,000 clusters is one
matrix product; after each batch, clusters whose centroids came within `merge` of each other
are merged (the rumour is one cluster, not many).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from monitor.signals.config import RumourConfig
from monitor.signals.hashing import SimHashIndex

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

    def search_others(
        self, vectors: Matrix, own: Sequence[int]
    ) -> tuple[npt.NDArray[np.int64], Vector]: ...


class Sizes(Protocol):
    def get(self, cid: int, default: int = 0, /) -> int: ...


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


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where one post went: a cluster id (or -1: none), how, and the similarity that decided.
    `pending`: registered rumours it resembles within the confirmation band."""

    cluster: int
    how: str  # link | duplicate | claim | similar | new | none | seen
    similarity: float = 0.0
    pending: tuple[tuple[int, float], ...] = ()


CONTENT_JOINS = ("duplicate", "claim", "similar", "new")


@dataclass(slots=True)
class _Fresh:
    vectors: Matrix
    ids: list[int] = field(default_factory=list)

    def add(self, cid: int, vector: Vector) -> None:
        self.vectors[len(self.ids)] = vector
        self.ids.append(cid)


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

    def __post_init__(self) -> None:
        if self.index is None:
            self.index = CentroidIndex(self.dim)
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
        """Record a post as a member (a reply that joined when its parent did)."""
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
        self.registered.discard(cid)
        for post_id in self.member_ids.pop(cid, []):
            if self.members.get(post_id) == cid:
                del self.members[post_id]

    def centroid_total(self, cid: int) -> tuple[Vector | None, int]:
        g = self.geometry.get(cid)
        return (None, 0) if g is None else (g.total, g.count)

    # --- assignment ------------------------------------------------------------------------

    def assign(self, batch: Sequence[ClusterInput]) -> list[Assignment]:
        """Assign a batch in order; centroids move once at the end of the batch."""
        vectors = np.zeros((len(batch), self.dim), dtype=np.float32)
        has_vec = np.zeros(len(batch), dtype=bool)
        for i, item in enumerate(batch):
            if item.embedding is not None and item.embedding.shape == (self.dim,):
                vectors[i] = item.embedding
                has_vec[i] = True
        best_ids, best_sims = self.index.search(vectors)
        claim_ids, claim_sims = self.anchors.search(vectors)
        # Clusters started in this batch, so that later posts of the batch can join them.
        fresh = _Fresh(np.zeros((len(batch), self.dim), dtype=np.float32))
        out: list[Assignment] = []
        touched: set[int] = set()
        for i, item in enumerate(batch):
            vec = vectors[i] if has_vec[i] else None
            a = self._assign_one(
                item,
                vec,
                int(best_ids[i]),
                float(best_sims[i]),
                int(claim_ids[i]),
                float(claim_sims[i]),
                fresh,
            )
            out.append(a)
            if a.cluster < 0 or a.how == "seen":
                continue
            self.members[item.post_id] = a.cluster
            self.member_ids.setdefault(a.cluster, []).append(item.post_id)
            # Only posts asserting a claim shape a cluster (its centroid and its hashes): a
            # question, a denial or an everyday post must not pull it towards other words.
            if a.how in CONTENT_JOINS and item.claim_like and item.asserts:
                if vec is not None:
                    g = self.geometry.get(a.cluster)
                    if g is None:
                        g = self.geometry[a.cluster] = ClusterGeometry(
                            np.zeros(self.dim, np.float32)
                        )
                    g.total += vec
                    g.count += 1
                    touched.add(a.cluster)
                if item.simhash is not None:
                    self.hashes.add(item.simhash, a.cluster)
            if a.how == "new" and vec is not None:
                fresh.add(a.cluster, vec)
        for cid in touched:
            centroid = normalise(self.geometry[cid].total)
            if centroid is not None and (cid not in self.registered or cid in self.index):
                self.index.set(cid, centroid)
        return out

    def _assign_one(
        self,
        item: ClusterInput,
        vec: Vector | None,
        best_id: int,
        best_sim: float,
        claim_id: int,
        claim_sim: float,
        fresh: _Fresh,
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
        if vec is not None:
            if fresh.ids:
                sims = fresh.vectors[: len(fresh.ids)] @ vec
                k = int(np.argmax(sims))
                if float(sims[k]) > best_sim:
                    best_id, best_sim = fresh.ids[k], float(sims[k])
            if best_id >= 0 and best_sim >= cfg.join and item.claim_like:
                return Assignment(best_id, "similar", best_sim, pending)
            if best_id >= 0 and best_sim >= cfg.join_unclaimed and self._established(best_id):
                return Assignment(best_id, "similar", best_sim, pending)
        if item.claim_like and item.asserts:
            return Assignment(self.new_cluster(), "new", 1.0, pending)
        return Assignment(-1, "none", 0.0, pending)

    def _established(self, cid: int) -> bool:
        """Two claim-like posts agree: only then may other posts join by similarity."""
        g = self.geometry.get(cid)
        return (g is not None and g.count >= 2) or cid in self.registered

    # --- merging ---------------------------------------------------------------------------

    def merge_candidates(self, touched: Sequence[int], sizes: Sizes) -> list[tuple[int, int]]:
        """(source, target) pairs to merge: touched clusters whose centroid is within `merge`
        of another's. The smaller goes into the larger; a registered rumour is never absorbed
        by an organic one, and two registered rumours are never merged (people made both)."""
        merges: list[tuple[int, int]] = []
        gone: set[int] = set()
        own: list[int] = []
        rows: list[Vector] = []
        for cid in dict.fromkeys(touched):
            g = self.geometry.get(cid)
            centroid = normalise(g.total) if g is not None and cid in self.index else None
            if centroid is not None:
                own.append(cid)
                rows.append(centroid)
        if not own:
            return merges
        others, sims = self.index.search_others(np.stack(rows), own)
        for cid, other, sim in zip(own, others.tolist(), sims.tolist(), strict=True):
            if cid in gone or other < 0 or other in gone or sim < self.config.merge:
                continue
            if other not in self.index or cid not in self.index:
                continue
            if cid in self.registered and other in self.registered:
                continue
            if other in self.registered or (
                cid not in self.registered and sizes.get(other, 0) >= sizes.get(cid, 0)
            ):
                source, target = cid, other
            else:
                source, target = other, cid
            self.absorb(source, target)
            gone.add(source)
            merges.append((source, target))
        return merges

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
        for post_id in self.member_ids.pop(source, []):
            self.members[post_id] = target
            self.member_ids.setdefault(target, []).append(post_id)
        self.index.remove(source)
        self.anchors.remove(source)
        self.geometry.pop(source, None)
        self.registered.discard(source)
