"""Fitting heads: weighted, L2-regularised logistic regression and calibration, in torch.

Full-batch L-BFGS on standardised features: deterministic for a fixed seed and a few seconds
per head on two cores, where scikit-learn's solvers took minutes on the same features.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


def standardiser(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    mean = x.mean(axis=0).astype(np.float32)
    scale = x.std(axis=0).astype(np.float32)
    scale[scale < 1e-6] = 1.0
    return mean, scale


def fit_linear(
    x: FloatArray,
    y: IntArray,
    n_classes: int,
    *,
    l2: float,
    sample_weight: FloatArray | None = None,
    balanced: bool = True,
    max_iter: int = 200,
    seed: int = 0,
) -> tuple[FloatArray, FloatArray]:
    """Weights (d, k) and bias (k,) of a softmax (k >= 2) or logistic (k == 1) regression.

    `x` must be standardised. `l2` is the penalty on the mean loss (like 1 / (C * n) in
    scikit-learn). `balanced` weights classes inversely to their frequency.
    """
    import torch

    torch.manual_seed(seed)
    n, d = x.shape
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    w = torch.ones(n, dtype=torch.float32)
    if sample_weight is not None:
        w = torch.from_numpy(np.asarray(sample_weight, dtype=np.float32))
    classes = max(n_classes, 2)
    if balanced:
        counts = torch.bincount(yt, weights=w, minlength=classes).float().clamp(min=1e-6)
        w = w * (counts.sum() / (classes * counts))[yt]
    w = w / w.mean()
    k = 1 if n_classes == 1 else n_classes
    weight = torch.zeros((d, k), dtype=torch.float32, requires_grad=True)
    bias = torch.zeros(k, dtype=torch.float32, requires_grad=True)
    opt = torch.optim.LBFGS(
        [weight, bias], lr=1.0, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        z = xt @ weight + bias
        if k == 1:
            losses = torch.nn.functional.binary_cross_entropy_with_logits(
                z[:, 0], yt.float(), reduction="none"
            )
        else:
            losses = torch.nn.functional.cross_entropy(z, yt, reduction="none")
        loss = (losses * w).mean() + l2 * (weight * weight).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    return weight.detach().numpy().copy(), bias.detach().numpy().copy()


def fit_platt(z: FloatArray, y: IntArray) -> tuple[float, float]:
    """Scale and shift of a logit so that sigmoid(a*z + c) is calibrated on (z, y)."""
    import torch

    zt = torch.from_numpy(np.asarray(z, dtype=np.float32).reshape(-1))
    yt = torch.from_numpy(np.asarray(y, dtype=np.float32).reshape(-1))
    params = torch.tensor([1.0, 0.0], requires_grad=True)
    opt = torch.optim.LBFGS([params], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(params[0] * zt + params[1], yt)
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    a, c = params.detach().tolist()
    return float(a), float(c)


def fit_temperature(z: FloatArray, y: IntArray) -> tuple[float, FloatArray]:
    """Inverse temperature and per-class shift so that softmax(z*s + c) is calibrated."""
    import torch

    zt = torch.from_numpy(np.asarray(z, dtype=np.float32))
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    s = torch.tensor([1.0], requires_grad=True)
    c = torch.zeros(zt.shape[1], requires_grad=True)
    opt = torch.optim.LBFGS([s, c], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(zt * s + c, yt)
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    return float(s.item()), c.detach().numpy().astype(np.float32)


def best_threshold(
    p: FloatArray,
    y: IntArray,
    grid: Sequence[float] | None = None,
    *,
    binary: bool = False,
) -> float:
    """The threshold on p maximising macro-F1 of the decision p >= t on (p, y), or with
    `binary` the F1 of the positive class alone (for one class of several)."""
    grid = grid if grid is not None else [round(t, 3) for t in np.arange(0.02, 0.951, 0.01)]
    best_t, best_f = 0.5, -1.0
    for t in grid:
        f = f1(y, (p >= t).astype(np.int64), binary=binary)
        if f > best_f + 1e-9:
            best_t, best_f = float(t), f
    return best_t


def f1(y: IntArray, pred: IntArray, *, binary: bool = False) -> float:
    """scikit-learn's `f1_score(y, pred, average="binary" or "macro", zero_division=0)`,
    the same float64 arithmetic (2 tp / (true + predicted), then the mean over the labels
    in y or pred) without its input checks, which took most of a threshold search's time:
    best_threshold calls it 93 times a head."""
    labels = np.array([1]) if binary else np.union1d(y, pred)
    scores = []
    for label in labels:
        truth, guess = y == label, pred == label
        denom = float(np.count_nonzero(truth)) + float(np.count_nonzero(guess))
        tp = float(np.count_nonzero(truth & guess))
        scores.append(2.0 * tp / denom if denom else 0.0)
    return float(np.mean(np.asarray(scores, dtype=np.float64)))
