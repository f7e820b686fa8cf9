"""The hostile head's refit on adapted features (monitor.classify.refit): the fit and its
operating point, on small synthetic features (no encoder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor.classify.lora import HEAD_LAYERS
from monitor.classify.refit import fit_hostile, fit_offensive

D = 384 * len(HEAD_LAYERS)


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(np.int64)
    x = rng.normal(size=(n, D)).astype(np.float32)
    x[:, :8] += (y[:, None] * 1.5).astype(np.float32)  # the signal lives in 8 columns
    return x, y


def _benign(n: int, seed: int) -> np.ndarray:
    """Benign sentences that look half-way hostile: the operating point must hold them down."""
    x = np.random.default_rng(seed).normal(size=(n, D)).astype(np.float32)
    x[:, :8] += 0.4
    return x


def test_refit_head_separates_and_keeps_benign_sentences_under_the_cap() -> None:
    x, y = _data(600, 1)
    xv, yv = _data(300, 2)
    xb = _benign(200, 3)
    fit = fit_hostile(
        x, y, np.ones(len(y), np.float32), xv, yv, xb, l2=0.3, max_benign_fpr=0.05, seed=13
    )
    assert fit.head.layers == HEAD_LAYERS and fit.head.outputs == ("hostile",)
    p_benign = fit.head.probabilities(xb)[:, 0]
    assert np.mean(p_benign >= fit.threshold) <= 0.05
    assert abs(fit.benign_flagged - np.mean(p_benign >= fit.threshold)) <= 1 / len(xb)
    p = fit.head.probabilities(xv)[:, 0]
    assert fit.val_macro_f1 > 0.6
    assert p[yv == 1].mean() > p[yv == 0].mean() + 0.2


def test_a_looser_cap_never_raises_the_threshold() -> None:
    x, y = _data(600, 4)
    xv, yv = _data(300, 5)
    xb = _benign(200, 6)
    w = np.ones(len(y), np.float32)
    strict = fit_hostile(x, y, w, xv, yv, xb, l2=0.3, max_benign_fpr=0.02, seed=13)
    loose = fit_hostile(x, y, w, xv, yv, xb, l2=0.3, max_benign_fpr=0.5, seed=13)
    assert loose.threshold <= strict.threshold


def test_offensive_refit_reads_its_pools_and_thresholds_at_the_best_val_macro_f1() -> None:
    from monitor.classify.fit import best_threshold
    from monitor.classify.train import _macro_f1

    x, y = _data(600, 7)
    xv, yv = _data(300, 8)
    fit = fit_offensive(x, y, xv, yv, layers=(3, 4, 5, 6), l2=0.3, seed=13)
    assert fit.head.outputs == ("offensive",) and fit.head.layers == (3, 4, 5, 6)
    p = fit.head.probabilities(xv)[:, 0]
    assert fit.threshold == best_threshold(p, yv)
    assert fit.val_macro_f1 == _macro_f1(yv, (p >= fit.threshold).astype(int)) > 0.6
    # Platt-calibrated on val: the mean score is near the val base rate.
    assert abs(float(p.mean()) - float(yv.mean())) < 0.05


class _FakeAdaptedCache:
    """Stands in for the adapted FeatureCache: seeded pools whose pool 8 carries the label
    signal, so that the refit has something to find (no encoder runs)."""

    adapter = object()

    def __init__(self, labels: dict[str, list[int]]) -> None:
        self.labels = labels
        self.asked: list[tuple[str, int]] = []

    def layers(self, name: str, texts: list[str]) -> np.ndarray:
        self.asked.append((name, len(texts)))
        rng = np.random.default_rng(len(self.asked))
        pools = rng.normal(size=(len(texts), 9, 384)).astype(np.float32)
        y = np.array(self.labels[name], dtype=np.float32)
        pools[:, 8, :16] += 2.0 * y[:, None]
        return pools


def write_offensive_folder(data_dir: Path) -> dict[str, list[int]]:
    """A fictional TweetEval offensive folder (300 training posts, 120 val); its labels by
    feature-cache name."""
    folder = data_dir / "labelled" / "tweeteval" / "offensive"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    labels = {}
    for split, n in (("train", 300), ("val", 120)):
        y = (rng.random(n) < 0.3).astype(int).tolist()
        labels[f"tweeteval-offensive-{split}"] = y
        (folder / f"{split}_text.txt").write_text(
            "".join(f"Fictional post {split} {i}\n" for i in range(n)), encoding="utf-8"
        )
        (folder / f"{split}_labels.txt").write_text("".join(f"{v}\n" for v in y))
    return labels


def test_the_offensive_refit_replaces_only_the_offensive_head(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`monitor train --lora`'s last step on a fictional TweetEval folder: every training
    post is used, the threshold and validation record are the refit's, other heads stay."""
    from monitor.classify.heads import HeadSet
    from monitor.classify.lora import LoraRecipe
    from monitor.classify.refit import refit_offensive
    from monitor.classify.train import Trained

    labels = write_offensive_folder(tmp_path)
    other = fit_hostile(  # any head named hostile: it must come through untouched
        *_data(200, 9),
        np.ones(200, np.float32),
        *_data(100, 10),
        _benign(50, 11),
        l2=0.3,
        max_benign_fpr=0.05,
        seed=13,
    ).head
    old = fit_offensive(*_data(200, 12), *_data(100, 13), layers=HEAD_LAYERS, l2=0.3, seed=13)
    trained = Trained(
        HeadSet([other, old.head]),
        {"hostile": 0.5, "offensive": 0.44},
        {"offensive": {"val_macro_f1": 0.7, "on": "tweeteval-offensive-val"}},
        {},
    )
    cache = _FakeAdaptedCache(labels)
    out = refit_offensive(trained, LoraRecipe(), cache, tmp_path, lambda _: None)  # type: ignore[arg-type]
    assert cache.asked == [("tweeteval-offensive-train", 300), ("tweeteval-offensive-val", 120)]
    new = {h.name: h for h in out.heads.heads}
    assert new["hostile"] is other and new["offensive"] is not old.head
    assert new["offensive"].layers == LoraRecipe().offensive_refit_layers
    v = out.validation["offensive"]
    assert v["refit_examples"] == 300 and v["joint_val_macro_f1"] == 0.7
    assert v["on"] == "tweeteval-offensive-val" and "120 posts" in v["operating_point"]
    assert v["val_macro_f1"] > 0.8  # the signal in pool 8 is found
    assert out.thresholds["hostile"] == 0.5 and 0.02 <= out.thresholds["offensive"] <= 0.95
    assert "refit-offensive" in out.data_hashes


def test_a_refit_of_a_refitted_head_keeps_the_joint_heads_figure() -> None:
    from monitor.classify.heads import HeadSet
    from monitor.classify.refit import _with_refit
    from monitor.classify.train import Trained

    fit = fit_hostile(
        *_data(200, 9),
        np.ones(200, np.float32),
        *_data(100, 10),
        _benign(50, 11),
        l2=0.3,
        max_benign_fpr=0.05,
        seed=13,
    )
    joint = Trained(HeadSet([fit.head]), {"hostile": 0.5}, {"hostile": {"val_macro_f1": 0.66}}, {})
    once = _with_refit(joint, "hostile", fit, {}, "a")
    twice = _with_refit(once, "hostile", fit, {}, "b")  # `monitor train --refit-only`
    assert once.validation["hostile"]["joint_val_macro_f1"] == 0.66
    assert twice.validation["hostile"]["joint_val_macro_f1"] == 0.66
    assert twice.data_hashes["refit-hostile"] == "b"


@pytest.mark.model
@pytest.mark.slow
def test_refit_only_rebuilds_the_shipped_hostile_head_and_nothing_else(
    tmp_path: Path, shared_data: Path
) -> None:
    """`monitor train --refit-only` on a copy of the shipped folder: the hostile head comes out
    as shipped, every other file byte for byte (`rebuild_shipped_with`), its calibration too."""
    from .conftest import rebuild_shipped_with

    shipped, rebuilt = rebuild_shipped_with("--refit-only", "hostile", tmp_path, shared_data)
    for record in ("validation", "hostile_sentences"):
        got, want = rebuilt.manifest[record], shipped.manifest[record]
        if record == "validation":
            got, want = got["hostile"], want["hostile"]
        assert {k: v for k, v in got.items() if "everyday" not in k} == {
            k: v for k, v in want.items() if "everyday" not in k
        }
    heads = {h.name: h for h in rebuilt.heads.heads}
    for h in shipped.heads.heads:
        if h.name == "hostile":
            assert np.allclose(heads[h.name].calib_shift, h.calib_shift, atol=1e-3)


def test_refit_only_and_branch_only_are_refused_together_and_need_a_model(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from monitor.cli import cli

    both = CliRunner().invoke(cli, ["train", "--refit-only", "--branch-only", "--out", "x"])
    assert both.exit_code == 2 and "separate steps" in both.output
    both = CliRunner().invoke(cli, ["train", "--rumour-only", "--refit-only", "--out", "x"])
    assert both.exit_code == 2 and "separate steps" in both.output
    seeded = CliRunner().invoke(cli, ["train", "--rumour-only", "--seed", "14", "--out", "x"])
    assert seeded.exit_code == 2 and "keeps the model's recipe" in seeded.output
    for step in ("--refit-only", "--branch-only", "--rumour-only"):
        empty = CliRunner().invoke(cli, ["train", step, "--out", str(tmp_path)])
        assert empty.exit_code == 1 and str(tmp_path) in empty.output, step
