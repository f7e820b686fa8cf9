"""The rumour head is fitted blind to the directions along which PHEME's text normalisation
moves a post, so a post as written scores as its normalised form does (issue 18).

Fictional posts and random features, except the last tests, which read the labelled data
and the shipped model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitor.classify.invariance import (
    NO_EVENT,
    NormalisationPairs,
    invariant_basis,
    pheme_normalise,
    raw_twins,
)
from monitor.classify.train import InvariantFit, LinearFit, Recipe, leave_one_event_out, rumour_fit


def test_pheme_normalisation_drops_links_handles_and_punctuation() -> None:
    post = (
        "BREAKING: Police say the #Fictionton gunman's car was found (unconfirmed) "
        "http://t.co/AbC123 via @fiction_news"
    )
    assert pheme_normalise(post) == (
        "BREAKING Police say the Fictionton gunman s car was found unconfirmed via"
    )
    # Only ASCII letters and digits are kept, as in PHEME's text; case is.
    assert pheme_normalise("Café — 3 hurt… #Leeds") == "Caf 3 hurt Leeds"


def _styled(
    n: int = 400, d: int = 30, seed: int = 5
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features with a 'style' direction that the labels correlate with in training (as
    normalised text is all PHEME has), and pairs that differ along it."""
    rng = np.random.default_rng(seed)
    style = rng.normal(size=d)
    style /= np.linalg.norm(style)
    signal = rng.normal(size=d)
    y = (rng.random(n) < 0.5).astype(np.int64)
    x = rng.normal(size=(n, d)) + np.outer(y - 0.5, signal) + np.outer(2.0 * (y - 0.5), style)
    pairs = np.outer(rng.normal(1.0, 0.3, size=200), style) + 0.01 * rng.normal(size=(200, d))
    return x.astype(np.float32), y, pairs.astype(np.float32), style


def test_the_invariant_head_ignores_what_normalisation_moves() -> None:
    x, y, pairs, style = _styled()
    cues = np.zeros((len(x), 2), np.float32)
    xc = np.hstack([x, cues])
    invariant = InvariantFit(xc, y, 0.01, Recipe(), None, 2, 5.0, 1, pairs)
    plain = LinearFit(xc, y, 1, 0.01, Recipe())
    # The same posts moved along the style direction (as written instead of normalised).
    moved = xc + np.hstack([3.0 * style, np.zeros(2)]).astype(np.float32)
    shift_invariant = np.abs(invariant.logits(moved) - invariant.logits(xc)).max()
    shift_plain = np.abs(plain.logits(moved) - plain.logits(xc)).max()
    assert shift_invariant < 0.05 * shift_plain
    # ... and still tells the classes apart by what is left.
    assert ((invariant.logits(xc)[:, 0] >= 0) == y).mean() > 0.7
    # An ordinary linear head: the weights over every column.
    assert invariant.weight.shape == (xc.shape[1], 1)


def test_the_recipe_needs_the_pairs_and_one_kind_of_projection() -> None:
    x, y, pairs, _ = _styled()
    x8 = np.hstack([x, np.zeros((len(x), 8), np.float32)])
    w = np.ones(len(y), np.float32)
    recipe = Recipe(rumour_invariant_directions=2)
    with pytest.raises(ValueError, match="normalisation pairs"):
        rumour_fit(x8, y, w, recipe)
    with pytest.raises(ValueError, match="choose one"):
        rumour_fit(x8, y, w, replace(recipe, rumour_components=4), pairs)
    first = rumour_fit(x8, y, w, recipe, pairs)
    again = rumour_fit(x8, y, w, recipe, pairs)
    assert isinstance(first, InvariantFit)
    assert np.array_equal(first.weight, again.weight)
    assert type(rumour_fit(x8, y, w, replace(recipe, rumour_invariant_directions=0))) is LinearFit


def test_a_basis_needs_as_many_pairs_as_directions() -> None:
    with pytest.raises(ValueError, match="pairs"):
        invariant_basis(np.zeros((1, 5), np.float32), np.ones(5, np.float32), 2)


def test_each_fold_reads_no_pair_of_the_event_it_holds_out() -> None:
    pairs = NormalisationPairs(
        np.arange(12, dtype=np.float32).reshape(4, 3), ("a", "b", NO_EVENT, "a")
    )
    assert pairs.excluding("a").tolist() == [[3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]
    assert len(pairs.excluding("c")) == 4


def test_leave_one_event_out_scores_extra_rows_by_their_events_fold() -> None:
    x, y, pairs_x, _ = _styled(n=300)
    x8 = np.hstack([x, np.zeros((len(x), 8), np.float32)])
    events = ["a"] * 100 + ["b"] * 100 + ["c"] * 100
    pairs = NormalisationPairs(pairs_x, tuple(["a", "b", "c", NO_EVENT] * 50))
    recipe = Recipe(rumour_invariant_directions=1)
    empty = np.zeros((0, x8.shape[1]), np.float32)
    out = leave_one_event_out(
        x8,
        y,
        events,
        empty,
        np.zeros(0, np.int64),
        np.zeros(0, np.float32),
        recipe,
        pairs,
        (x8[[0, 150, 250]], ["a", "b", "c"]),
    )
    # The extra rows are rows 0, 150 and 250 again: each scored by the fold that held its
    # event out, so exactly as the out-of-fold logits score them.
    assert np.allclose(out["also_logits"], out["oof_logits"][[0, 150, 250]], atol=1e-5)


def test_twins_pair_each_rumour_as_written_with_pheme_s_text(shared_data: Path) -> None:
    written, normalised = raw_twins(shared_data)
    assert len(written.texts) == len(normalised.texts) > 150
    assert written.groups == normalised.groups
    same = sum(
        pheme_normalise(a) == b for a, b in zip(written.texts, normalised.texts, strict=True)
    )
    # PHEME's text is this normalisation of the raw text, but for withheld placeholders and
    # a few characters it keeps.
    assert same / len(written.texts) > 0.9


@pytest.mark.model
async def test_the_shipped_rumour_head_scores_text_as_written_like_normalised(
    transformer: Any, shared_data: Path
) -> None:
    from monitor.classify.labels import RUMOUR

    written, normalised = raw_twins(shared_data)
    threshold = transformer.thresholds[RUMOUR]
    raw = np.array([s[RUMOUR] for s in await transformer.score(written.texts)])
    norm = np.array([s[RUMOUR] for s in await transformer.score(normalised.texts)])
    # Its own training text (in sample), so the figure that matters is the difference: the
    # recipe before the invariant fit flagged these rumours 0.14 less often as written (0.758
    # against 0.899, served), this one equally often (0.884 both).
    assert abs(np.mean(raw >= threshold) - np.mean(norm >= threshold)) <= 0.05


@pytest.mark.model
@pytest.mark.slow
def test_rumour_only_rebuilds_the_shipped_rumour_head_and_nothing_else(
    tmp_path: Path, shared_data: Path
) -> None:
    """`monitor train --rumour-only` on a copy of the shipped folder: the rumour head comes out
    as shipped (the same threshold and leave-one-event-out figure), every other head and file
    byte for byte (`rebuild_shipped_with`), and the manifest keeps the recipe."""
    import json

    from .conftest import rebuild_shipped_with

    shipped, rebuilt = rebuild_shipped_with("--rumour-only", "rumour", tmp_path, shared_data)
    assert rebuilt.manifest["recipe"] == json.loads(json.dumps(shipped.manifest["recipe"]))
    figure = "loeo_macro_f1"
    assert (
        rebuilt.manifest["validation"]["rumour"][figure]
        == shipped.manifest["validation"]["rumour"][figure]
    )
