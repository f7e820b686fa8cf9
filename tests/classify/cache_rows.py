"""Rows in a real on-disk encoding cache file (monitor.classify.disk_cache), written and looked
up as a classifier would, under a stand-in encoder identity: for the tests that check a
deletion, an erasure or a purge reaches the file."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from monitor.classify.deobfuscate import encoder_text
from monitor.classify.disk_cache import DiskCacheConfig, DiskEncodingCache
from monitor.classify.encoder import EMBEDDING_DIM

LAYERS = 2
IDENTITY = "stand-in graph=aaaa"


def _cache(folder: Path, identity: str, at: float | None = None) -> DiskEncodingCache:
    config = DiskCacheConfig(folder, 1000, 30)
    return DiskEncodingCache(
        config.path,
        identity,
        width=LAYERS * EMBEDDING_DIM,
        max_rows=config.max_rows,
        max_age_days=config.max_age_days,
        clock=time.time if at is None else lambda: at,
    )


def store(
    folder: Path, prepared: Iterable[str], identity: str = IDENTITY, at: float | None = None
) -> None:
    """Rows for these prepared texts, as the classifier writes them (last used `at`)."""
    texts = list(dict.fromkeys(prepared))
    rng = np.random.default_rng(len(texts))
    cache = _cache(folder, identity, at)
    cache.put_many(
        texts,
        rng.standard_normal((len(texts), LAYERS * EMBEDDING_DIM)).astype(np.float32),
        rng.standard_normal((len(texts), EMBEDDING_DIM)).astype(np.float32),
    )
    cache.close()


def found(folder: Path, prepared: Iterable[str], identity: str = IDENTITY) -> set[str]:
    """Which of these prepared texts a look-up finds (the rest are misses)."""
    cache = _cache(folder, identity)
    try:
        return set(cache.get_many(list(prepared)))
    finally:
        cache.close()


def served(text: str, *, deobfuscate: bool = False) -> str:
    """What the classifier encodes, and keys its rows by, for a post's text."""
    return encoder_text(text, deobfuscate)
