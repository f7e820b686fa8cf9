"""A non-linear hostile head on the adapted pools, against the linear refit (issue 18).

The functional-shape rounds ("Functional shapes in the hostile refit") found the linear head
unable to learn from the frames what it misses: hatred hedged as an opinion, carried by a
pronoun, asked as a question, or said by negating a compliment. This benchmark asks whether
the *form* of the head is the limit: on exactly the refit's data (`hostile_refit_set`: the
fine-tuning's hostile rows and the refit's fictional sentences, with their weights), a
one-hidden-layer network (standardised columns, input dropout 0.1, GELU, dropout 0.5, AdamW,
weight decay 0.01, class-balanced weighted cross-entropy, batches of 64, a fixed number of
epochs: nothing stops on validation) replaces the logistic head, alone, as a five-seed
ensemble, and blended with the linear head (`(1 - w) * linear + w * network`, each logit
divided by its spread on val). Every row then goes through the refit's own Platt scaling and
operating point (best TweetEval hate val macro-F1 among thresholds that flag at most 5% of the
held-out benign sentences), the project's rule for choosing; test and suites are scored once
per row, for information.

    nice -n 5 .venv/bin/python benchmarks/hostile_head_form.py --cache-dir DIR

About 2 minutes on a 2-core machine with `monitor eval`'s cache filled. Figures are in the
model card ("The hostile head's form").
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from monitor.classify import data as datasets
from monitor.classify import fairness, functional
from monitor.classify.fairness import auc
from monitor.classify.finetune import operating_threshold
from monitor.classify.fit import fit_platt
from monitor.classify.lora import LoraRecipe
from monitor.classify.refit import _pools, fit_hostile, hostile_refit_set
from monitor.classify.train import _macro_f1

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from benchmarks.shipped_model import open_shipped

FloatArray = npt.NDArray[np.float64]
Scorer = Callable[[npt.NDArray[np.float32]], FloatArray]


def network(
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    w: npt.NDArray[np.float32],
    *,
    hidden: int,
    epochs: int,
    seed: int,
) -> Scorer:
    """A one-hidden-layer head trained for `epochs` on (x, y, w); returns its logit."""
    torch.manual_seed(seed)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xt = torch.tensor((x - mu) / sd, dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.float32)
    pos, neg = float((y * w).sum()), float(((1 - y) * w).sum())
    balance = np.where(y == 1, (pos + neg) / (2 * pos), (pos + neg) / (2 * neg))
    wt = torch.tensor(w * balance, dtype=torch.float32)
    net = torch.nn.Sequential(
        torch.nn.Dropout(0.1),
        torch.nn.Linear(xt.shape[1], hidden),
        torch.nn.GELU(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(hidden, 1),
    )
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt), 64):
            b = order[i : i + 64]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                net(xt[b])[:, 0], yt[b], reduction="none"
            )
            opt.zero_grad()
            (loss * wt[b]).mean().backward()
            opt.step()
    net.eval()

    def score(z: npt.NDArray[np.float32]) -> FloatArray:
        with torch.no_grad():
            out = net(torch.tensor((z - mu) / sd, dtype=torch.float32))[:, 0]
        return out.numpy().astype(np.float64)

    return score


def main() -> None:
    shipped = open_shipped(__doc__, None)
    served, data_dir = shipped.served, shipped.data_dir
    torch.set_num_threads(2)
    recipe = LoraRecipe()
    d = hostile_refit_set(recipe, served, data_dir)
    hate = datasets.tweeteval("hate", "test", data_dir)
    x_test, y_test = _pools(served, hate.name, hate.texts), np.array(hate.labels)
    f_cases = functional.load_suite()
    x_func = _pools(served, "functional-suite", [c.text for c in f_cases])
    a_cases = fairness.load_suite()
    x_fair = _pools(served, "fairness-suite", [c.text for c in a_cases])

    def row(name: str, score: Scorer) -> None:
        a, c = fit_platt(score(d.x_val), d.y_val)

        def p(z: npt.NDArray[np.float32]) -> FloatArray:
            return np.asarray(1 / (1 + np.exp(-(a * score(z) + c))))

        p_val = p(d.x_val)
        t, _ = operating_threshold(p_val, d.y_val, p(d.x_benign), recipe.max_benign_fpr)
        f = functional.functional_report(f_cases, p(x_func).tolist(), t)["overall"]
        fair = fairness.fairness_report(a_cases, p(x_fair).tolist(), t)["overall"]
        cells: list[Any] = [
            name,
            f"{t:.2f}",
            f"{_macro_f1(d.y_val, (p_val >= t).astype(int)):.4f}",
            f"{auc(p_val[d.y_val == 1], p_val[d.y_val == 0]):.3f}",
            f"{_macro_f1(y_test, (p(x_test) >= t).astype(int)):.4f}",
            f"{f['accuracy']:.3f} / {f['recall_hateful']:.3f} / {f['fpr_non_hateful']:.3f}",
            f"{f['auc']:.3f}",
            f"{f['lowest_group_recall']:.2f}-{f['highest_group_recall']:.2f}",
            f"{fair['fpr_counter']:.3f}",
            len(fair["groups_failing_fpr_bar"]),
            f"{fair['recall_hostile']:.3f}",
        ]
        print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)

    print(
        "| hostile head | threshold | val macro-F1 | val AUC | hate test | functional right / "
        "hateful caught / non-hateful flagged | functional AUC | groups' recall | fairness "
        "counter FPR | groups over the bar | fairness recall |"
    )
    print("|---" * 11 + "|")
    fit = fit_hostile(
        d.x,
        d.y,
        d.w,
        d.x_val,
        d.y_val,
        d.x_benign,
        l2=recipe.refit_l2,
        max_benign_fpr=recipe.max_benign_fpr,
        seed=recipe.seed,
    )

    def linear(z: npt.NDArray[np.float32]) -> FloatArray:
        return fit.head.logits(z)[:, 0].astype(np.float64)

    row("linear (the shipped refit)", linear)
    for hidden in (64, 256):
        for epochs in (1, 2, 3):
            for seed in (13, 14, 15):
                net = network(d.x, d.y, d.w, hidden=hidden, epochs=epochs, seed=seed)
                row(f"network, {hidden} units, {epochs} epochs, seed {seed}", net)
    nets = [network(d.x, d.y, d.w, hidden=256, epochs=2, seed=s) for s in range(13, 18)]

    def ensemble(z: npt.NDArray[np.float32]) -> FloatArray:
        return np.asarray(np.mean([n(z) for n in nets], axis=0))

    row("five networks (256 units, 2 epochs, seeds 13-17), averaged", ensemble)
    s_lin, s_ens = float(linear(d.x_val).std()), float(ensemble(d.x_val).std())
    for w in (0.25, 0.5, 0.75):

        def blend(z: npt.NDArray[np.float32], w: float = w) -> FloatArray:
            return (1 - w) * linear(z) / s_lin + w * ensemble(z) / s_ens

        row(f"blend of linear and the five, w {w}", blend)


if __name__ == "__main__":
    main()
