"""The encoder-output cache stays within its bound and drops the least recently used text."""

from __future__ import annotations

import numpy as np

from monitor.classify.transformer import EncodingCache


def row(v: float) -> np.ndarray:
    return np.full(4, v, dtype=np.float32)


def test_cache_is_bounded_and_evicts_least_recently_used() -> None:
    cache = EncodingCache(2)
    cache.put("a", row(1), row(1))
    cache.put("b", row(2), row(2))
    assert cache.get("a") is not None  # "a" is now the most recently used
    cache.put("c", row(3), row(3))
    assert len(cache) == 2
    assert cache.get("b") is None
    hit = cache.get("a")
    assert hit is not None and float(hit[0][0]) == 1.0
    assert cache.get("c") is not None
    assert (cache.hits, cache.misses) == (3, 1)


def test_cached_rows_are_copies_not_views_of_the_batch() -> None:
    cache = EncodingCache(4)
    batch = np.zeros((3, 4), dtype=np.float32)
    cache.put("x", batch[1], batch[1])
    batch[1] = 9.0
    hit = cache.get("x")
    assert hit is not None and float(hit[0].max()) == 0.0


def test_size_zero_caches_nothing() -> None:
    cache = EncodingCache(0)
    cache.put("a", row(1), row(1))
    assert len(cache) == 0 and cache.get("a") is None
