"""Pure: near-duplicate detection by 64-bit SimHash of normalised text, with a banded index.

Copy-pasted claims ("share before it's deleted"), reposts with a word added and quote posts
that repeat the text are near-duplicates whatever the embedding says. SimHash maps similar
word sets to hashes a few bits apart; splitting the 64 bits into d+1 bands means any two hashes
within d bits agree exactly on at least one band (pigeonhole), so lookups are dict hits.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import numpy as np

_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@[\w.]+")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
MIN_TOKENS = 6  # shorter texts ("Source?", "This.") collide with everything: never hashed
MAX_DISTANCE = 7


def tokens(text: str) -> list[str]:
    """Lower-cased words without links or handles: what "the same text" means here."""
    text = _MENTION.sub(" ", _URL.sub(" ", text.lower().replace("\u2019", "'")))
    return _WORD.findall(text)


def _feature_hashes(words: list[str]) -> np.ndarray:
    feats = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    raw = b"".join(hashlib.blake2b(f.encode(), digest_size=8).digest() for f in feats)
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(feats), 8)


def simhash(text: str) -> int | None:
    """64-bit SimHash over words and word pairs; None for texts too short to compare."""
    words = tokens(text)
    if len(words) < MIN_TOKENS:
        return None
    bits = np.unpackbits(_feature_hashes(words), axis=1)  # (features, 64) of 0/1
    votes = bits.sum(axis=0, dtype=np.int32) * 2 - bits.shape[0]
    value = 0
    for bit in np.flatnonzero(votes > 0):
        value |= 1 << (63 - int(bit))
    return value


class SimHashIndex:
    """Hashes of cluster members, looked up by band; answers 'which cluster has a
    near-duplicate of this hash'."""

    def __init__(self, distance: int = 3) -> None:
        if not 0 <= distance <= MAX_DISTANCE:
            raise ValueError(f"simhash distance must be 0..{MAX_DISTANCE}, got {distance}")
        self.distance = distance
        n = distance + 1
        widths = [64 // n + (1 if i < 64 % n else 0) for i in range(n)]
        self._bands: list[tuple[int, int]] = []  # (shift, mask)
        shift = 64
        for w in widths:
            shift -= w
            self._bands.append((shift, (1 << w) - 1))
        self._table: dict[tuple[int, int], dict[int, int]] = {}  # (band, value) -> hash -> id
        self._by_cluster: dict[int, set[int]] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_cluster.values())

    def _keys(self, h: int) -> Iterable[tuple[int, int]]:
        for i, (shift, mask) in enumerate(self._bands):
            yield i, (h >> shift) & mask

    def add(self, h: int, cluster: int) -> None:
        self._by_cluster.setdefault(cluster, set()).add(h)
        for key in self._keys(h):
            self._table.setdefault(key, {})[h] = cluster

    def find(self, h: int) -> tuple[int, int] | None:
        """(cluster, bits apart) of the nearest indexed hash within the distance, if any."""
        best: tuple[int, int] | None = None
        for key in self._keys(h):
            for other, cluster in self._table.get(key, {}).items():
                d = (h ^ other).bit_count()
                if d <= self.distance and (best is None or d < best[1]):
                    best = (cluster, d)
        return best

    def hashes(self, cluster: int) -> set[int]:
        return set(self._by_cluster.get(cluster, ()))

    def count(self, cluster: int) -> int:
        return len(self._by_cluster.get(cluster, ()))

    def remove_cluster(self, cluster: int) -> None:
        for h in self._by_cluster.pop(cluster, set()):
            self._unindex(h, cluster)

    def remove_some(self, hashes: Iterable[int], cluster: int) -> None:
        """Take these of a cluster's hashes out (claims wound back to be assigned again)."""
        own = self._by_cluster.get(cluster, set())
        for h in hashes:
            if h not in own:
                continue
            own.discard(h)
            self._unindex(h, cluster)

    def _unindex(self, h: int, cluster: int) -> None:
        """Take one hash of this cluster out of every band's bucket (another cluster's entry
        for the same hash stays)."""
        for key in self._keys(h):
            bucket = self._table.get(key)
            if bucket is not None and bucket.get(h) == cluster:
                del bucket[h]
                if not bucket:
                    del self._table[key]

    def move_some(self, hashes: Iterable[int], source: int, target: int) -> None:
        """Re-point these of a cluster's hashes at another (a split's leaving side)."""
        own = self._by_cluster.get(source, set())
        for h in hashes:
            if h in own:
                own.discard(h)
                self.add(h, target)

    def move(self, source: int, target: int) -> None:
        """Re-point a merged cluster's hashes at the cluster it merged into."""
        for h in self._by_cluster.pop(source, set()):
            self.add(h, target)
