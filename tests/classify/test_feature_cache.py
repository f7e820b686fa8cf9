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
    branch: Any = None


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


class _Recording:
    """A feature cache that records the texts it is asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def layers(self, name: str, texts: Sequence[str]) -> Any:
        self.asked += list(texts)
        return np.zeros((len(texts), 7, EMBEDDING_DIM), np.float32)


def test_training_reads_features_of_the_text_serving_encodes() -> None:
    from monitor.classify.data import Labelled
    from monitor.classify.deobfuscate import encoder_text
    from monitor.classify.train import _features

    posts = ["Fictional: they are v e r m i n", "Fictional: NOOOOOO the bins again", "plain post"]
    cache = _Recording()
    _features(cache, Labelled("set", posts, [1, 0, 0]), (3, 4))  # type: ignore[arg-type]
    assert cache.asked[0] == encoder_text(posts[0], True) == "Fictional: they are vermin"
    assert cache.asked[1] == encoder_text(posts[1], True)
    assert cache.asked[2] == posts[2]
