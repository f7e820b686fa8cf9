"""The real classifier: the encoder and the trained heads behind a micro-batcher.

`analyse` returns every head's score and the sentence embedding from one forward pass per
batch, and, where the model has a sentence rule (`monitor.classify.sentences`) and
`classifier_sentences` turns it on, a second over the sentences of its posts of two or more,
whose hostile scores can flag their post. Calls
from anywhere on the event loop are pooled (max size, max wait), sorted by length and run in
one worker thread (tokenising included), so the loop never blocks on the model.

Identical posts are encoded once: texts are normalised (`preprocess`, and with the manifest's
`deobfuscate` disguised words written plainly, see `monitor.classify.deobfuscate`),
duplicates within a batch share one row, and a bounded LRU cache keeps the encoder output of
recent distinct texts, so a repost or a copy-paste campaign costs one forward pass. With
`classifier_encoding_cache` on, rows missing there are looked up on disk, shared by processes
and kept between runs (`monitor.classify.disk_cache`), before the encoder runs. The heads
(cheap numpy) still run on each post's own text, since a few of their features read the raw
text.

Which encoder runs is chosen by `select_encoder` (see `monitor.classify.runtime`), logged at
start and carried in `name` and `runtime`, which record what produced a score.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monitor.classify.batching import MicroBatcher
from monitor.classify.deobfuscate import deobfuscates, emoji_words, encoder_text
from monitor.classify.disk_cache import DiskCacheConfig, with_disk_cache
from monitor.classify.encoder import EMBEDDING_DIM, FloatArray
from monitor.classify.languages import covered_languages
from monitor.classify.manifest import ModelDir, load_model_dir
from monitor.classify.runtime import GPU_BATCH, EncoderLike, select_encoder
from monitor.classify.sentences import expand, sentence_rule, with_sentence_rule
from monitor.types import Analysis, Scores

log = logging.getLogger(__name__)

# How many batches' worth of posts the micro-batcher pools before sorting: a bigger pool sorts
# better (less padding) at the cost of a little latency under load.
POOL_BATCHES = 4
DEFAULT_CACHE_SIZE = 4096


class EncodingCache:
    """Bounded LRU of normalised text -> (head features, embedding), float32 rows."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max(0, max_items)
        self._rows: OrderedDict[str, tuple[FloatArray, FloatArray]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: str) -> tuple[FloatArray, FloatArray] | None:
        row = self._rows.get(key)
        if row is None:
            self.misses += 1
            return None
        self._rows.move_to_end(key)
        self.hits += 1
        return row

    def put(self, key: str, features: FloatArray, embedding: FloatArray) -> None:
        if self.max_items == 0:
            return
        # Copies: a view would keep the whole batch's arrays alive for as long as one row is.
        self._rows[key] = (features.copy(), embedding.copy())
        self._rows.move_to_end(key)
        while len(self._rows) > self.max_items:
            self._rows.popitem(last=False)

    def clear(self) -> None:
        self._rows.clear()


class TransformerClassifier:
    """all-MiniLM-L6-v2 plus trained heads. Build with `load_classifier` or directly."""

    def __init__(
        self,
        model: ModelDir,
        *,
        device: str = "auto",
        quantize: bool = False,
        threads: int = 0,
        batch_size: int = 64,
        max_wait: float = 0.05,
        runtime: str = "auto",
        cache_size: int = DEFAULT_CACHE_SIZE,
        cache_dir: Path | None = None,
        encoder: EncoderLike | None = None,
        disk_cache: DiskCacheConfig | None = None,
        sentences: bool = False,
    ) -> None:
        started = time.monotonic()
        if encoder is None:
            encoder, info = select_encoder(
                runtime=runtime,
                device=device,
                quantize=quantize,
                threads=threads,
                batch_size=batch_size,
                max_length=int(model.manifest.get("max_length", 128)),
                layers=model.heads.layers,
                cache_dir=cache_dir,
                adapter=model.adapter,
            )
        else:
            info = {"path": "injected", "variant": encoder.variant}
        self.encoder = with_disk_cache(encoder, disk_cache)
        self.runtime: Mapping[str, Any] = info
        self.model = model
        self.heads = model.heads
        self.name = f"{model.name}+{encoder.variant}"
        self.thresholds: Mapping[str, float] = model.thresholds
        self.stance_thresholds: Mapping[str, float] = model.stance_thresholds
        # Disguised words ("v3rm1n", "k i l l") written plainly before encoding, when the
        # manifest asks for it; the normalised text is also the cache key, so a disguised
        # repost shares its plain twin's row.
        self.deobfuscate = deobfuscates(model.manifest)
        # Emoji that stand in for a group, a slur or a weapon ("they are 🐀") read as words,
        # when the manifest asks for it: the encoder has no emoji in its vocabulary.
        self.read_emoji = emoji_words(model.manifest)
        # Languages the heads were trained and measured on; the pipeline leaves posts in
        # others unscored (monitor.classify.languages).
        self.covered_languages = covered_languages(model.manifest)
        # The model's sentence rule, where `classifier_sentences` turns it on.
        self.sentence_rule = sentence_rule(model.manifest) if sentences else None
        self.cache = EncodingCache(cache_size)
        pool = batch_size * POOL_BATCHES
        if encoder.device == "cuda":  # a GPU wants large batches: pool enough to fill them
            pool = max(pool, GPU_BATCH * POOL_BATCHES)
        self._batcher: MicroBatcher[str, Analysis] = MicroBatcher(
            self._analyse_batch,
            max_size=pool,
            max_wait=max_wait,
            length=len,
        )
        log.info(
            "classifier %s ready in %.1f s (%s)",
            self.name,
            time.monotonic() - started,
            ", ".join(f"{k} {v}" for k, v in info.items()),
        )

    def _analyse_batch(self, texts: list[str]) -> list[Analysis]:
        features, embeddings = self._encode(texts)
        scores = self.heads.score(self._pools(features), texts)
        if self.sentence_rule is not None:
            # Each sentence of a longer post read alone as well (monitor.classify.sentences):
            # an ordinary sentence beside a hateful one hides it from the whole post's pool.
            parts, owner = expand(texts)
            if parts:
                part_features, _ = self._encode(parts)
                part_scores = self.heads.score(self._pools(part_features), parts)
                scores = with_sentence_rule(self.sentence_rule, scores, owner, part_scores)
        return [Analysis(scores=s, embedding=embeddings[i].tolist()) for i, s in enumerate(scores)]

    def _pools(self, features: FloatArray) -> dict[int, FloatArray]:
        return {
            layer: features[:, j * EMBEDDING_DIM : (j + 1) * EMBEDDING_DIM]
            for j, layer in enumerate(self.encoder.layers)
        }

    def _encode(self, texts: list[str]) -> tuple[FloatArray, FloatArray]:
        """Pooled features and sentence embeddings of `texts`, through the encoding cache."""
        n = len(texts)
        width = len(self.encoder.layers) * EMBEDDING_DIM
        features = np.zeros((n, width), dtype=np.float32)
        embeddings = np.zeros((n, EMBEDDING_DIM), dtype=np.float32)
        keys = [encoder_text(t, self.deobfuscate, self.read_emoji) for t in texts]
        todo: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            if key in todo:  # a duplicate inside this batch: share the first one's row
                todo[key].append(i)
                continue
            hit = self.cache.get(key)
            if hit is None:
                todo[key] = [i]
            else:
                features[i], embeddings[i] = hit
        if todo:
            fresh = list(todo)
            encoded = self.encoder.encode(fresh, clean=False)
            for row, key in enumerate(fresh):
                self.cache.put(key, encoded.features[row], encoded.embeddings[row])
                for i in todo[key]:
                    features[i] = encoded.features[row]
                    embeddings[i] = encoded.embeddings[row]
        return features, embeddings

    def analyse_sync(self, texts: Sequence[str]) -> list[Analysis]:
        """Blocking version for scripts and training tools (not for the event loop)."""
        return self._analyse_batch(list(texts))

    async def analyse(self, texts: Sequence[str]) -> list[Analysis]:
        return await self._batcher.run(list(texts))

    async def score(self, texts: Sequence[str]) -> list[Scores]:
        return [a.scores for a in await self.analyse(texts)]

    async def close(self) -> None:
        await self._batcher.close()


def load_transformer(
    model_dir: Path,
    *,
    device: str = "auto",
    quantize: bool = False,
    threads: int = 0,
    batch_size: int = 64,
    max_wait: float = 0.05,
    runtime: str = "auto",
    cache_size: int = DEFAULT_CACHE_SIZE,
    cache_dir: Path | None = None,
    disk_cache: DiskCacheConfig | None = None,
    sentences: bool = False,
) -> TransformerClassifier:
    return TransformerClassifier(
        load_model_dir(model_dir),
        sentences=sentences,
        device=device,
        quantize=quantize,
        threads=threads,
        batch_size=batch_size,
        max_wait=max_wait,
        runtime=runtime,
        cache_size=cache_size,
        cache_dir=cache_dir,
        disk_cache=disk_cache,
    )
