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
import numpy.typing as npt

from monitor.classify.branch import POOLS_WITH_BRANCH
from monitor.classify.disk_cache import DiskCacheConfig, with_disk_cache
from monitor.classify.encoder import (
    DEFAULT_MAX_LENGTH,
    EMBEDDING_DIM,
    PREPROCESS_VERSION,
    Encoder,
    FloatArray,
    base_model_version,
)
from monitor.classify.export import AdapterSpec
from monitor.classify.lora import POOLS_WITH_ADAPTER
from monitor.classify.runtime import EncoderLike, select_encoder

log = logging.getLogger(__name__)

ALL_LAYERS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)


def default_cache_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "var" / "cache" / "classify"


KEY_CHARS = 24


def texts_key(texts: Sequence[str], variant: str) -> str:
    h = hashlib.sha256()
    h.update(f"{base_model_version()}|{PREPROCESS_VERSION}|{DEFAULT_MAX_LENGTH}|{variant}".encode())
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:KEY_CHARS]


VARIANTS = ("fp32", "int8", "onnx")


class FeatureCache:
    """Computes (once) and returns per-layer pools for named lists of texts.

    Variants: 'fp32' and 'int8' (PyTorch, dynamic int8), 'onnx' (ONNX Runtime fp32, the
    CPU serving path: the same features as 'fp32' within about 1e-6, computed faster).
    """

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        quantize: bool = False,
        variant: str = "",
        graph_dir: Path | None = None,
        adapter: AdapterSpec | None = None,
        disk_cache: DiskCacheConfig | None = None,
    ) -> None:
        self.cache_dir = cache_dir or default_cache_dir()
        self.graph_dir = graph_dir
        self.variant = variant or ("int8" if quantize else "fp32")
        if self.variant not in VARIANTS:
            raise ValueError(f"encoder variant must be one of {VARIANTS}, got {self.variant!r}")
        self.quantize = self.variant == "int8"
        # A fine-tuned model's LoRA adapter: the cache then holds 9 pools per text (the
        # frozen layers 0..6 and the adapted 5 and 6 as 7 and 8), under a key of its own.
        # An offensive branch (carried by the adapter) adds pools 9 and 10, and its sha256 to
        # the key, so that rows of another branch, or of none, are never read for it.
        self.adapter = adapter
        self.pools = ALL_LAYERS
        self.key = self.variant
        if adapter is not None:
            self.pools = tuple(range(POOLS_WITH_BRANCH if adapter.branch else POOLS_WITH_ADAPTER))
            self.key = f"{self.variant}-lora{adapter.sha256[:12]}"
            if adapter.branch is not None:
                self.key += f"-br{adapter.branch.sha256[:12]}"
        # The serving path's on-disk row cache (monitor.classify.disk_cache), for the 'onnx'
        # variant: lists of texts this file cache has not seen may still have been encoded.
        self.disk_cache = disk_cache
        self._encoder: EncoderLike | None = None

    @property
    def encoder(self) -> EncoderLike:
        if self._encoder is None:
            if self.variant == "onnx":
                encoder, _ = select_encoder(
                    runtime="onnx",
                    device="cpu",
                    layers=self.pools,
                    batch_size=64,
                    cache_dir=self.graph_dir,
                    adapter=self.adapter,
                )
                self._encoder = with_disk_cache(encoder, self.disk_cache)
            else:
                self._encoder = Encoder(
                    device="cpu",
                    quantize=self.quantize,
                    layers=self.pools,
                    batch_size=64,
                    adapter=self.adapter,
                )
        return self._encoder

    def layers(self, name: str, texts: Sequence[str]) -> FloatArray:
        """(n, 7, 384) float32 mean pools of layers 0..6 for `texts` (n, 9, 384 with an
        adapter).

        Rows already computed for another list under the same name (a subsample, a new
        version of a file) are reused by text hash; only new texts go through the encoder.
        """
        key = texts_key(texts, self.key)
        path = self.cache_dir / f"{name}-{self.key}-{key}.npz"
        if path.is_file():
            with np.load(path) as stored:
                cached: FloatArray = stored["pools"].astype(np.float32)
            return cached
        hashes = [_text_hash(t) for t in texts]
        known = self._known_rows(name)
        missing = sorted({h: i for i, h in enumerate(hashes) if h not in known}.values())
        out = np.zeros((len(texts), len(self.pools), EMBEDDING_DIM), dtype=np.float16)
        if missing:
            started = time.monotonic()
            fresh = self.encoder.encode([texts[i] for i in missing]).features
            fresh = fresh.reshape(len(missing), len(self.pools), EMBEDDING_DIM)
            log.info(
                "encoded %s: %d texts in %.0f s", name, len(missing), time.monotonic() - started
            )
            for row, i in enumerate(missing):
                known[hashes[i]] = fresh[row].astype(np.float16)
        for i, h in enumerate(hashes):
            out[i] = known[h]
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, pools=out, hashes=np.array(hashes))
        tmp.replace(path)
        return out.astype(np.float32)

    def _known_rows(self, name: str) -> dict[str, npt.NDArray[np.float16]]:
        known: dict[str, npt.NDArray[np.float16]] = {}
        # Exactly this key: "onnx-*" would also match an adapter's "onnx-lora<sha>-..." files,
        # whose rows hold 9 pools, not 7.
        for other in sorted(self.cache_dir.glob(f"{name}-{self.key}-{'?' * KEY_CHARS}.npz")):
            with np.load(other) as stored:
                for h, row in zip(stored["hashes"].tolist(), stored["pools"], strict=True):
                    known[str(h)] = row
        return known


def _text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def select(pools: FloatArray, layers: Sequence[int]) -> FloatArray:
    """Head features from cached pools: the chosen layers' pools, concatenated."""
    idx = list(layers)  # pools are stored in index order: 0..6, then an adapter's 7 and 8
    out: FloatArray = pools[:, idx, :].reshape(len(pools), len(idx) * EMBEDDING_DIM)
    return out
