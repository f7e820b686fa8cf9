"""The encoder served by ONNX Runtime on CPU, fp32, with scores that do not depend on the batch.

Why this path (measured in `benchmarks/classifier.py` and the model card): ONNX Runtime's fused
fp32 graph is faster than PyTorch eager on this CPU and agrees with PyTorch fp32 to about 1e-6.
int8 was measured too and rejected as the default: dynamic int8 (PyTorch's, or ONNX Runtime's)
takes one activation scale per tensor, i.e. per *batch*, so a post's score moved with its
batch-mates; static int8 (scales calibrated once) is batch-independent but agreed with fp32
on only 95% of posts' flags, against the 99% aimed for; on the fine-tuned model 85% (97% with
SmoothQuant and the feed-forward outputs left fp32), for at most 2x less CPU a post
(`benchmarks/classifier_precision.py`).

Reproducibility, measured on this CPU: in fp32 a row's result does not depend on the other
rows of its batch, with two exceptions that each move a value by about 2e-7, and both are
designed away so that a post's features are bitwise the same however it is batched:
- the padded length: padding to a much longer length changes the order some sums run in.
  So every row is padded to a length fixed by its own token count (the next multiple of
  `PAD_MULTIPLE`), and rows are batched only with rows of the same padded length;
- a batch of exactly one row takes another code path. A lone row is run beside a copy.
`tests/classify/test_reproducible.py` checks texts alone, in shuffled batches and in
batches of mixed lengths give bitwise-identical features and identical scores.

Needs only onnxruntime, tokenizers and numpy at run time (no torch), which keeps a serving
process's memory well under 1 GB.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.classify.encoder import (
    DEFAULT_MAX_LENGTH,
    EMBEDDING_DIM,
    FEATURE_LAYERS,
    PREPROCESS_VERSION,
    Encoded,
    preprocess,
)
from monitor.classify.export import ALL_LAYERS, ExportedGraph

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]

# Rows are padded to the next multiple of this: at most 7 wasted positions a row (posts
# average about 34 tokens), and few enough distinct lengths that batches stay full.
PAD_MULTIPLE = 8


def padded_length(tokens: int, max_length: int) -> int:
    return min(max(max_length, tokens), -(-tokens // PAD_MULTIPLE) * PAD_MULTIPLE)


def runtime_version() -> str:
    import onnxruntime

    return str(onnxruntime.__version__)


def load_tokenizer(base_path: Path, max_length: int) -> Any:
    """The fast (Rust) tokenizer from the base model's tokenizer.json, truncating, unpadded."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(base_path / "tokenizer.json"))
    tok.enable_truncation(max_length=max_length)
    tok.no_padding()
    return tok


class OrtEncoder:
    """all-MiniLM-L6-v2 in ONNX Runtime: same interface and outputs as `Encoder`."""

    device = "cpu"

    def __init__(
        self,
        graph: ExportedGraph,
        base_path: Path,
        *,
        threads: int = 0,
        max_length: int = DEFAULT_MAX_LENGTH,
        batch_size: int = 64,
        layers: Sequence[int] = FEATURE_LAYERS,
    ) -> None:
        import onnxruntime as ort

        self.graph = graph
        self.max_length = max_length
        self.batch_size = max(2, batch_size)
        self.layers = tuple(layers)
        bad = [i for i in self.layers if not 0 <= i < graph.pools]
        if bad:
            raise ValueError(f"layers {bad} are not in the exported graph (0..{graph.pools - 1})")
        self.tokenizer = load_tokenizer(base_path, max_length)
        self.tokenizer_sha256 = hashlib.sha256(
            (base_path / "tokenizer.json").read_bytes()
        ).hexdigest()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads if threads > 0 else _cores()
        # One operator at a time: two would only fight over the same two cores.
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # No spin-waiting between operators: on a shared host (or several workers on one) a
        # spinning thread burns a core someone else needs; measured no slower under load.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.threads = opts.intra_op_num_threads
        self.session = ort.InferenceSession(
            str(graph.path), opts, providers=["CPUExecutionProvider"]
        )
        self.version = runtime_version()
        self.variant = f"ort{self.version}-fp32-cpu"

    def cache_identity(self) -> str:
        """Everything a row's bits depend on, for the on-disk cache
        (`monitor.classify.disk_cache`): the graph (its sha256 covers the base model and any
        adapter), the runtime and its version, the tokenizer (its file and library), the
        layers, the maximum and padded lengths, the preprocessing, and how the embedding is
        derived. Not the threads nor the batch size: rows are bitwise the same with 1 or 2
        threads (measured) and in any batch (`tests/classify/test_reproducible.py`)."""
        import tokenizers

        return "|".join(
            (
                f"graph={self.graph.sha256}",
                f"adapter={self.graph.adapter_sha256}",
                f"branch={self.graph.branch_sha256}",
                f"pools={self.graph.pools}",
                f"runtime={self.variant}",
                f"tokenizers={tokenizers.__version__}",
                f"tokenizer={self.tokenizer_sha256}",
                f"layers={','.join(str(i) for i in self.layers)}",
                f"max_length={self.max_length}",
                f"pad={PAD_MULTIPLE}",
                f"preprocess={PREPROCESS_VERSION}",
                f"embedding=pool{ALL_LAYERS - 1}-l2-f64",
            )
        )

    def token_ids(self, prepared: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(list(prepared))]

    def encode(self, texts: Sequence[str], *, sort: bool = True, clean: bool = True) -> Encoded:
        """Encode texts in batches of rows with the same padded length, in the caller's order.

        `sort` is accepted for `Encoder`'s interface and has no effect: grouping by padded
        length is what makes a row's result independent of its batch, so it always happens.
        """
        width = len(self.layers) * EMBEDDING_DIM
        if not texts:
            return Encoded(
                np.zeros((0, width), dtype=np.float32),
                np.zeros((0, EMBEDDING_DIM), dtype=np.float32),
            )
        prepared = [preprocess(t) if clean else t for t in texts]
        # Each distinct text is encoded once and copied to its repeats (reposts, copied
        # slogans): a row's result does not depend on its batch, so the copies are bitwise
        # what encoding them again would give.
        first: dict[str, int] = {}
        row_of = [first.setdefault(t, len(first)) for t in prepared]
        ids = self.token_ids(list(first))
        features = np.zeros((len(ids), width), dtype=np.float32)
        embeddings = np.zeros((len(ids), EMBEDDING_DIM), dtype=np.float32)
        groups: dict[int, list[int]] = {}
        for i, x in enumerate(ids):
            groups.setdefault(padded_length(len(x), self.max_length), []).append(i)
        for length in sorted(groups):
            members = groups[length]
            for start in range(0, len(members), self.batch_size):
                idx = members[start : start + self.batch_size]
                pools = self.pools([ids[i] for i in idx], length)
                features[idx] = pools[:, list(self.layers), :].reshape(len(idx), width)
                # The sentence embedding is always the frozen last layer's (6), which
                # clustering was tuned on, also when the graph adds adapted pools after it.
                embeddings[idx] = _normalise(pools[:, ALL_LAYERS - 1, :])
        return Encoded(features[row_of], embeddings[row_of])

    def pools(
        self, batch_ids: Sequence[Sequence[int]], length: int | None = None
    ) -> npt.NDArray[np.float32]:
        """(n, pools, 384) masked mean pools of layers 0..6 (an adapter's 7 and 8, a branch's
        9 and 10) for one
        batch of token ids, padded to `length` (default: the longest row)."""
        rows = list(batch_ids)
        single = len(rows) == 1
        if single:
            rows = rows * 2  # see the module docstring: a lone row takes another code path
        longest = max(length or 0, max(len(x) for x in rows))
        input_ids: IntArray = np.zeros((len(rows), longest), dtype=np.int64)
        mask: IntArray = np.zeros((len(rows), longest), dtype=np.int64)
        for r, x in enumerate(rows):
            input_ids[r, : len(x)] = x
            mask[r, : len(x)] = 1
        out = self.session.run(["pools"], {"input_ids": input_ids, "attention_mask": mask})[0]
        pools: npt.NDArray[np.float32] = np.asarray(out, dtype=np.float32)
        return pools[:1] if single else pools


def _normalise(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Row-wise L2 normalisation in float64, so a row's result never depends on the others."""
    x64 = x.astype(np.float64)
    norm = np.sqrt((x64 * x64).sum(axis=1, keepdims=True))
    out: npt.NDArray[np.float32] = (x64 / np.maximum(norm, 1e-12)).astype(np.float32)
    return out


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
