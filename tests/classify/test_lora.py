"""The LoRA-adapted encoder (issue 18) on both paths: the ONNX Runtime graph exported with an
adapter, and PyTorch. A seeded random adapter stands in for a trained one (what is tested is
the plumbing: merge, export, pools 7 and 8, reproducibility), so no training runs here."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .conftest import require_model

pytestmark = pytest.mark.model

TEXTS = [
    "Fictional: the bins in Idle were not collected again this week.",
    "Fictional: lovely turnout at the Wibsey gala, thanks to every volunteer who helped.",
    "Fictional: is the library in Mirfield open on Sunday?",
    "Fictional: ok",
    "Fictional: roadworks on the ring road until March, plan another route if you can, "
    "the diversion via Bowling adds about twenty minutes at rush hour.",
]


@pytest.fixture(scope="module")
def adapter(tmp_path_factory: pytest.TempPathFactory) -> Any:
    require_model()
    return random_adapter(tmp_path_factory.mktemp("adapter"))


def random_adapter(folder: Path) -> Any:
    """A seeded random adapter (an `AdapterSpec`) written into `folder`."""
    import torch
    from transformers import AutoModel

    from monitor.classify.encoder import base_model_path
    from monitor.classify.export import AdapterSpec
    from monitor.classify.lora import (
        LoraRecipe,
        adapter_tensors,
        save_adapter,
        top_layers,
        with_lora,
    )
    from monitor.classify.manifest import sha256_file

    base = AutoModel.from_pretrained(str(base_model_path()), attn_implementation="eager")
    recipe = LoraRecipe()
    top = with_lora(top_layers(base), recipe)
    torch.manual_seed(5)
    with torch.no_grad():
        for name, p in top.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.05)  # peft starts B at zero: make the adapter do something
    path = folder / "adapter.safetensors"
    save_adapter(path, adapter_tensors(top))
    return AdapterSpec(path, sha256_file(path), recipe.rank, recipe.alpha)


@pytest.fixture(scope="module")
def ort(adapter: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from monitor.classify.runtime import select_encoder

    enc, info = select_encoder(
        runtime="onnx",
        device="cpu",
        layers=(3, 4, 5, 6, 7, 8),
        cache_dir=tmp_path_factory.mktemp("graphs"),
        adapter=adapter,
    )
    assert info["adapter_sha256"] == adapter.sha256
    return enc


def test_adapted_pools_follow_the_frozen_ones_in_one_graph(ort: Any, adapter: Any) -> None:
    assert ort.graph.pools == 9 and adapter.sha256[:16] in Path(ort.graph.path).name
    f = ort.encode(TEXTS).features.reshape(len(TEXTS), 6, 384)
    frozen5, frozen6, adapted5, adapted6 = f[:, 2], f[:, 3], f[:, 4], f[:, 5]
    # The adapter changes the top layers' output...
    assert np.abs(adapted6 - frozen6).max() > 1e-2
    assert np.abs(adapted5 - frozen5).max() > 1e-2
    # ...and leaves the frozen pools (rumour, stance, clustering) as the plain graph has them.
    from monitor.classify.runtime import select_encoder

    plain, _ = select_encoder(runtime="onnx", device="cpu", layers=(3, 4, 5, 6))
    g = plain.encode(TEXTS).features
    assert np.abs(g - f[:, :4].reshape(len(TEXTS), -1)).max() < 1e-5


def test_adapted_scores_do_not_depend_on_the_batch(ort: Any) -> None:
    alone = [ort.encode([t]).features[0] for t in TEXTS]
    order = list(range(len(TEXTS)))
    random.Random(3).shuffle(order)
    mixed = ort.encode([TEXTS[i] for i in order]).features
    for row, i in enumerate(order):
        assert np.array_equal(mixed[row], alone[i]), TEXTS[i]


def test_pytorch_path_computes_the_same_adapted_pools(ort: Any, adapter: Any) -> None:
    from monitor.classify.encoder import Encoder

    torch_enc = Encoder(device="cpu", layers=(3, 4, 5, 6, 7, 8), adapter=adapter)
    a = torch_enc.encode(TEXTS).features
    b = ort.encode(TEXTS).features
    assert np.abs(a - b).max() < 1e-4
