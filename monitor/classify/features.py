"""Encoder outputs for whole data sets, cached on disk so training and evaluation stay cheap.

The cache holds mean pools of every hidden layer (float16) for each data set, keyed by a hash of
the texts, the encoder's package version, the preprocessing and the maximum length: a change to
any of them computes afresh. It lives under a gitignored folder (default `var/cache/classify`).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monitor.classify.encoder import (
    DEFAULT_MAX_LENGTH,
    EMBEDDING_DIM,
    PREPROCESS_VERSION,
    Encoder,
    FloatArray,
    base_model_version,
)

log = logging.getLogger(__name__)

ALL_LAYERS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)


def default_cache_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "var" / "cache" / "classify"


def texts_key(texts: Sequence[str], variant: str) -> str:
    h = hashlib.sha256()
    h.update(f"{base_model_version()}|{PREPROCESS_VERSION}|{DEFAULT_MAX_LENGTH}|{variant}".encode())
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:24]


class FeatureCache:
    """Computes (once) and returns per-layer pools for named lists of texts."""

    def __init__(self, cache_dir: Path | None = None, *, quantize: bool = False) -> None:
        self.cache_dir = cache_dir or default_cache_dir()
        self.quantize = quantize
        self._encoder: Encoder | None = None

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = Encoder(
                device="cpu", quantize=self.quantize, layers=ALL_LAYERS, batch_size=64
            )
        return self._encoder

    @property
    def variant(self) -> str:
        return "int8" if self.quantize else "fp32"

    def layers(self, name: str, texts: Sequence[str]) -> FloatArray:
        """(n, 7, 384) float32 mean pools of layers 0..6 for `texts`."""
        key = texts_key(texts, self.variant)
        path = self.cache_dir / f"{name}-{self.variant}-{key}.npy"
        if path.is_file():
            cached: FloatArray = np.load(path).astype(np.float32)
            return cached
        started = time.monotonic()
        out = self.encoder.encode(texts).features.reshape(len(texts), len(ALL_LAYERS), -1)
        log.info("encoded %s: %d texts in %.0f s", name, len(texts), time.monotonic() - started)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, out.astype(np.float16))
        tmp.replace(path)
        return out.astype(np.float32)


def select(pools: FloatArray, layers: Sequence[int]) -> FloatArray:
    """Head features from cached pools: the chosen layers' pools, concatenated."""
    idx = [ALL_LAYERS.index(i) for i in layers]
    out: FloatArray = pools[:, idx, :].reshape(len(pools), len(idx) * EMBEDDING_DIM)
    return out


def sentence_embeddings(pools: FloatArray) -> FloatArray:
    last = pools[:, -1, :]
    norm = np.linalg.norm(last, axis=1, keepdims=True)
    out: FloatArray = (last / np.maximum(norm, 1e-12)).astype(np.float32)
    return out
