"""LoRA adapters on the encoder's top layers, trained multi-task (issue 18).

What is adapted: low-rank adapters (the `peft` library) on every linear layer of the top two
transformer layers of all-MiniLM-L6-v2 (`ADAPTED`: layers 4 and 5, whose outputs are hidden
states 5 and 6). The lower four layers stay frozen, so training runs them without gradients.

The adapted layers run *beside* the frozen ones, not instead of them: one forward pass gives
the frozen pools of hidden states 0..6 (what rumour, stance and clustering read, unchanged) and
the adapted pools of hidden states 5 and 6, numbered 7 and 8 (`ADAPTED_POOLS`), which the
hostile and offensive heads read. Running two layers twice costs a third more encoder time;
retraining rumour, stance and clustering on adapted features instead could not be measured
honestly (the adapter has seen every PHEME event, so leave-one-event-out would leak).

Training: one shared adapter and four linear heads (hostile, offensive, rumour, stance) over
mixed batches; each example's loss counts only for its own task, class-weighted within the
task; heads start from the frozen-feature heads (so step 0 is the frozen model); the adapter
and heads kept are those of the best validation score (early stopping, patience in evals).
Validation data only: TweetEval hate and offensive val, and held-out augmentation shapes.
"""

from __future__ import annotations

import copy
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

ADAPTED: tuple[int, ...] = (4, 5)  # transformer layers given adapters (hidden states 5, 6)
ADAPTED_POOLS: dict[int, int] = {5: 7, 6: 8}  # hidden state -> pool index of its adapted twin
POOLS_WITH_ADAPTER = 9
TARGETS: tuple[str, ...] = ("query", "key", "value", "dense")
HEAD_LAYERS: tuple[int, ...] = (3, 4, 7, 8)  # frozen 3 and 4, adapted 5 and 6
ADAPTER_FILE = "adapter.safetensors"

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class LoraRecipe:
    seed: int = 13
    # Rank 16 (0.9 MB of adapters against 0.4 MB at rank 8), as the prototype used:
    # the run now sees over twice the examples, several times each.
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.1
    lr: float = 5e-4
    # Low: the heads start from the frozen-feature logistic heads, already good; a first try at
    # 1e-3 moved hate val AUC down 0.015 in 40 steps.
    head_lr: float = 1e-4
    batch_size: int = 32
    # Up to this many passes over the examples; early stopping on validation decides.
    epochs: float = 1.5
    eval_every: int = 75  # steps
    patience: int = 2  # evals without improvement before stopping
    max_length: int = 128
    # Share of each validation set scored at every evaluation (a seeded sample; the calibration
    # and thresholds are fitted on the same share). Evaluations run only the adapted layers
    # (the frozen layers' output for validation posts is computed once).
    val_share: float = 0.4
    # Cap per source (a seeded sample), sized so that `monitor train --lora` runs in well
    # under an hour of two CPU cores (the model card has the measured run). "fresh" caps the
    # fictional sentences of `monitor.classify.augment` (mentions, counter-speech, solidarity,
    # negations, contrastive pairs, non-protected abuse, hostile shapes), "swap" the
    # counterfactual copies of real posts and "obfuscated" the disguised copies.
    caps: Mapping[str, int] = field(
        default_factory=lambda: {
            "tweeteval-hate-train": 2000,
            "davidson": 600,
            "tweeteval-offensive-train": 1400,
            "pheme": 250,
            "rumoureval-traindev": 250,
            "fresh": 1900,
            "swap": 800,
            "obfuscated": 300,
        }
    )
    swaps: int = 2  # counterfactual copies of each real post that names a group
    task_weight: Mapping[str, float] = field(
        default_factory=lambda: {"hostile": 1.0, "offensive": 1.0, "rumour": 0.5, "stance": 0.5}
    )
    davidson_weight: float = 0.5
    augment_weight: float = 1.0
    # The hostile flag's operating point (chosen on validation data): the threshold with the
    # best macro-F1 on TweetEval hate val among those that flag at most this share of the
    # held-out benign augmentation shapes (mentions, counter-speech, solidarity, negations,
    # abuse of non-protected targets). HatEval val alone rewards flagging "group word +
    # negative word"; the bar keeps ordinary talk about groups out of analysts' queues.
    max_benign_fpr: float = 0.05
    # After fine-tuning the hostile head is fitted again on the serving encoder's adapted pools
    # with the non-protected abuse shapes' hostile counterparts (`monitor.classify.refit`), at
    # this L2 (the frozen rumour head's; 0.03, the frozen hostile head's, scored lower on hate
    # val at the operating point: 0.666 against 0.670).
    refit_l2: float = 0.3
    # Threats, each with a benign twin and an everyday post, per group in the hostile refit
    # (`augment.threat_contrast`). Chosen on TweetEval hate val at the operating point (the
    # refit's own rule): 0 (before) 0.670, 4 0.679, 12 0.670 (400 posts: within val's noise;
    # the reason to keep them is the threats, model card "Threats in the hostile refit").
    threat_per_group: int = 4
    # Hateful sentences in the shapes functional tests probe (hatred asked as a question,
    # hedged as an opinion, carried by a pronoun, violence wished or promised), each with a
    # warm twin, a negation and a non-protected twin, per group in the hostile refit
    # (`augment.functional_contrast`; the adapter's fine-tuning does not read them: an adapter
    # trained with them stopped early and separated less, model card "Functional shapes").
    # TweetEval hate val at the operating point: 0 0.6786, 1 0.6892, 2 0.6817, 4 0.6795, 8
    # 0.6646 (400 posts: one noise band but 8); 4 caught the most of the probe's hateful
    # sentences (benchmarks/functional_levers.py: 0.551 against 0.488 without) with the fewest
    # benign flags but 8's. The gain is mostly in counter-speech and abuse of unprotected
    # groups left alone (model card, "Functional shapes in the hostile refit").
    functional_per_group: int = 4
    # The offensive head is fitted again too, on the adapted pools of all 11,916 TweetEval
    # offensive training posts (the fine-tuning saw 1,400), calibrated and thresholded on all
    # 1,324 posts of its val (`monitor.classify.refit`). Pools and L2 chosen on that val
    # (macro-F1; on the shipped adapter): pools 3, 4, 7, 8 at L2 0.003 0.7512, 0.01 0.7607,
    # 0.03 0.7677, 0.1 0.7625, 0.3 0.7574, 1.0 0.7469; 3-8 at 0.1 0.7652; 4, 7, 8 at 0.03
    # 0.7658; all nine pools at 0.1 0.7678 (over twice the columns); 7, 8 at 0.03 0.7567;
    # without class balancing (L2 0.3) 0.7544. The whole grid is in the model card.
    offensive_refit_layers: tuple[int, ...] = HEAD_LAYERS
    offensive_refit_l2: float = 0.03


TASKS: tuple[str, ...] = ("hostile", "offensive", "rumour", "stance")
N_OUT = {"hostile": 1, "offensive": 1, "rumour": 1, "stance": 4}


@dataclass
class Item:
    ids: list[int]
    task: int
    label: int
    weight: float
    text: str


def extended_mask(mask: Any, dtype: Any = None) -> Any:
    """The additive attention mask BERT's eager attention adds to its scores."""
    import torch

    dtype = dtype or torch.float32
    m = mask[:, None, None, :].to(dtype)
    return (1.0 - m) * torch.finfo(dtype).min


def masked_mean(hidden: Any, mask: Any) -> Any:
    import torch

    w = mask.unsqueeze(-1).to(torch.float32)
    return (hidden.float() * w).sum(dim=1) / w.sum(dim=1).clamp(min=1.0)


def top_layers(base: Any) -> Any:
    """Copies of the base model's adapted layers (the frozen originals stay in `base`)."""
    import torch

    return torch.nn.ModuleList([copy.deepcopy(base.encoder.layer[i]) for i in ADAPTED])


def with_lora(top: Any, recipe: LoraRecipe) -> Any:
    """Inject trainable LoRA adapters into every linear layer of `top` (peft)."""
    from peft import LoraConfig, inject_adapter_in_model

    config = LoraConfig(
        r=recipe.rank,
        lora_alpha=recipe.alpha,
        lora_dropout=recipe.dropout,
        target_modules=list(TARGETS),
        bias="none",
    )
    top = inject_adapter_in_model(config, top)
    for name, p in top.named_parameters():
        p.requires_grad = "lora_" in name
    return top


def adapter_tensors(top: Any) -> dict[str, FloatArray]:
    """The LoRA matrices as numpy, named `<layer>.<module path>.lora_A|lora_B`."""
    out: dict[str, FloatArray] = {}
    for name, p in top.named_parameters():
        if "lora_" not in name:
            continue
        # peft names: "<i>.attention.self.query.lora_A.default.weight"
        key = name.replace(".default.weight", "").replace(".default", "")
        out[key] = p.detach().cpu().numpy().astype(np.float32)
    return out


def merged_top(base: Any, tensors: Mapping[str, FloatArray], rank: int, alpha: int) -> Any:
    """Plain copies of the adapted layers with each adapter merged into its weight
    (W + alpha/rank * B @ A, summed in float64 so the merge is the same on every machine)."""
    import torch

    top = top_layers(base)
    scale = alpha / rank
    modules = dict(top.named_modules())
    for key, a in tensors.items():
        if not key.endswith(".lora_A"):
            continue
        path = key[: -len(".lora_A")]
        b = tensors[f"{path}.lora_B"]
        linear = modules[path]
        w = linear.weight.detach().numpy().astype(np.float64)
        w = w + scale * (b.astype(np.float64) @ a.astype(np.float64))
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w.astype(np.float32)))
    return top.eval()


def token_states(base: Any, top: Any, input_ids: Any, mask: Any) -> tuple[list[Any], list[Any]]:
    """Every token's frozen hidden states 0..6 and adapted hidden states 5 and 6, before any
    pooling (`all_pools` pools them; a benchmark pools parts of a post from them)."""
    import torch

    out = base(
        input_ids=input_ids,
        attention_mask=mask,
        token_type_ids=torch.zeros_like(input_ids),
        output_hidden_states=True,
    )
    hidden = list(out.hidden_states)
    h = hidden[ADAPTED[0]]
    ext = extended_mask(mask, h.dtype)
    adapted = []
    for layer in top:
        h = layer(h, attention_mask=ext)
        if isinstance(h, tuple):
            h = h[0]
        adapted.append(h)
    return hidden, adapted


def all_pools(base: Any, top: Any, input_ids: Any, mask: Any, branch: Any = None) -> Any:
    """(batch, 9, 384): masked mean pools of frozen hidden states 0..6, then of the adapted
    hidden states 5 and 6 (pool indices 7 and 8). With an offensive `branch` (layers from
    `monitor.classify.branch.branch_layers`), (batch, 11, 384): its last two hidden states,
    run from the frozen hidden state it starts at, are pools 9 and 10. Used by the export and
    the PyTorch path."""
    import torch

    from monitor.classify.branch import N_LAYERS, run_layers

    hidden, adapted = token_states(base, top, input_ids, mask)
    if branch is not None:
        adapted += run_layers(branch, hidden[N_LAYERS - len(branch)], mask)[-2:]
    pools = [masked_mean(x, mask) for x in hidden + adapted]
    return torch.stack(pools, dim=1)


def load_adapter(path: Path) -> dict[str, FloatArray]:
    from safetensors.numpy import load_file

    return {k: v.astype(np.float32) for k, v in load_file(str(path)).items()}


def save_adapter(path: Path, tensors: Mapping[str, FloatArray]) -> None:
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v) for k, v in sorted(tensors.items())}, str(path))


# ---------------------------------------------------------------------------------------------
# training


@dataclass
class LoraResult:
    adapter: dict[str, FloatArray]
    heads: dict[str, tuple[FloatArray, FloatArray, FloatArray, FloatArray]]  # mean, scale, W, b
    val_logits: dict[str, FloatArray]
    val_labels: dict[str, npt.NDArray[np.int64]]
    history: list[dict[str, float]]
    best_step: int
    steps: int
    seconds: float
    counts: dict[str, int]
    notes: list[str] = field(default_factory=list)


def _sample(texts: Sequence[str], labels: Sequence[int], cap: int, seed: str) -> list[int]:
    idx = list(range(len(texts)))
    if len(idx) > cap:
        idx = sorted(random.Random(seed).sample(idx, cap))
    return idx


def _batches(items: Sequence[Item], size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled, then sorted by length within pools of 50 batches (less padding)."""
    order = list(range(len(items)))
    rng.shuffle(order)
    out: list[list[int]] = []
    pool = size * 50
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: len(items[i].ids))
        out.extend(chunk[j : j + size] for j in range(0, len(chunk), size))
    rng.shuffle(out)
    return out


def _tensorise(rows: Sequence[Sequence[int]]) -> tuple[Any, Any]:
    import torch

    longest = max(len(r) for r in rows)
    ids = torch.zeros((len(rows), longest), dtype=torch.long)
    mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, : len(r)] = 1
    return ids, mask


def train_lora(
    recipe: LoraRecipe,
    train: Mapping[str, Sequence[tuple[str, int, float]]],
    val: Mapping[str, tuple[Sequence[str], Sequence[int]]],
    init_heads: Mapping[str, tuple[FloatArray, FloatArray, FloatArray, FloatArray]],
    *,
    threads: int = 2,
    progress: Callable[[str], None] = log.info,
    deobfuscate: int | None = None,
) -> LoraResult:
    """Train the adapter and the four task heads.

    `train[task]`: (text, label, weight) per example. `val[name]`: (texts, labels) where name
    is "hostile" (TweetEval hate val), "offensive" (its val) or "identity" (held-out
    augmentation shapes, scored by the hostile head). `init_heads[task]`: (mean, scale,
    weight, bias) of the frozen-feature head on HEAD_LAYERS' frozen twins (3, 4, 5, 6), plus
    lexical columns for stance.
    """
    import torch
    from sklearn.metrics import roc_auc_score
    from transformers import AutoModel

    from monitor.classify.deobfuscate import TRAINING_LEVEL, encoder_text
    from monitor.classify.encoder import base_model_path
    from monitor.classify.heads import lexical_features
    from monitor.classify.ort_encoder import load_tokenizer

    # The deobfuscation level the model's heads will read (None: what training uses).
    level = TRAINING_LEVEL if deobfuscate is None else deobfuscate
    started = time.monotonic()
    torch.manual_seed(recipe.seed)
    torch.set_num_threads(threads)
    rng = random.Random(recipe.seed)
    path = base_model_path()
    tok = load_tokenizer(path, recipe.max_length)
    base: Any = AutoModel.from_pretrained(str(path), attn_implementation="eager").eval()
    for p in base.parameters():
        p.requires_grad = False
    top = with_lora(top_layers(base), recipe)

    def ids_of(texts: Sequence[str]) -> list[list[int]]:
        prepared = [encoder_text(t, level) for t in texts]
        return [e.ids for e in tok.encode_batch(prepared)]

    heads = torch.nn.ModuleDict()
    stats: dict[str, tuple[Any, Any]] = {}
    for task in TASKS:
        h_mean, h_scale, h_w, h_b = init_heads[task]
        lin = torch.nn.Linear(h_w.shape[0], h_w.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(h_w.T)))
            lin.bias.copy_(torch.from_numpy(np.asarray(h_b, np.float32)))
        heads[task] = lin
        stats[task] = (
            torch.from_numpy(h_mean.astype(np.float32)),
            torch.from_numpy(h_scale.astype(np.float32)),
        )

    items: list[Item] = []
    counts: dict[str, int] = {}
    class_w: dict[str, dict[int, float]] = {}
    for t, task in enumerate(TASKS):
        rows = train[task]
        labels = [y for _, y, _ in rows]
        n = len(labels)
        k = N_OUT[task] if N_OUT[task] > 1 else 2
        present = {c: labels.count(c) for c in range(k)}
        class_w[task] = {c: n / (k * max(1, m)) for c, m in present.items()}
        counts[task] = n
        for (text, y, w), ids in zip(rows, ids_of([r[0] for r in rows]), strict=True):
            items.append(Item(ids, t, int(y), float(w) * class_w[task][int(y)], text))
    val_ids = {name: ids_of(texts) for name, (texts, _) in val.items()}
    progress(f"lora: {len(items)} training examples {counts}, tokenised")

    params = [
        {"params": [p for p in top.parameters() if p.requires_grad], "lr": recipe.lr},
        {"params": list(heads.parameters()), "lr": recipe.head_lr},
    ]
    opt = torch.optim.AdamW(params, weight_decay=0.01)
    batches = _batches(items, recipe.batch_size, rng)
    total = int(len(batches) * recipe.epochs)
    while len(batches) < total:
        batches += _batches(items, recipe.batch_size, rng)
    batches = batches[:total]
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 50) * max(0.05, 1.0 - s / max(1, total))
    )

    def lower(ids: Any, mask: Any) -> tuple[Any, Any, dict[int, Any]]:
        """The frozen layers below the adapted ones: hidden state 4, the additive mask and
        the frozen pools the heads read (3 and 4). No gradients flow here."""
        with torch.no_grad():
            h = base.embeddings(input_ids=ids, token_type_ids=torch.zeros_like(ids))
            ext = extended_mask(mask)
            pools = {}
            for i in range(ADAPTED[0]):
                h = base.encoder.layer[i](h, attention_mask=ext)
                if isinstance(h, tuple):
                    h = h[0]
                if i + 1 in (3, 4):
                    pools[i + 1] = masked_mean(h, mask)
        return h, ext, pools

    def upper(h: Any, ext: Any, mask: Any, pools: dict[int, Any], train_mode: bool) -> Any:
        pools = dict(pools)
        top.train(train_mode)
        for j, layer in enumerate(top):
            h = layer(h, attention_mask=ext)
            if isinstance(h, tuple):
                h = h[0]
            pools[ADAPTED_POOLS[ADAPTED[j] + 1]] = masked_mean(h, mask)
        return torch.cat([pools[i] for i in HEAD_LAYERS], dim=1)

    def head_logits(task: str, x: Any, texts: Sequence[str]) -> Any:
        if task == "stance":
            x = torch.cat([x, torch.from_numpy(lexical_features(texts))], dim=1)
        mean, scale = stats[task]
        return heads[task]((x - mean) / scale)

    # Validation posts go through the frozen lower layers once: every evaluation then runs
    # only the adapted layers (a third of the encoder), so evaluating often stays cheap.
    val_batches: dict[str, list[tuple[list[int], Any, Any, Any, dict[int, Any]]]] = {}
    for name, vrows in val_ids.items():
        order = sorted(range(len(vrows)), key=lambda i: len(vrows[i]))
        val_batches[name] = []
        for s in range(0, len(order), 128):
            idx = order[s : s + 128]
            a, m = _tensorise([vrows[i] for i in idx])
            h, ext, pools = lower(a, m)
            val_batches[name].append((idx, h, ext, m, pools))

    def predict(name: str) -> FloatArray:
        task = "hostile" if name == "identity" else name
        texts = val[name][0]
        out = np.zeros(len(texts), np.float32)
        with torch.no_grad():
            for idx, h, ext, m, pools in val_batches[name]:
                x = upper(h, ext, m, pools, False)
                z = head_logits(task, x, [texts[i] for i in idx])
                out[idx] = z[:, 0].numpy()
        return out

    def evaluate(step: int) -> tuple[float, dict[str, FloatArray]]:
        logits = {name: predict(name) for name in val}
        row: dict[str, float] = {"step": float(step)}
        for name, z in logits.items():
            row[f"{name}_auc"] = round(float(roc_auc_score(val[name][1], z)), 4)
        score = float(np.mean([row[f"{n}_auc"] for n in val]))
        row["score"] = round(score, 4)
        history.append(row)
        progress(f"lora: step {step}/{total} {row} ({time.monotonic() - started:.0f} s)")
        return score, logits

    history: list[dict[str, float]] = []
    best, best_logits = evaluate(0)
    best_state = (copy.deepcopy(top.state_dict()), copy.deepcopy(heads.state_dict()))
    best_step, bad = 0, 0
    step = 0
    for step, batch in enumerate(batches, start=1):
        ids, mask = _tensorise([items[i].ids for i in batch])
        h, ext, pools = lower(ids, mask)
        x = upper(h, ext, mask, pools, True)
        loss = torch.zeros(())
        for t, task in enumerate(TASKS):
            sel = [j for j, i in enumerate(batch) if items[i].task == t]
            if not sel:
                continue
            z = head_logits(task, x[sel], [items[batch[j]].text for j in sel])
            target = torch.tensor([items[batch[j]].label for j in sel])
            weight = torch.tensor([items[batch[j]].weight for j in sel], dtype=torch.float32)
            if N_OUT[task] == 1:
                per = torch.nn.functional.binary_cross_entropy_with_logits(
                    z[:, 0], target.float(), reduction="none"
                )
            else:
                per = torch.nn.functional.cross_entropy(z, target, reduction="none")
            loss = loss + recipe.task_weight[task] * (per * weight).sum() / len(batch)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        sched.step()
        if step % recipe.eval_every == 0 or step == total:
            score, logits = evaluate(step)
            if score > best:
                best, best_logits, best_step, bad = score, logits, step, 0
                best_state = (copy.deepcopy(top.state_dict()), copy.deepcopy(heads.state_dict()))
            else:
                bad += 1
                if bad >= recipe.patience:
                    progress(f"lora: early stop at step {step} (best {best_step})")
                    break
    top.load_state_dict(best_state[0])
    heads.load_state_dict(best_state[1])
    out_heads = {}
    for task in TASKS:
        t_mean, t_scale = stats[task]
        trained: Any = heads[task]
        out_heads[task] = (
            t_mean.numpy(),
            t_scale.numpy(),
            trained.weight.detach().numpy().T.copy(),
            trained.bias.detach().numpy().copy(),
        )
    return LoraResult(
        adapter=adapter_tensors(top),
        heads=out_heads,
        val_logits=best_logits,
        val_labels={n: np.asarray(v[1], np.int64) for n, v in val.items()},
        history=history,
        best_step=best_step,
        steps=step,
        seconds=time.monotonic() - started,
        counts=counts,
    )
