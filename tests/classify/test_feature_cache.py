"""The training and evaluation feature cache (`monitor.classify.features`), with a stand-in
encoder: rows are reused only from files of the same encoder variant and adapter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monitor.classify.encoder import EMBEDDING_DIM
from monitor.classify.features import FeatureCache


@dataclass
class _Encoded:
    features: Any


class _Counting:
    """Encodes every text as rows of `value`, and counts the texts it was asked for."""

    def __init__(self, pools: int, value: float) -> None:
        self.pools, self.value, self.seen = pools, value, 0

    def encode(self, texts: Sequence[str]) -> _Encoded:
        self.seen += len(texts)
        return _Encoded(np.full((len(texts), self.pools * EMBEDDING_DIM), self.value, np.float32))


@dataclass(frozen=True)
class _Adapter:
    sha256: str = "ab" * 32


def _cache(tmp_path: Path, adapter: _Adapter | None, value: float) -> tuple[FeatureCache, Any]:
    cache = FeatureCache(tmp_path, variant="onnx", adapter=adapter)  # type: ignore[arg-type]
    encoder = _Counting(len(cache.pools), value)
    cache._encoder = encoder  # type: ignore[assignment]
    return cache, encoder


def test_rows_of_an_adapted_encoder_are_not_reused_for_the_frozen_one(tmp_path: Path) -> None:
    texts = ["Fictional: bins not collected in Idle", "Fictional: gala in Wibsey on Sunday"]
    adapted, _ = _cache(tmp_path, _Adapter(), 1.0)
    assert adapted.layers("set", texts).shape == (2, 9, EMBEDDING_DIM)
    frozen, encoder = _cache(tmp_path, None, 2.0)
    pools = frozen.layers("set", [*texts, "Fictional: a third post"])
    assert pools.shape == (3, 7, EMBEDDING_DIM)
    assert encoder.seen == 3 and float(pools.min()) == 2.0


def test_rows_already_encoded_under_the_same_variant_are_reused(tmp_path: Path) -> None:
    first, _ = _cache(tmp_path, None, 3.0)
    first.layers("set", ["Fictional: one", "Fictional: two"])
    again, encoder = _cache(tmp_path, None, 4.0)
    pools = again.layers("set", ["Fictional: two", "Fictional: three"])
    assert encoder.seen == 1
    assert pools[0].max() == 3.0 and pools[1].min() == 4.0
