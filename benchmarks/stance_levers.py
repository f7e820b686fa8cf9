"""A fine-tuned branch for stance, alone and shared with offensive (issue 18, the 0.55 bar).

The shipped `stance` head is a logistic head on the frozen pools 3-6, seven lexical features
and eight stance cues (RumourEval-2017 test macro-F1 0.526). The levers the model card
lists under "Rumour and stance" (n-grams, class weights, thresholds, keywords, thread
context) gained nothing; this one trains encoder layers for stance, as the offensive branch
(`benchmarks/offensive_levers.py`) lifted offensive from 0.766 to 0.800:

- a **branch**: copies of the encoder's top K layers, every weight trained (AdamW, `--lr`
  for the layers, 1e-3 for the heads, warm-up and linear decay over `--epochs`, batches of
  32) from the frozen hidden state 6-K, with a linear head on the mean pools of its input and
  its last two hidden states; 4-class class-weighted (balanced) cross-entropy;
- **held-out part**: a seeded 20% of traindev's threads (`stance_folds(groups, 5, seed)[0]`)
  is never trained on: early stopping (macro one-vs-rest AUC, every `--eval-every` steps,
  patience 4), the decision's temperature, class shift and per-class thresholds (the
  project's rule, `train.stance_decision`) and a blend weight are chosen there. "CV" is the
  honest held-out figure: those choices made on four thread-folds of the held-out part, the
  fifth predicted. Test (962 posts) is scored once per configuration, for information;
- `--blend`: the branch's probabilities blended with the recipe's stance head,
  `(1 - w) * branch + w * head`; on the held-out part the head is the recipe refitted on the
  other 80% of threads (its temperature from an inner out-of-fold fit), on test the shipped
  head itself;
- `--multitask`: one shared branch with two heads, offensive (TweetEval offensive train,
  binary class-weighted cross-entropy) and stance (the 80% of traindev threads, each stance
  batch seen `--stance-repeat` times an epoch); early stopping on the mean of offensive val
  AUC and the stance held-out AUC. Offensive gets the project's operating point (Platt
  scaling and the best-F1 threshold on val, as `offensive_levers.py`);
- `--parent`: the reply's parent post (from `structures.json`) as a second segment.

    nice -n 5 .venv/bin/python benchmarks/stance_levers.py --branch 4 --blend \
        --cache-dir /work/cache/classify [--multitask] [--seed 14] [--parent]

Measured on 2026-12-06 (shared 2 cores, load 2-10, `--threads 1`; model card, "Stance: a
fine-tuned branch"). Held-out: seed 13's 642 posts (in sample; CV in brackets); test 962:

| model (seed 13) | held-out macro-F1 | test macro-F1 | test F1 sup / deny / query / comm |
|---|---|---|---|
| shipped head (all traindev) | - | 0.5264 | 0.35 / 0.31 / 0.62 / 0.83 |
| recipe head on the 80%, inner out-of-fold rule | 0.5403 | 0.4865 | 0.34 / 0.19 / 0.57 / 0.85 |
| branch, 4 layers, argmax | 0.4800 | 0.4711 | 0.35 / 0.32 / 0.52 / 0.70 |
| branch, 4 layers, rule | 0.5298 (0.4858) | 0.5123 | 0.34 / 0.28 / 0.59 / 0.84 |
| branch, 4 layers + recipe head, w 0.5 | 0.5388 (0.5120) | 0.4958 | 0.32 / 0.26 / 0.56 / 0.85 |
| branch, 2 layers, rule | 0.5176 (0.4926) | 0.4666 | 0.32 / 0.19 / 0.51 / 0.85 |
| branch, 4 layers, parent segment, rule | 0.4052 (0.4192) | 0.3570 | 0.32 / 0.00 / 0.26 / 0.85 |
| shared offensive + stance, rule | 0.5001 (0.5103) | 0.4477 | 0.29 / 0.07 / 0.58 / 0.86 |
| shared, + recipe head, w 0.2 | 0.5534 (0.5108) | 0.4960 | 0.31 / 0.20 / 0.62 / 0.85 |
| seed 14: branch, 4 layers, rule | 0.5284 (0.5146) | 0.5081 | 0.33 / 0.26 / 0.60 / 0.84 |
| seed 14: + recipe head, w 0.2 | 0.5388 (0.5122) | 0.5297 | 0.33 / 0.27 / 0.68 / 0.84 |
| seed 14: shared, rule | 0.5100 (0.5094) | 0.4989 | 0.31 / 0.26 / 0.60 / 0.82 |

The shared branch's offensive: val AUC 0.8639, val macro-F1 0.7759, test 0.7984 (the
offensive-only branch: 0.8706, 0.7799, 0.8004); seed 14 0.8693, 0.7821, 0.7997 (0.8708,
0.7775, 0.8089). Nothing reaches 0.55; nothing shipped.
Wall time at load 7-10 with one thread: `--branch 4` 13 minutes, `--multitask` 46.

The branch code is copied from `offensive_levers.branch` (generalised to several heads);
once `monitor.classify.branch` lands (it is being moved there), this should reuse it.
Figures are in the model card ("Stance: a fine-tuned branch").
"""

from __future__ import annotations

import argparse
import json
import random
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.offensive_levers import Operating
from monitor.classify import data as datasets
from monitor.classify.branch import branch_features, frozen_base, frozen_lower, trainable_copies
from monitor.classify.deobfuscate import cache_texts, encoder_text
from monitor.classify.features import FeatureCache, select
from monitor.classify.fit import best_threshold, fit_temperature
from monitor.classify.heads import HeadSet, lexical_features, stance_cues
from monitor.classify.labels import STANCE_LABELS, STANCES
from monitor.classify.manifest import load_model_dir
from monitor.classify.train import LinearFit, Recipe, _macro_f1, stance_decision, stance_folds

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
MODEL = Path(__file__).resolve().parents[1] / "models" / "minilm-heads-v1"
SEED = 13
BLEND_WEIGHTS = tuple(round(float(w), 2) for w in np.linspace(0.0, 1.0, 11))
PATIENCE = 4


def softmax(z: FloatArray) -> FloatArray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    out: FloatArray = e / e.sum(axis=1, keepdims=True)
    return out


def per_class_f1(y: IntArray, pred: IntArray) -> list[float]:
    from sklearn.metrics import f1_score

    return [float(v) for v in f1_score(y, pred, average=None, labels=list(range(len(STANCES))))]


@dataclass
class Rule:
    """The project's stance decision fitted on (probabilities, labels): each class's best
    one-vs-rest F1 threshold, then the class whose probability most exceeds its own."""

    t: list[float] = field(default_factory=list)

    @classmethod
    def fit(cls, p: FloatArray, y: IntArray) -> Rule:
        return cls(
            [
                best_threshold(
                    p[:, j].astype(np.float32), (y == j).astype(np.int64), None, binary=True
                )
                for j in range(4)
            ]
        )

    def decide(self, p: FloatArray) -> IntArray:
        return stance_decision(p.astype(np.float32), self.t)


def calibrated(z: FloatArray, y: IntArray) -> tuple[float, FloatArray]:
    """Temperature and class shift on logits (as `train_stance` fits them)."""
    s, shift = fit_temperature(z.astype(np.float32), y)
    return float(s), np.asarray(shift, np.float64)


def rule_cv(p: FloatArray, y: IntArray, groups: Sequence[str], seed: int) -> float:
    """Macro-F1 of the rule on the held-out part, its thresholds chosen on four thread-folds
    of it and the fifth predicted."""
    pred = np.zeros_like(y)
    for f in stance_folds(groups, 5, seed):
        pred[f] = Rule.fit(p[~f], y[~f]).decide(p[f])
    return _macro_f1(y, pred)


def blend_choice(pb: FloatArray, ph: FloatArray, y: IntArray) -> tuple[float, Rule, float]:
    """The blend weight (and its rule) with the best in-sample macro-F1 of the decision."""
    best: tuple[float, Rule, float] = (-1.0, Rule(), 0.0)
    for w in BLEND_WEIGHTS:
        p = (1 - w) * pb + w * ph
        rule = Rule.fit(p, y)
        f = _macro_f1(y, rule.decide(p))
        if f > best[0] + 1e-9:
            best = (f, rule, w)
    return best[2], best[1], best[0]


def blend_cv(
    pb: FloatArray, ph: FloatArray, y: IntArray, groups: Sequence[str], seed: int
) -> float:
    pred = np.zeros_like(y)
    for f in stance_folds(groups, 5, seed):
        w, rule, _ = blend_choice(pb[~f], ph[~f], y[~f])
        pred[f] = rule.decide((1 - w) * pb[f] + w * ph[f])
    return _macro_f1(y, pred)


# --- data -------------------------------------------------------------------------------


@dataclass
class Stance:
    """RumourEval traindev split into the threads trained on and the held-out threads, and test."""

    texts: dict[str, list[str]]
    parents: dict[str, list[str]]
    y: dict[str, IntArray]
    groups: dict[str, list[str]]
    index: dict[str, IntArray]  # rows of the split's source data ('train', 'held' in traindev)


def parent_texts(split: str, texts: Sequence[str]) -> list[str]:
    """Each post's parent's text in its thread ('' for a thread's source)."""
    folder = datasets.default_data_dir() / "labelled" / "rumoureval2017" / split
    posts = json.loads((folder / "posts.json").read_text(encoding="utf-8"))
    trees = json.loads((folder / "structures.json").read_text(encoding="utf-8"))
    parent: dict[str, str] = {}
    stack: list[tuple[str, Any]] = [("", t) for t in trees.values()]
    while stack:
        up, node = stack.pop()
        if isinstance(node, dict):
            for post_id, children in node.items():
                parent[str(post_id)] = up
                stack.append((str(post_id), children))
    ids = (folder / "post_id.txt").read_text(encoding="utf-8").split()[: len(texts)]
    return [posts[parent[i]]["text"] if parent.get(i) in posts else "" for i in ids]


def stance_data(seed: int) -> Stance:
    tr, te = datasets.rumoureval("traindev"), datasets.rumoureval("test")
    held = stance_folds(tr.groups, 5, seed)[0]
    idx = {"train": np.flatnonzero(~held), "held": np.flatnonzero(held)}
    tr_parents = parent_texts("traindev", tr.texts)
    out = Stance({}, {}, {}, {}, idx)
    for part, rows in idx.items():
        out.texts[part] = [tr.texts[i] for i in rows]
        out.parents[part] = [tr_parents[i] for i in rows]
        out.y[part] = np.array(tr.labels, np.int64)[rows]
        out.groups[part] = [tr.groups[i] for i in rows]
    out.texts["test"], out.parents["test"] = list(te.texts), parent_texts("test", te.texts)
    out.y["test"], out.groups["test"] = np.array(te.labels, np.int64), list(te.groups)
    return out


# --- the recipe's head, refitted on the training threads, and the shipped head ---------------


def recipe_heads(st: Stance, cache_dir: Path | None, seed: int) -> dict[str, FloatArray]:
    """Stance probabilities of the recipe's head: on the held-out part refitted on the training
    threads (temperature and shift from an inner 5-fold out-of-fold fit by thread), on test
    the shipped head's own (`test`) and that refit's (`test_refit`)."""
    from monitor.classify.evaluate import score_pools

    recipe = Recipe()
    cache = FeatureCache(cache_dir, variant="onnx")
    tr = datasets.rumoureval("traindev")
    te = datasets.rumoureval("test")

    def features(d: datasets.Labelled) -> npt.NDArray[np.float32]:
        pools = cache.layers(d.name, cache_texts(d.texts, True))
        x = np.hstack([select(pools, recipe.layers), lexical_features(d.texts)])
        return np.asarray(np.hstack([x, stance_cues(d.texts)]), np.float32)

    x, xt = features(tr), features(te)
    xa, ya = x[st.index["train"]], st.y["train"]
    oof = np.zeros((len(ya), 4), np.float64)
    for f in stance_folds(st.groups["train"], 5, seed):
        oof[f] = LinearFit(xa[~f], ya[~f], 4, recipe.stance_l2, recipe).logits(xa[f])
    s, shift = calibrated(oof, ya)
    fit = LinearFit(xa, ya, 4, recipe.stance_l2, recipe)
    out = {
        "train_oof": softmax(oof * s + shift),
        "held": softmax(fit.logits(x[st.index["held"]]).astype(np.float64) * s + shift),
        "test_refit": softmax(fit.logits(xt).astype(np.float64) * s + shift),
    }
    model = load_model_dir(MODEL)
    pools = cache.layers(te.name, cache_texts(te.texts, True))
    # The shipped stance head alone: it reads the frozen pools only (the adapted ones feed
    # hostile and offensive, which this cache does not hold).
    stance_only = HeadSet([h for h in model.heads.heads if h.name == "stance"])
    scores = score_pools(stance_only, pools, te.texts)
    out["test"] = np.array([[sc[lab] for lab in STANCE_LABELS] for sc in scores], np.float64)
    shipped = [model.all_thresholds[lab] for lab in STANCE_LABELS]
    mf = _macro_f1(st.y["test"], stance_decision(out["test"].astype(np.float32), shipped))
    print(f"shipped stance head on test at its thresholds: {mf:.4f}", flush=True)
    return out


# --- the branch --------------------------------------------------------------------------


@dataclass
class Task:
    """One head of the branch: its batches per split and its labels per split."""

    name: str
    n_out: int
    batches: dict[str, list[tuple[list[int], Any, Any]]]
    y: dict[str, IntArray]


def branch(
    k: int,
    st: Stance,
    *,
    offensive: bool,
    parent: bool,
    lr: float,
    epochs: float,
    stance_repeat: int,
    eval_every: int,
    threads: int,
    seed: int,
) -> dict[str, dict[str, FloatArray]]:
    """Logits of a branch of the top `k` layers (module doc) at its best early-stopping score:
    {'stance': {'held', 'test'}, 'offensive': {'val', 'test'}}."""
    import torch
    from sklearn.metrics import roc_auc_score

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = random.Random(seed)
    first = 6 - k
    base, tok = frozen_base()
    layers = trainable_copies(base, first)

    def tensorise(rows: Sequence[tuple[Sequence[int], Sequence[int]]]) -> tuple[Any, Any, Any]:
        ids = torch.zeros((len(rows), max(len(r[0]) for r in rows)), dtype=torch.long)
        types, mask = torch.zeros_like(ids), torch.zeros_like(ids)
        for i, (r, t) in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            types[i, : len(r)] = torch.tensor(t)
            mask[i, : len(r)] = 1
        return ids, types, mask

    started = time.monotonic()

    def batched(texts: Sequence[str], pair: Sequence[str] | None, training: bool) -> list[Any]:
        plain = [encoder_text(t, True) for t in texts]
        if pair is None:
            enc = tok.encode_batch(plain)
        else:
            # The reply first, so truncation at 128 tokens cuts the parent, not the reply.
            enc = tok.encode_batch(
                [(t, encoder_text(p, True)) if p else t for t, p in zip(plain, pair, strict=True)]
            )
        rows = [(e.ids, e.type_ids) for e in enc]
        size = 32 if training else 128
        order = list(range(len(rows)))
        if training:
            rng.shuffle(order)
        out = []
        for s in range(0, len(order), size * 50):  # length-sorted within pools of 50 batches
            chunk = sorted(order[s : s + size * 50], key=lambda i: len(rows[i][0]))
            for j in range(0, len(chunk), size):
                idx = chunk[j : j + size]
                ids, types, mask = tensorise([rows[i] for i in idx])
                out.append((idx, frozen_lower(base, ids, mask, first, types), mask))
        return out

    tasks: list[Task] = []
    sb: dict[str, list[Any]] = {}
    for part in ("train", "held", "test"):
        sb[part] = batched(st.texts[part], st.parents[part] if parent else None, part == "train")
    tasks.append(Task("stance", 4, sb, dict(st.y)))
    print(f"  branch: frozen layers over stance ({time.monotonic() - started:.0f} s)", flush=True)
    if offensive:
        ob: dict[str, list[Any]] = {}
        oy: dict[str, IntArray] = {}
        for split in ("train", "val", "test"):
            d = datasets.tweeteval("offensive", split)
            ob[split] = batched(d.texts, None, split == "train")
            oy[split] = np.array(d.labels, np.int64)
        tasks.append(Task("offensive", 1, ob, oy))
        print(f"  branch: frozen layers over offensive ({time.monotonic() - started:.0f} s)")
    heads = torch.nn.ModuleDict({t.name: torch.nn.Linear(3 * 384, t.n_out) for t in tasks})
    for p in heads.parameters():
        torch.nn.init.zeros_(p)

    def forward(name: str, h: Any, mask: Any, training: bool) -> Any:
        return heads[name](branch_features(layers, h, mask, training))

    def predict(task: Task, split: str) -> FloatArray:
        z = np.zeros((len(task.y[split]), task.n_out), np.float64)
        with torch.no_grad():
            for idx, h, mask in task.batches[split]:
                z[idx] = forward(task.name, h, mask, False).numpy()
        return z

    def losses(task: Task) -> Any:
        y = task.y["train"]
        if task.n_out == 1:
            pos = torch.tensor((y == 0).sum() / (y == 1).sum())
            return lambda z, t: torch.nn.functional.binary_cross_entropy_with_logits(
                z[:, 0], t.float(), pos_weight=pos
            )
        counts = np.bincount(y, minlength=task.n_out)
        w = torch.tensor(len(y) / (task.n_out * counts), dtype=torch.float32)  # balanced
        return lambda z, t: torch.nn.functional.cross_entropy(z, t, weight=w)

    loss_of = {t.name: losses(t) for t in tasks}
    valid = {"stance": "held", "offensive": "val"}

    def score(task: Task, z: FloatArray) -> float:
        y = task.y[valid[task.name]]
        if task.n_out == 1:
            return float(roc_auc_score(y, z[:, 0]))
        return float(roc_auc_score(y, softmax(z), multi_class="ovr", average="macro"))

    schedule: list[tuple[Task, int]] = []
    for t in tasks:
        repeat = stance_repeat if (t.name == "stance" and offensive) else 1
        schedule += [(t, b) for b in range(len(t.batches["train"]))] * repeat
    opt = torch.optim.AdamW(
        [{"params": layers.parameters(), "lr": lr}, {"params": heads.parameters(), "lr": 1e-3}],
        weight_decay=0.01,
    )
    total = int(len(schedule) * epochs)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 50) * max(0.0, 1.0 - s / total)
    )
    print(f"  branch: {total} steps ({len(schedule)} an epoch)", flush=True)
    best: tuple[float, dict[str, dict[str, FloatArray]]] = (-1.0, {})
    step, bad = 0, 0
    while step < total and bad < PATIENCE:
        rng.shuffle(schedule)
        for task, b in schedule:
            idx, h, mask = task.batches["train"][b]
            target = torch.tensor(task.y["train"][idx])
            loss = loss_of[task.name](forward(task.name, h, mask, True), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % eval_every == 0 or step == total:
                got = {t.name: predict(t, valid[t.name]) for t in tasks}
                scores = {t.name: score(t, got[t.name]) for t in tasks}
                mean = float(np.mean(list(scores.values())))
                zs = got["stance"]
                f = _macro_f1(st.y["held"], zs.argmax(axis=1))
                print(
                    f"  branch step {step}/{total} ({time.monotonic() - started:.0f} s): "
                    + ", ".join(f"{n} AUC {v:.4f}" for n, v in scores.items())
                    + f", stance held-out argmax macro-F1 {f:.4f}",
                    flush=True,
                )
                if mean > best[0]:
                    out = {
                        t.name: {valid[t.name]: got[t.name], "test": predict(t, "test")}
                        for t in tasks
                    }
                    best, bad = (mean, out), 0
                else:
                    bad += 1
            if step >= total or bad >= PATIENCE:
                break
    print(f"  branch: best early-stopping score {best[0]:.4f} ({time.monotonic() - started:.0f} s)")
    return best[1]


# --- the table ---------------------------------------------------------------------------


def row(name: str, held: str, y: IntArray, pred: IntArray) -> None:
    pc = " / ".join(f"{v:.2f}" for v in per_class_f1(y, pred))
    print(f"| {name} | {held} | **{_macro_f1(y, pred):.4f}** | {pc} |", flush=True)


def report_stance(
    name: str, zh: FloatArray, zt: FloatArray, st: Stance, seed: int
) -> tuple[FloatArray, FloatArray]:
    """Rows for a branch's stance logits: plain argmax, and the project's rule (temperature,
    shift and thresholds on the held-out part). Returns its calibrated probabilities."""
    yh, yt = st.y["held"], st.y["test"]
    row(f"{name}, argmax", f"{_macro_f1(yh, zh.argmax(axis=1)):.4f}", yt, zt.argmax(axis=1))
    s, shift = calibrated(zh, yh)
    ph, pt = softmax(zh * s + shift), softmax(zt * s + shift)
    rule = Rule.fit(ph, yh)
    held = (
        f"{_macro_f1(yh, rule.decide(ph)):.4f} (CV {rule_cv(ph, yh, st.groups['held'], seed):.4f})"
    )
    row(f"{name}, per-class thresholds", held, yt, rule.decide(pt))
    return ph, pt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--branch", type=int, default=4, help="Fine-tune the top K layers.")
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--epochs", type=float, default=5.0)
    ap.add_argument("--eval-every", type=int, default=25)
    ap.add_argument("--multitask", action="store_true", help="Share the branch with offensive.")
    ap.add_argument("--stance-repeat", type=int, default=2)
    ap.add_argument("--parent", action="store_true", help="The parent post as a second segment.")
    ap.add_argument("--blend", action="store_true", help="Blend with the recipe's stance head.")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=SEED, help="Seeds the branch and the split.")
    ap.add_argument("--cache-dir", type=Path, default=None)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    st = stance_data(args.seed)
    print(
        f"stance: {len(st.y['train'])} posts trained on, {len(st.y['held'])} held out "
        f"({len(set(st.groups['held']))} threads), {len(st.y['test'])} test",
        flush=True,
    )
    head = recipe_heads(st, args.cache_dir, args.seed) if args.blend else {}
    z = branch(
        args.branch,
        st,
        offensive=args.multitask,
        parent=args.parent,
        lr=args.lr,
        epochs=args.epochs,
        stance_repeat=args.stance_repeat,
        eval_every=args.eval_every,
        threads=args.threads,
        seed=args.seed,
    )
    what = (
        f"{'offensive + stance' if args.multitask else 'stance'} branch, top {args.branch} "
        f"layers{', parent as 2nd segment' if args.parent else ''}, seed {args.seed}"
    )
    print(
        "\n| model | held-out macro-F1 | test macro-F1 | test F1 support / deny / query / comment |"
    )
    print("|---|---|---|---|")
    yh, yt = st.y["held"], st.y["test"]
    from sklearn.metrics import roc_auc_score

    if head:
        rule = Rule.fit(head["held"], yh)
        cv = rule_cv(head["held"], yh, st.groups["held"], args.seed)
        held = f"{_macro_f1(yh, rule.decide(head['held'])):.4f} (CV {cv:.4f})"
        refit = rule.decide(head["test_refit"])
        auc = roc_auc_score(yh, head["held"], multi_class="ovr", average="macro")
        print(f"(recipe head refitted on the training threads: held-out macro AUC {auc:.4f})")
        row("recipe head refitted on the training threads, rule on held-out", held, yt, refit)
        inner = Rule.fit(head["train_oof"], st.y["train"])
        held = f"{_macro_f1(yh, inner.decide(head['held'])):.4f}"
        refit = inner.decide(head["test_refit"])
        row("the same, rule from its inner out-of-fold (the recipe)", held, yt, refit)
        shipped = [load_model_dir(MODEL).all_thresholds[lab] for lab in STANCE_LABELS]
        row(
            "shipped head (all traindev), its thresholds",
            "-",
            yt,
            stance_decision(head["test"].astype(np.float32), shipped),
        )
    ph, pt = report_stance(what, z["stance"]["held"], z["stance"]["test"], st, args.seed)
    if head:
        w, rule, f = blend_choice(ph, head["held"], yh)
        cv = blend_cv(ph, head["held"], yh, st.groups["held"], args.seed)
        row(
            f"{what} + recipe head, w {w:.1f}",
            f"{f:.4f} (CV {cv:.4f})",
            yt,
            rule.decide((1 - w) * pt + w * head["test"]),
        )
    if args.multitask:
        zv, zt = z["offensive"]["val"][:, 0], z["offensive"]["test"][:, 0]
        yv = np.array(datasets.tweeteval("offensive", "val").labels, np.int64)
        yo = np.array(datasets.tweeteval("offensive", "test").labels, np.int64)
        op = Operating(zv, yv)
        print(
            f"\noffensive from the shared branch: val AUC {roc_auc_score(yv, zv):.4f}, "
            f"val macro-F1 {op.f1:.4f}, test AUC {roc_auc_score(yo, zt):.4f}, "
            f"test macro-F1 {_macro_f1(yo, op.flags(zt)):.4f}"
        )


if __name__ == "__main__":
    main()
