"""The offensive branch (issue 18): its fp16 file, the manifest's checks, the head that reads
its pools, and (marked `model`) the graph and the PyTorch path with a branch. A seeded random
branch stands in for a trained one: what is tested is the plumbing, so no training runs here.
Every text is fictional."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitor.classify.branch import (
    BRANCH_FILE,
    BranchRecipe,
    BranchWeights,
    load_branch,
    save_branch,
)
from monitor.classify.export import AdapterSpec, BranchSpec, graph_name
from monitor.classify.heads import HeadSet
from monitor.classify.manifest import MANIFEST, ModelError, load_model_dir, sha256_file
from monitor.classify.refit import fit_branch_head

from .conftest import require_model, write_model_dir

TEXTS = [
    "Fictional: the bins in Idle were not collected again this week.",
    "Fictional: what a useless bunch of clowns run the Wibsey gala, total idiots.",
    "Fictional: is the library in Mirfield open on Sunday?",
    "Fictional: ok",
]


def _tensors(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "layers.0.attention.self.query.weight": rng.normal(size=(8, 8)).astype(np.float32),
        "layers.3.output.dense.bias": rng.normal(size=8).astype(np.float32),
        "head.weight": rng.normal(size=(1, 3 * 384)).astype(np.float32) * 0.05,
        "head.bias": np.array([0.2], np.float32),
    }


def test_branch_round_trips_through_its_fp16_file(tmp_path: Path) -> None:
    tensors = _tensors(np.random.default_rng(0))
    path = tmp_path / BRANCH_FILE
    save_branch(path, tensors, BranchRecipe(seed=7))
    loaded = load_branch(path)
    assert loaded.first == 2 and loaded.head_pools == (2, 9, 10)
    assert loaded.recipe["seed"] == 7
    assert set(loaded.layers) == {"0.attention.self.query.weight", "3.output.dense.bias"}
    for key, value in tensors.items():
        stored = loaded.layers.get(key[len("layers.") :]) if key.startswith("layers.") else None
        if key == "head.weight":
            stored = loaded.head_weight
        elif key == "head.bias":
            stored = loaded.head_bias
        assert stored is not None and stored.dtype == np.float32
        # Stored in fp16: equal to the fp16 rounding, within fp16's relative precision.
        assert np.array_equal(stored, value.astype(np.float16).astype(np.float32))
        assert np.allclose(stored, value, rtol=1e-3, atol=1e-4)


def test_missing_or_damaged_branch_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / BRANCH_FILE
    with pytest.raises(ValueError, match=f"{BRANCH_FILE} is missing"):
        load_branch(path)
    save_branch(path, _tensors(np.random.default_rng(1)), BranchRecipe())
    path.write_bytes(path.read_bytes()[:100])  # a torn copy
    with pytest.raises(ValueError, match=f"{BRANCH_FILE} is damaged"):
        load_branch(path)
    save_branch(path, {"layers.0.x": np.zeros(3, np.float32)}, BranchRecipe())
    with pytest.raises(ValueError, match="not a branch"):
        load_branch(path)


def test_graph_names_and_cache_keys_carry_the_branch_sha256(tmp_path: Path) -> None:
    from monitor.classify.features import FeatureCache

    base, adapter = "a" * 64, "b" * 64
    plain = graph_name(base, adapter)
    one, other = graph_name(base, adapter, "c" * 64), graph_name(base, adapter, "d" * 64)
    assert len({plain, one, other}) == 3 and "cccccccccccccccc" in one
    spec = AdapterSpec(tmp_path / "adapter.safetensors", adapter, 16, 32)
    branched = replace(spec, branch=BranchSpec(tmp_path / BRANCH_FILE, "c" * 64, 2))
    keys = {FeatureCache(tmp_path, variant="onnx", adapter=s).key for s in (None, spec, branched)}
    assert len(keys) == 3
    cache = FeatureCache(tmp_path, variant="onnx", adapter=branched)
    assert cache.pools == tuple(range(11))


def _branched_model(tmp_path: Path) -> Path:
    """A fictional model folder with an adapter and a branch listed in its manifest."""
    from .test_manifest import _model

    path, _ = _model(tmp_path)
    save_branch(path / BRANCH_FILE, _tensors(np.random.default_rng(2)), BranchRecipe())
    (path / "adapter.safetensors").write_bytes(b"fictional adapter")
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["adapter"] = {"file": "adapter.safetensors", "rank": 16, "alpha": 32}
    manifest["branch"] = {"file": BRANCH_FILE, "first": 2}
    for name in ("adapter.safetensors", BRANCH_FILE):
        manifest["files"][name] = sha256_file(path / name)
    (path / MANIFEST).write_text(json.dumps(manifest))
    return path


def test_manifest_with_a_branch_loads_and_names_a_bad_branch(tmp_path: Path) -> None:
    path = _branched_model(tmp_path)
    model = load_model_dir(path, check_base=False)
    assert model.adapter is not None and model.adapter.branch is not None
    assert model.adapter.branch.sha256 == sha256_file(path / BRANCH_FILE)
    assert model.adapter.branch.first == 2
    with (path / BRANCH_FILE).open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelError, match=f"{BRANCH_FILE}: sha256 .* does not match"):
        load_model_dir(path, check_base=False)
    (path / BRANCH_FILE).unlink()
    with pytest.raises(ModelError, match=f"{BRANCH_FILE} is listed in the manifest but missing"):
        load_model_dir(path, check_base=False)


def test_manifest_branch_needs_its_sha256_an_adapter_and_its_first_layer(tmp_path: Path) -> None:
    path = _branched_model(tmp_path)
    manifest = json.loads((path / MANIFEST).read_text())
    for change, message in (
        (lambda m: m["files"].pop(BRANCH_FILE), "branch branch.safetensors has no sha256"),
        (lambda m: m.pop("adapter"), "needs an adapter"),
        (lambda m: m["branch"].update(first=3), "starts at hidden state 2, the manifest says 3"),
    ):
        broken = json.loads(json.dumps(manifest))
        change(broken)
        (path / MANIFEST).write_text(json.dumps(broken))
        with pytest.raises(ModelError, match=message):
            load_model_dir(path, check_base=False)


def test_model_without_a_branch_has_none(tmp_path: Path) -> None:
    from .test_manifest import _model

    path, _ = _model(tmp_path)
    assert load_model_dir(path, check_base=False).adapter is None


def _weights(rng: np.random.Generator, bias: float) -> BranchWeights:
    """A stored branch's head, seeded (its layers are not needed without an encoder)."""
    weight = rng.normal(size=(1, 3 * 384)).astype(np.float32) * 0.05
    return BranchWeights(2, {}, weight, np.array([bias], np.float32), {"seed": 13})


def test_offensive_head_scores_the_branch_pools_with_the_stored_linear_head(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(3)
    weights = _weights(rng, -0.3)
    n = 400
    y = (rng.random(n) < 0.35).astype(np.int64)
    pools = {i: rng.normal(size=(n, 384)).astype(np.float32) for i in (2, 9, 10)}
    # The branch's pools lean along its head's weight for offensive posts.
    for j, i in enumerate((2, 9, 10)):
        pools[i] += np.outer(y, weights.head_weight[0, j * 384 : (j + 1) * 384]) * 20
    x = np.concatenate([pools[i] for i in (2, 9, 10)], axis=1)
    fit, p = fit_branch_head(weights, x, y)
    assert fit.head.layers == (2, 9, 10)
    raw = x.astype(np.float64) @ weights.head_weight[0].astype(np.float64) + weights.head_bias[0]
    a, c = float(fit.head.calib_scale[0]), float(fit.head.calib_shift[0])
    assert a > 0  # Platt keeps the branch's order
    assert np.allclose(p, 1.0 / (1.0 + np.exp(-(a * raw + c))), atol=1e-5)
    assert fit.threshold == round(fit.threshold, 2) and fit.val_macro_f1 > 0.8
    # Served from a model folder, the head reads pools 2, 9 and 10 as scored here.
    folder = write_model_dir(tmp_path, HeadSet([fit.head]), "fictional", {"offensive": 0.5})
    loaded = load_model_dir(folder, check_base=False)
    scores = loaded.heads.score({i: pools[i][:5] for i in (2, 9, 10)}, ["Fictional"] * 5)
    assert np.allclose([s["offensive"] for s in scores], p[:5], atol=1e-5)


# ---------------------------------------------------------------------------------------------
# the encoder with a branch (real base model)


@pytest.fixture(scope="module")
def branched(tmp_path_factory: pytest.TempPathFactory) -> Any:
    require_model()
    import torch
    from transformers import AutoModel

    from monitor.classify.branch import N_LAYERS, branch_tensors
    from monitor.classify.encoder import base_model_path

    from .test_lora import random_adapter

    spec: AdapterSpec = random_adapter(tmp_path_factory.mktemp("adapter"))
    base = AutoModel.from_pretrained(str(base_model_path()), attn_implementation="eager")
    layers = torch.nn.ModuleList([base.encoder.layer[i] for i in range(2, N_LAYERS)])
    torch.manual_seed(11)
    with torch.no_grad():
        for p in layers.parameters():
            p.add_(torch.randn_like(p) * 0.02)  # a branch that differs from the frozen layers
    head = torch.nn.Linear(3 * 384, 1)
    path = tmp_path_factory.mktemp("branch") / BRANCH_FILE
    save_branch(path, branch_tensors(layers, head), BranchRecipe())
    return replace(spec, branch=BranchSpec(path, sha256_file(path), 2))


@pytest.mark.model
def test_graph_with_a_branch_returns_eleven_pools_matching_pytorch(
    branched: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from monitor.classify.encoder import Encoder
    from monitor.classify.runtime import select_encoder

    graphs = tmp_path_factory.mktemp("graphs")
    every = tuple(range(11))
    ort, info = select_encoder(
        runtime="onnx", device="cpu", layers=every, cache_dir=graphs, adapter=branched
    )
    assert ort.graph.pools == 11 and info["branch_sha256"] == branched.branch.sha256
    assert branched.branch.sha256[:16] in Path(ort.graph.path).name
    f = ort.encode(TEXTS).features.reshape(len(TEXTS), 11, 384)
    # Pools 0..8 are the adapter-only graph's: every other head reads what it read before.
    plain, _ = select_encoder(
        runtime="onnx",
        device="cpu",
        layers=tuple(range(9)),
        cache_dir=graphs,
        adapter=replace(branched, branch=None),
    )
    g = plain.encode(TEXTS).features.reshape(len(TEXTS), 9, 384)
    assert np.abs(g - f[:, :9]).max() < 1e-5
    # The branch's pools are its own, not the frozen or adapted layers'.
    assert np.abs(f[:, 9] - f[:, 5]).max() > 1e-2 and np.abs(f[:, 10] - f[:, 8]).max() > 1e-2
    torch_pools = Encoder(device="cpu", layers=every, adapter=branched).encode(TEXTS).features
    assert np.abs(torch_pools - ort.encode(TEXTS).features).max() < 1e-4
    # A post's pools do not depend on its batch.
    alone = np.stack([ort.encode([t]).features[0] for t in TEXTS])
    assert np.array_equal(alone, ort.encode(TEXTS).features)


class _FakeBranchedCache:
    """Stands in for the serving encoder's FeatureCache with a branch: seeded pools whose
    branch pools lean along the branch head's weight for offensive posts (no encoder runs)."""

    def __init__(self, labels: dict[str, list[int]], weight: Any) -> None:
        self.adapter = replace(
            AdapterSpec(Path("adapter.safetensors"), "a" * 64, 16, 32),
            branch=BranchSpec(Path(BRANCH_FILE), "b" * 64, 2),
        )
        self.labels, self.weight = labels, weight
        self.asked: list[tuple[str, int]] = []

    def layers(self, name: str, texts: list[str]) -> Any:
        self.asked.append((name, len(texts)))
        pools = np.random.default_rng(len(self.asked)).normal(size=(len(texts), 11, 384))
        y = np.array(self.labels[name], dtype=np.float64)
        for j, i in enumerate((2, 9, 10)):
            pools[:, i, :] += np.outer(y, self.weight[0, j * 384 : (j + 1) * 384]) * 20
        return pools.astype(np.float32)


def test_the_branch_replaces_only_the_offensive_head(tmp_path: Path) -> None:
    """The branch step on a fictional TweetEval folder: the branch's stored head becomes the
    offensive head, calibrated on val's serving pools; the other heads stay."""
    from monitor.classify.refit import attach_branch
    from monitor.classify.train import Trained

    from .test_refit import _benign, _data, fit_hostile, fit_offensive, write_offensive_folder

    labels = write_offensive_folder(tmp_path)
    weights = replace(
        _weights(np.random.default_rng(4), -0.5),
        training={"best_step": 625, "steps": 746, "history": [{"step": 125.0}]},
    )
    other = fit_hostile(
        *_data(200, 9), np.ones(200, np.float32), *_data(100, 10), _benign(50, 11),
        l2=0.3, max_benign_fpr=0.05, seed=13,
    ).head  # fmt: skip
    before = {"val_macro_f1": 0.7677, "refit_l2": 0.03, "joint_val_macro_f1": 0.7392, "on": "v"}
    old = fit_offensive(*_data(200, 12), *_data(100, 13), layers=(3, 4, 7, 8), l2=0.3, seed=13)
    trained = Trained(
        HeadSet([other, old.head]),
        {"hostile": 0.5, "offensive": 0.41},
        {"offensive": before},
        {"refit-offensive": "old", "refit-hostile": "kept"},
    )
    cache = _FakeBranchedCache(labels, weights.head_weight)
    out = attach_branch(trained, weights, cache, tmp_path, lambda _: None)  # type: ignore[arg-type]
    # Only val goes through the serving encoder: the branch trained on its own features.
    assert cache.asked == [("tweeteval-offensive-val", 120)]
    heads = {h.name: h for h in out.heads.heads}
    assert heads["hostile"] is other and heads["offensive"].layers == (2, 9, 10)
    assert np.array_equal(heads["offensive"].weight[:, 0], weights.head_weight[0])
    v = out.validation["offensive"]
    assert v["val_macro_f1"] > 0.8 and v["refit_val_macro_f1"] == 0.7677
    assert v["joint_val_macro_f1"] == 0.7392 and "refit_l2" not in v
    assert "step 625 of 746" in v["operating_point"] and "120 posts" in v["operating_point"]
    assert out.thresholds["hostile"] == 0.5 and out.thresholds["offensive"] != 0.41
    assert set(out.data_hashes) == {"branch-offensive", "refit-hostile"}
