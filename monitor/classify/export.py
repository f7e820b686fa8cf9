"""Export the encoder to ONNX once, into a cache folder, with a checksummed sidecar.

The graph takes `input_ids` and `attention_mask` (batch x length, int64) and returns
`pools` (batch x 7 x 384, float32): the attention-masked mean pool of every hidden-state
layer (0 = token embeddings, 6 = last). Pooling inside the graph means ONNX Runtime hands
back 10 KB per post instead of every token's hidden states.

Exporting needs torch (a dependency, used for training); serving from the exported file needs
only onnxruntime and tokenizers. The file is about 90 MB, so it is never committed: it is
built at `monitor train` time or at the first start, in `<cache>/`, named after the base
model's sha256 and the export format, with `<name>.json` beside it recording the file's
sha256, the base model it came from and the exporter's versions. Loading checks both.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Where the graph is kept by default (moved beside the settings so ingest can share it).
from monitor.config import default_cache_dir as default_cache_dir

log = logging.getLogger(__name__)

# Bump when the graph's inputs, outputs or meaning change: old files are then ignored.
EXPORT_FORMAT = 1
OPSET = 17
ALL_LAYERS = 7


class ExportError(RuntimeError):
    """The encoder could not be exported, or an exported file is damaged."""


@dataclass(frozen=True, slots=True)
class ExportedGraph:
    path: Path
    sha256: str
    base_sha256: str
    adapter_sha256: str = ""
    # Pools the graph returns: 7 (hidden states 0..6), or 9 with a LoRA adapter (its adapted
    # hidden states 5 and 6 as pools 7 and 8, see monitor.classify.lora), or 11 with an
    # offensive branch as well (its hidden states 5 and 6, see monitor.classify.branch).
    pools: int = ALL_LAYERS
    branch_sha256: str = ""


@dataclass(frozen=True, slots=True)
class BranchSpec:
    """A model folder's offensive branch (monitor.classify.branch): copies of layers
    `first`..5 run from the frozen hidden state `first`."""

    path: Path
    sha256: str
    first: int


@dataclass(frozen=True, slots=True)
class AdapterSpec:
    """A model folder's LoRA adapter (monitor.classify.lora), as the export needs it."""

    path: Path
    sha256: str
    rank: int
    alpha: int
    # The sha256 of the graph `monitor train` exported from it (the manifest's record): a
    # graph exported here with other bytes (another torch or onnx version) is served, with a
    # warning, and its own sha256 is what the runtime record names.
    graph_sha256: str = ""
    # The offensive branch that runs beside the adapted layers, when the model has one: it
    # travels with the adapter because every encoder, graph and cache that takes the adapter
    # must also run the branch and key on its sha256.
    branch: BranchSpec | None = None

    @property
    def branch_sha256(self) -> str:
        return self.branch.sha256 if self.branch else ""


def graph_name(base_sha256: str, adapter_sha256: str = "", branch_sha256: str = "") -> str:
    if adapter_sha256:
        # The branch's sha256 is in the name, so a graph of another branch is never found.
        tail = f"-b{branch_sha256[:16]}" if branch_sha256 else ""
        return f"minilm-lora-f{EXPORT_FORMAT}-{base_sha256[:16]}-{adapter_sha256[:16]}{tail}.onnx"
    return f"minilm-pools-f{EXPORT_FORMAT}-{base_sha256[:16]}.onnx"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_graph(
    cache_dir: Path, base_sha256: str, adapter: AdapterSpec | None = None
) -> ExportedGraph | None:
    """The exported graph for this base model when present and intact, else None.

    A file whose sha256 differs from its sidecar (a torn copy, a damaged disk) is reported
    and ignored, so that the caller exports afresh rather than serving from it.
    """
    adapter_sha = adapter.sha256 if adapter else ""
    branch_sha = adapter.branch_sha256 if adapter else ""
    path = cache_dir / graph_name(base_sha256, adapter_sha, branch_sha)
    meta_path = path.with_suffix(".json")
    if not (path.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("classifier: ignoring %s: unreadable (%s)", meta_path, exc)
        return None
    if (
        meta.get("base_sha256") != base_sha256
        or meta.get("format") != EXPORT_FORMAT
        or meta.get("adapter_sha256", "") != adapter_sha
        or meta.get("branch_sha256", "") != branch_sha
    ):
        log.warning("classifier: ignoring %s: made from another base model or format", path)
        return None
    actual = _sha256(path)
    if actual != meta.get("sha256"):
        log.warning(
            "classifier: ignoring %s: sha256 %s does not match its record %s; re-exporting",
            path,
            actual[:12],
            str(meta.get("sha256"))[:12],
        )
        return None
    return ExportedGraph(path, actual, base_sha256, adapter_sha, _pools(adapter), branch_sha)


def _pools(adapter: AdapterSpec | None) -> int:
    from monitor.classify.branch import POOLS_WITH_BRANCH
    from monitor.classify.lora import POOLS_WITH_ADAPTER

    if adapter is None:
        return ALL_LAYERS
    return POOLS_WITH_BRANCH if adapter.branch else POOLS_WITH_ADAPTER


def export_graph(
    base_path: Path, cache_dir: Path, base_sha256: str, adapter: AdapterSpec | None = None
) -> ExportedGraph:
    """Export the encoder at `base_path` (a transformers folder) to `cache_dir`; atomic.

    Two processes exporting at once (`ensure_graph` lets one at a time; a direct call does
    not wait) both write a complete file and the second rename wins, so neither ever reads a
    half-written graph.
    """
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:  # pragma: no cover - torch is a dependency
        raise ExportError(f"exporting the encoder needs {exc.name}: pip install torch") from exc

    started = time.monotonic()
    cache_dir.mkdir(parents=True, exist_ok=True)
    adapter_sha = adapter.sha256 if adapter else ""
    branch_sha = adapter.branch_sha256 if adapter else ""
    path = cache_dir / graph_name(base_sha256, adapter_sha, branch_sha)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # Eager attention: the exported graph then masks padded keys with an additive mask
    # that ONNX Runtime fuses, and the padded positions stay out of every pool.
    model: Any = AutoModel.from_pretrained(str(base_path), attn_implementation="eager").eval()
    wrapper = _pooled_module(model, adapter)
    ids = torch.ones((2, 8), dtype=torch.long)
    mask = torch.ones((2, 8), dtype=torch.long)
    dims = {0: "batch", 1: "length"}
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer chatter about shapes it handles as inputs
            torch.onnx.export(
                wrapper,
                (ids, mask),
                str(tmp),
                input_names=["input_ids", "attention_mask"],
                output_names=["pools"],
                dynamic_axes={"input_ids": dims, "attention_mask": dims, "pools": {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
        sha = _sha256(tmp)
        meta = {
            "format": EXPORT_FORMAT,
            "sha256": sha,
            "base_sha256": base_sha256,
            "adapter_sha256": adapter_sha,
            "branch_sha256": branch_sha,
            "opset": OPSET,
            "torch": torch.__version__,
            "outputs": f"pools: (batch, {_pools(adapter)}, 384) masked mean of hidden-state "
            "layers 0..6 (then the adapted 5 and 6 with an adapter, then the offensive "
            "branch's 5 and 6 with a branch)",
        }
        meta_tmp = tmp.with_suffix(".json.tmp")
        meta_tmp.write_text(json.dumps(meta, indent=2), encoding="utf-8")
        tmp.replace(path)
        meta_tmp.replace(path.with_suffix(".json"))
    except Exception as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ExportError(f"exporting the encoder to {path} failed: {exc}") from exc
    log.info("classifier: exported the encoder to %s in %.1f s", path, time.monotonic() - started)
    return ExportedGraph(path, sha, base_sha256, adapter_sha, _pools(adapter), branch_sha)


def ensure_graph(
    base_path: Path, cache_dir: Path, base_sha256: str, adapter: AdapterSpec | None = None
) -> ExportedGraph:
    """The cached graph, exporting it first when missing or damaged.

    Processes that find it missing at once (the web and worker roles of a first start, test
    workers) take turns: the first exports, the others wait for it and then find its file.
    Each used to export the same graph itself: import torch, trace the model, write 90-100 MB,
    about half a minute of CPU apiece, for one file in the end."""
    found = find_graph(cache_dir, base_sha256, adapter)
    if found is not None:
        return found
    name = graph_name(
        base_sha256, adapter.sha256 if adapter else "", adapter.branch_sha256 if adapter else ""
    )
    with _exporting(cache_dir, name):
        found = find_graph(cache_dir, base_sha256, adapter)  # exported while this one waited
        if found is not None:
            return found
        return export_graph(base_path, cache_dir, base_sha256, adapter)


@contextlib.contextmanager
def _exporting(cache_dir: Path, name: str) -> Iterator[None]:
    """This process's turn to export `name` into `cache_dir`: an exclusive lock on a file
    beside it, released when the holder ends, however it ends. Where no lock can be taken (a
    system without fcntl) each process exports on its own, which is safe (`export_graph`)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / f".{name}.lock").open("a") as lock:
        started = time.monotonic()
        fcntl.flock(lock, fcntl.LOCK_EX)
        waited = time.monotonic() - started
        if waited > 1.0:
            log.info("classifier: waited %.0f s for another process exporting %s", waited, name)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _pooled_module(model: Any, adapter: AdapterSpec | None = None) -> Any:
    import torch

    if adapter is not None:
        from monitor.classify.branch import branch_layers, load_branch
        from monitor.classify.lora import all_pools, load_adapter, merged_top

        top = merged_top(model, load_adapter(adapter.path), adapter.rank, adapter.alpha)
        branch = None
        if adapter.branch is not None:
            branch = branch_layers(model, load_branch(adapter.branch.path))

        class Adapted(torch.nn.Module):
            def __init__(self, inner: Any, top: Any, branch: Any) -> None:
                super().__init__()
                self.inner = inner
                self.top = top
                self.branch = branch

            def forward(self, input_ids: Any, attention_mask: Any) -> Any:
                return all_pools(self.inner, self.top, input_ids, attention_mask, self.branch)

        return Adapted(model, top, branch)

    class Pooled(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            out = self.inner(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
                output_hidden_states=True,
            )
            weights = attention_mask.unsqueeze(-1).to(torch.float32)
            denom = weights.sum(dim=1).clamp(min=1.0)
            pools = [(h.float() * weights).sum(dim=1) / denom for h in out.hidden_states]
            return torch.stack(pools, dim=1)

    return Pooled(model)
