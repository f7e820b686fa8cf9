"""The rumour head can read the pools through their first principal components (issue 18):
the fit is folded back into an ordinary linear head. Random fictional features only."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from monitor.classify.train import LinearFit, ProjectedFit, Recipe, rumour_fit


def _data(n: int = 240, d: int = 40, keep: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    latent = rng.normal(size=(n, 4))
    x = latent @ rng.normal(size=(4, d)) + 0.3 * rng.normal(size=(n, d))
    cues = (rng.random((n, keep)) < 0.3).astype(np.float32)
    y = ((latent[:, 0] + cues[:, 0] + 0.5 * rng.normal(size=n)) > 0.4).astype(np.int64)
    return np.hstack([x, cues]).astype(np.float32), y


def test_the_folded_head_scores_as_the_model_fitted_on_the_components() -> None:
    x, y = _data()
    fit = ProjectedFit(x, y, 0.01, Recipe(), None, keep=3, boost=5.0, components=4)
    z = (x - fit.mean) / fit.scale
    pooled = z[:, :-3].astype(np.float64)
    _, sv, vt = np.linalg.svd(pooled, full_matrices=False)
    reduced = pooled @ (vt[:4].T / (sv[:4] / np.sqrt(len(x))))
    # The folded weights on the pooled columns lie in the span of the 4 components...
    residual = fit.weight[:-3, 0] - vt[:4].T @ (vt[:4] @ fit.weight[:-3, 0])
    assert np.abs(residual).max() < 1e-4
    # ... and a component's variance is 1 in the space the penalty sees.
    assert np.allclose(reduced.std(axis=0), 1.0, atol=1e-4)
    assert fit.weight.shape == (x.shape[1], 1)
    accuracy = ((fit.logits(x)[:, 0] >= 0) == y).mean()
    assert accuracy > 0.8


def test_the_recipe_switches_projection_and_refits_identically() -> None:
    x, y = _data()
    w = np.ones(len(y), np.float32)
    recipe = replace(Recipe(rumour_cues=True), rumour_components=4, rumour_invariant_directions=0)
    # Eight rumour cues are kept beside the pools: use 8 trailing columns as them.
    x8 = np.hstack([x, np.zeros((len(x), 5), np.float32)])
    first = rumour_fit(x8, y, w, recipe)
    again = rumour_fit(x8, y, w, recipe)
    assert isinstance(first, ProjectedFit)
    assert np.array_equal(first.weight, again.weight)
    plain = rumour_fit(x8, y, w, replace(recipe, rumour_components=0))
    assert type(plain) is LinearFit
    assert not np.allclose(plain.weight, first.weight)
