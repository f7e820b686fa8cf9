"""The offensive branch: copies of the encoder's top layers trained for offensive alone (issue 18).

Why a branch: the offensive head on the adapted pools (`monitor.classify.refit`) reached 0.766
macro-F1 on TweetEval offensive test against a bar of 0.80, and no head on those features, nor a
lexical model or a blend, got there (model card, "Offensive: levers measured against the 0.80
bar"). Copies of the top four transformer layers (2..5), every weight trained for offensive on
all 11,916 training posts from the frozen hidden state 2, did.

The branch runs *beside* the frozen encoder and the LoRA layers: frozen pools 0..6 and the
adapted pools 7, 8 are unchanged, so every other head reads what it always read. Its last two
hidden states are pooled as pools 9 and 10 (`BRANCH_POOLS`); its linear head reads the pools of
its input (frozen hidden state 2) and those two (`HEAD_POOLS`).

Training (`train_branch`): class-weighted binary cross-entropy, AdamW (layers 5e-5, head 1e-3,
weight decay 0.01), 50 warm-up steps and linear decay over two passes, batches of 32 cut from
length-sorted pools of 50 batches; early stopping on TweetEval offensive **val** AUC (every 125
steps, patience 4). The frozen lower layers run once over every post before training (their
output held in fp16, half the memory), so a step runs only the branch.

Storage (`save_branch`): the layers' weights and the linear head in fp16 safetensors
(`BRANCH_FILE`, about 14 MB), with the first layer and the recipe in its metadata.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

BRANCH_FILE = "branch.safetensors"
N_LAYERS = 6  # transformer layers of all-MiniLM-L6-v2
BRANCH_POOLS: dict[int, int] = {5: 9, 6: 10}  # branch hidden state -> pool index
POOLS_WITH_BRANCH = 11
HEAD_KEYS = ("head.weight", "head.bias")
# What the manifest's "features" line gains with a branch.
BRANCH_FEATURES = "; 9 and 10 = hidden states 5 and 6 of the offensive branch"

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class BranchRecipe:
    """The measured recipe (benchmarks/offensive_levers.py --branch 4 --epochs 2)."""

    seed: int = 13
    first: int = 2  # frozen hidden state the branch starts from: copies of layers first..5
    lr: float = 5e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    epochs: float = 2.0
    batch_size: int = 32
    warmup: int = 50
    eval_every: int = 125
    patience: int = 4
    max_length: int = 128

    @property
    def head_pools(self) -> tuple[int, ...]:
        """Pools the linear head reads: the branch's input, then its last two outputs."""
        return (self.first, *BRANCH_POOLS.values())


@dataclass
class BranchResult:
    layers: Any  # torch.nn.ModuleList at the best val AUC
    head: Any  # torch.nn.Linear(3 * 384, 1)
    recipe: BranchRecipe
    logits: dict[str, FloatArray]  # "val" and any extra split, at the best step
    history: list[dict[str, float]] = field(default_factory=list)
    best_step: int = 0
    steps: int = 0
    seconds: float = 0.0


def _tensorise(rows: Sequence[Sequence[int]]) -> tuple[Any, Any]:
    from monitor.classify.lora import _tensorise as tensorise

    return tensorise(rows)


def run_layers(layers: Any, h: Any, mask: Any) -> list[Any]:
    """Hidden states after each of `layers` (eager attention, additive mask)."""
    from monitor.classify.lora import extended_mask

    ext = extended_mask(mask, h.dtype)
    outs = []
    for layer in layers:
        h = layer(h, attention_mask=ext)
        h = h[0] if isinstance(h, tuple) else h
        outs.append(h)
    return outs


def frozen_base(max_length: int = 128) -> tuple[Any, Any]:
    """The base encoder (eager attention, no gradients) and its tokenizer."""
    from transformers import AutoModel

    from monitor.classify.encoder import base_model_path
    from monitor.classify.ort_encoder import load_tokenizer

    path = base_model_path()
    base: Any = AutoModel.from_pretrained(str(path), attn_implementation="eager").eval()
    for p in base.parameters():
        p.requires_grad = False
    return base, load_tokenizer(path, max_length)


def trainable_copies(base: Any, first: int) -> Any:
    """Copies of the base's layers first..5, every weight trainable: a fresh branch."""
    import torch

    layers = torch.nn.ModuleList(
        [copy.deepcopy(base.encoder.layer[i]) for i in range(first, N_LAYERS)]
    )
    for p in layers.parameters():
        p.requires_grad = True
    return layers


def frozen_lower(base: Any, ids: Any, mask: Any, first: int, token_types: Any = None) -> Any:
    """The frozen hidden state `first` (embeddings, then layers 0..first-1), in half
    precision: training holds it for every post, so half the memory."""
    import torch

    from monitor.classify.lora import extended_mask

    types = torch.zeros_like(ids) if token_types is None else token_types
    with torch.no_grad():
        h = base.embeddings(input_ids=ids, token_type_ids=types)
        ext = extended_mask(mask)
        for i in range(first):
            h = base.encoder.layer[i](h, attention_mask=ext)
            h = h[0] if isinstance(h, tuple) else h
    return h.half()


def branch_features(layers: Any, h: Any, mask: Any, training: bool) -> Any:
    """What a branch's linear head reads: the mean pools of its input (a frozen hidden
    state, as `frozen_lower` gives it) and of its last two hidden states, side by side."""
    import torch

    from monitor.classify.lora import masked_mean

    layers.train(training)
    h = h.float()
    outs = [h, *run_layers(layers, h, mask)]
    return torch.cat([masked_mean(outs[i], mask) for i in (0, -2, -1)], dim=1)


def weighted_bce_step(opt: Any, sched: Any, logits: Any, y: Any, pos_weight: Any) -> None:
    """One optimiser step on the class-weighted binary cross-entropy of `logits` for the
    labels `y` (a numpy array of 0/1)."""
    import torch

    target = torch.tensor(y, dtype=torch.float32)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, target, pos_weight=pos_weight
    )
    opt.zero_grad()
    loss.backward()  # type: ignore[no-untyped-call]
    opt.step()
    sched.step()


def train_branch(
    recipe: BranchRecipe,
    train: tuple[Sequence[str], Sequence[int]],
    val: tuple[Sequence[str], Sequence[int]],
    *,
    extra: Mapping[str, Sequence[str]] | None = None,
    threads: int = 2,
    deobfuscate: int | None = None,
    progress: Callable[[str], None] = log.info,
) -> BranchResult:
    """Train the branch and its head on (texts, labels); early stopping on `val` AUC.

    `extra` names further texts scored at the best step (the benchmark's test split);
    training never reads their labels.
    """
    import torch
    from sklearn.metrics import roc_auc_score

    from monitor.classify.deobfuscate import TRAINING_LEVEL, encoder_text
    from monitor.classify.fit import best_threshold, fit_platt
    from monitor.classify.train import _macro_f1

    # The deobfuscation level the model's heads will read (None: what training uses).
    level = TRAINING_LEVEL if deobfuscate is None else deobfuscate
    started = time.monotonic()
    torch.manual_seed(recipe.seed)
    torch.set_num_threads(threads)
    rng = random.Random(recipe.seed)
    first = recipe.first
    base, tok = frozen_base(recipe.max_length)
    layers = trainable_copies(base, first)
    head = torch.nn.Linear(len(recipe.head_pools) * 384, 1)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)

    Batches = list[tuple[list[int], Any, Any]]
    splits: dict[str, Sequence[str]] = {"train": train[0], "val": val[0], **(extra or {})}
    sets: dict[str, Batches] = {}
    for split, texts in splits.items():
        rows = [e.ids for e in tok.encode_batch([encoder_text(t, level) for t in texts])]
        size = recipe.batch_size if split == "train" else 128
        order = list(range(len(rows)))
        if split == "train":
            rng.shuffle(order)
        batches: Batches = []
        for s in range(0, len(order), size * 50):  # length-sorted within pools of 50 batches
            chunk = sorted(order[s : s + size * 50], key=lambda i: len(rows[i]))
            for j in range(0, len(chunk), size):
                idx = chunk[j : j + size]
                ids, mask = _tensorise([rows[i] for i in idx])
                batches.append((idx, frozen_lower(base, ids, mask, first), mask))
        sets[split] = batches
        progress(f"branch: frozen layers over {split} ({time.monotonic() - started:.0f} s)")

    def forward(h: Any, mask: Any, training: bool) -> Any:
        return head(branch_features(layers, h, mask, training))[:, 0]

    def predict(split: str) -> FloatArray:
        z = np.zeros(len(splits[split]), np.float32)
        with torch.no_grad():
            for idx, h, mask in sets[split]:
                z[idx] = forward(h, mask, False).numpy()
        return z

    y = np.asarray(train[1], np.int64)
    yv = np.asarray(val[1], np.int64)
    batches = sets["train"]
    pos_weight = torch.tensor((y == 0).sum() / (y == 1).sum())
    opt = torch.optim.AdamW(
        [
            {"params": layers.parameters(), "lr": recipe.lr},
            {"params": head.parameters(), "lr": recipe.head_lr},
        ],
        weight_decay=recipe.weight_decay,
    )
    total = int(len(batches) * recipe.epochs)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / recipe.warmup) * max(0.0, 1.0 - s / total)
    )
    history: list[dict[str, float]] = []
    best_auc, best_step, bad, step = -1.0, 0, 0, 0
    best: tuple[Any, Any, dict[str, FloatArray]] = ({}, {}, {})
    while step < total and bad < recipe.patience:
        order = list(range(len(batches)))
        rng.shuffle(order)
        for b in order:
            idx, h, mask = batches[b]
            weighted_bce_step(opt, sched, forward(h, mask, True), y[idx], pos_weight)
            step += 1
            if step % recipe.eval_every == 0 or step == total:
                zv = predict("val")
                auc = float(roc_auc_score(yv, zv))
                a, c = fit_platt(zv.astype(np.float64), yv)
                pv = 1.0 / (1.0 + np.exp(-(a * zv + c)))
                f1 = _macro_f1(yv, (pv >= best_threshold(pv, yv)).astype(np.int64))
                history.append(
                    {"step": float(step), "val_auc": round(auc, 4), "val_macro_f1": round(f1, 4)}
                )
                progress(
                    f"branch: step {step}/{total}: val AUC {auc:.4f}, macro-F1 {f1:.4f} "
                    f"({time.monotonic() - started:.0f} s)"
                )
                if auc > best_auc:
                    logits = {"val": zv, **{s: predict(s) for s in extra or {}}}
                    state = (copy.deepcopy(layers.state_dict()), copy.deepcopy(head.state_dict()))
                    best, best_auc, best_step, bad = (*state, logits), auc, step, 0
                else:
                    bad += 1
            if step >= total or bad >= recipe.patience:
                break
    if bad >= recipe.patience:
        progress(f"branch: early stop at step {step} (best {best_step})")
    layers.load_state_dict(best[0])
    head.load_state_dict(best[1])
    return BranchResult(
        layers=layers.eval(),
        head=head.eval(),
        recipe=recipe,
        logits=best[2],
        history=history,
        best_step=best_step,
        steps=step,
        seconds=time.monotonic() - started,
    )


def training_record(result: BranchResult) -> dict[str, Any]:
    """How the training went, stored with the weights (the manifest repeats it)."""
    return {
        "best_step": result.best_step,
        "steps": result.steps,
        "training_seconds": round(result.seconds, 1),
        "history": result.history,
    }


def branch_record(weights: BranchWeights) -> dict[str, Any]:
    """The manifest's `branch` entry (its file's sha256 goes into `files`)."""
    return {
        "file": BRANCH_FILE,
        "first": weights.first,
        "layers": list(range(weights.first, N_LAYERS)),
        "precision": "fp16",
        "pools": {str(p): f"branch hidden state {h}" for h, p in BRANCH_POOLS.items()},
        "head_pools": list(weights.head_pools),
        "recipe": weights.recipe,
        **{k: v for k, v in weights.training.items() if k != "history"},
    }


# ---------------------------------------------------------------------------------------------
# storage


@dataclass(frozen=True)
class BranchWeights:
    """A stored branch: its layers' tensors (keys `<i>.<param>`, i counted from `first`),
    its linear head, and the recipe it was trained with."""

    first: int
    layers: dict[str, FloatArray]
    head_weight: FloatArray  # (1, 3 * 384), as torch.nn.Linear holds it
    head_bias: FloatArray  # (1,)
    recipe: dict[str, Any]
    training: dict[str, Any] = field(default_factory=dict)  # `training_record`

    @property
    def head_pools(self) -> tuple[int, ...]:
        return (self.first, *BRANCH_POOLS.values())


def branch_tensors(layers: Any, head: Any) -> dict[str, FloatArray]:
    tensors = {f"layers.{k}": v.detach().cpu().numpy() for k, v in layers.state_dict().items()}
    tensors["head.weight"] = head.weight.detach().cpu().numpy()
    tensors["head.bias"] = head.bias.detach().cpu().numpy()
    return tensors


def save_branch(
    path: Path,
    tensors: Mapping[str, FloatArray],
    recipe: BranchRecipe,
    training: Mapping[str, Any] | None = None,
) -> None:
    """Write the branch in fp16 (half the size; the model card measures what it costs), with
    its recipe and `training_record` in the file's metadata."""
    from safetensors.numpy import save_file

    half = {k: np.ascontiguousarray(v, dtype=np.float16) for k, v in sorted(tensors.items())}
    meta = {
        "first": str(recipe.first),
        "recipe": json.dumps(asdict(recipe), sort_keys=True),
        "training": json.dumps(dict(training or {}), sort_keys=True),
    }
    save_file(half, str(path), metadata=meta)


def load_branch(path: Path) -> BranchWeights:
    """The branch stored at `path`; a clear error naming the file when it is missing or
    damaged (a wrong or truncated file must not serve silently)."""
    from safetensors import safe_open

    if not path.is_file():
        raise ValueError(f"branch file {path} is missing")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k).astype(np.float32) for k in f.keys()}
        first = int(meta["first"])
        recipe = json.loads(meta.get("recipe", "{}"))
        training = json.loads(meta.get("training", "{}"))
    except Exception as exc:  # safetensors raises several kinds on a bad file
        raise ValueError(f"branch file {path} is damaged or not a branch: {exc}") from exc
    missing = [k for k in HEAD_KEYS if k not in tensors]
    if missing or not 0 < first < N_LAYERS - 1:
        raise ValueError(f"branch file {path} is not a branch: lacks {missing or 'first'}")
    layers = {k[len("layers.") :]: v for k, v in tensors.items() if k.startswith("layers.")}
    width = 3 * 384
    if tensors["head.weight"].shape != (1, width):
        raise ValueError(f"branch file {path}: head weight is {tensors['head.weight'].shape}")
    head_weight, head_bias = tensors["head.weight"], tensors["head.bias"]
    return BranchWeights(first, layers, head_weight, head_bias, recipe, training)


def branch_layers(base: Any, weights: BranchWeights) -> Any:
    """The branch as torch layers: copies of the base model's layers first..5 carrying the
    stored weights (a missing or extra tensor is an error, not a silent default)."""
    import torch

    layers = torch.nn.ModuleList(
        [copy.deepcopy(base.encoder.layer[i]) for i in range(weights.first, N_LAYERS)]
    )
    state = {k: torch.from_numpy(v) for k, v in weights.layers.items()}
    layers.load_state_dict(state, strict=True)
    for p in layers.parameters():
        p.requires_grad = False
    return layers.eval()
