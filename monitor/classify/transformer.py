"""The real classifier: the encoder and the trained heads behind a micro-batcher.

`analyse` returns every head's score and the sentence embedding from one forward pass per
batch. Calls from anywhere on the event loop are pooled (max size, max wait), sorted by length
and run in one worker thread, so the loop never blocks on the model.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from monitor.classify.batching import MicroBatcher
from monitor.classify.encoder import Encoder, set_threads
from monitor.classify.manifest import ModelDir, load_model_dir
from monitor.types import Analysis, Scores

log = logging.getLogger(__name__)

# How many batches' worth of posts the micro-batcher pools before sorting: a bigger pool sorts
# better (less padding) at the cost of a little latency under load.
POOL_BATCHES = 4


class TransformerClassifier:
    """all-MiniLM-L6-v2 plus trained heads. Build with `load_classifier` or directly."""

    def __init__(
        self,
        model: ModelDir,
        *,
        device: str = "auto",
        quantize: bool = True,
        threads: int = 0,
        batch_size: int = 64,
        max_wait: float = 0.05,
    ) -> None:
        started = time.monotonic()
        self.threads = set_threads(threads)
        with warnings.catch_warnings():
            # torch.ao's dynamic quantisation warns that it is deprecated in favour of torchao;
            # it is still the supported path in this torch and the scores are checked.
            warnings.simplefilter("ignore")
            self.encoder = Encoder(
                device=device,
                quantize=quantize,
                max_length=int(model.manifest.get("max_length", 128)),
                batch_size=batch_size,
                layers=model.heads.layers,
            )
        self.model = model
        self.heads = model.heads
        self.name = f"{model.name}+{self.encoder.variant}"
        self.thresholds: Mapping[str, float] = model.thresholds
        self.stance_thresholds: Mapping[str, float] = model.stance_thresholds
        self._batcher: MicroBatcher[str, Analysis] = MicroBatcher(
            self._analyse_batch,
            max_size=batch_size * POOL_BATCHES,
            max_wait=max_wait,
            length=len,
        )
        log.info(
            "classifier %s ready in %.1f s (%d threads)",
            self.name,
            time.monotonic() - started,
            self.threads,
        )

    def _analyse_batch(self, texts: list[str]) -> list[Analysis]:
        encoded = self.encoder.encode(texts)
        width = 384
        pools = {
            layer: encoded.features[:, j * width : (j + 1) * width]
            for j, layer in enumerate(self.encoder.layers)
        }
        scores = self.heads.score(pools, texts)
        return [
            Analysis(scores=s, embedding=encoded.embeddings[i].tolist())
            for i, s in enumerate(scores)
        ]

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
    quantize: bool = True,
    threads: int = 0,
    batch_size: int = 64,
    max_wait: float = 0.05,
) -> TransformerClassifier:
    return TransformerClassifier(
        load_model_dir(model_dir),
        device=device,
        quantize=quantize,
        threads=threads,
        batch_size=batch_size,
        max_wait=max_wait,
    )
