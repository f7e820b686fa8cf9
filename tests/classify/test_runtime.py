"""Choosing the encoder path: clear errors, a fallback that says why, damaged exports ignored."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from monitor.classify.export import EXPORT_FORMAT, find_graph, graph_name
from monitor.classify.runtime import RuntimeUnavailable, feature_variant, select_encoder
from monitor.config import Settings

BASE_SHA = "ab" * 32


def write_graph(folder: Path, content: bytes, recorded_sha: str) -> Path:
    path = folder / graph_name(BASE_SHA)
    path.write_bytes(content)
    meta = {"format": EXPORT_FORMAT, "sha256": recorded_sha, "base_sha256": BASE_SHA}
    path.with_suffix(".json").write_text(json.dumps(meta))
    return path


def test_an_intact_export_is_found(tmp_path: Path) -> None:
    import hashlib

    content = b"not really onnx, but the checksum is what is checked here"
    path = write_graph(tmp_path, content, hashlib.sha256(content).hexdigest())
    found = find_graph(tmp_path, BASE_SHA)
    assert found is not None and found.path == path


def test_a_damaged_export_is_ignored_so_it_is_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_graph(tmp_path, b"torn file", "0" * 64)
    with caplog.at_level(logging.WARNING):
        assert find_graph(tmp_path, BASE_SHA) is None
    assert "does not match its record" in caplog.text


def test_an_export_from_another_base_model_is_ignored(tmp_path: Path) -> None:
    import hashlib

    content = b"graph"
    path = write_graph(tmp_path, content, hashlib.sha256(content).hexdigest())
    assert find_graph(tmp_path, "cd" * 32) is None
    assert path.exists()


def test_processes_finding_the_export_missing_at_once_export_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two callers at once (threads here: the lock is a file's, taken by each open of it, as
    two processes take it): the first exports, the second waits and finds its file. Both
    exported before, each spending half a minute of CPU on the same graph."""
    import hashlib
    import threading
    import time

    from monitor.classify import export

    exports: list[str] = []
    both_looked = threading.Barrier(2)

    def slow_export(base: Path, folder: Path, base_sha: str, adapter: object) -> object:
        exports.append(threading.current_thread().name)
        time.sleep(0.3)  # long enough for the other caller to reach the export
        content = b"an exported graph stands in here"
        write_graph(folder, content, hashlib.sha256(content).hexdigest())
        found = find_graph(folder, base_sha)
        assert found is not None
        return found

    looks = iter(["first-look", "first-look"])
    real_find = export.find_graph

    def find(*args: object) -> object:
        if next(looks, "") == "first-look":
            both_looked.wait(timeout=10)  # both saw no graph before either exported
        return real_find(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(export, "find_graph", find)
    monkeypatch.setattr(export, "export_graph", slow_export)
    got: list[object] = []
    threads = [
        threading.Thread(
            target=lambda: got.append(export.ensure_graph(tmp_path, tmp_path, BASE_SHA)),
            name=f"caller-{i}",
        )
        for i in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(exports) == 1, exports
    assert len(got) == 2 and all(g == got[0] for g in got)


def test_unknown_runtime_and_onnx_on_a_gpu_are_clear_errors() -> None:
    with pytest.raises(RuntimeUnavailable, match="classifier_runtime must be one of"):
        select_encoder(runtime="tensorrt")
    with pytest.raises(RuntimeUnavailable, match="runs on CPU only"):
        select_encoder(runtime="onnx", device="cuda")


def test_onnx_runtime_missing_is_an_error_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(RuntimeUnavailable, match="ONNX Runtime cannot serve"):
        select_encoder(runtime="onnx", device="cpu")


@pytest.mark.model
def test_auto_falls_back_to_pytorch_saying_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.classify.conftest import require_model

    require_model()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with caplog.at_level(logging.WARNING):
        enc, info = select_encoder(runtime="auto", device="cpu")
    assert info["path"] == "torch" and info["precision"] == "fp32"
    assert "ONNX Runtime unavailable" in caplog.text
    assert enc.encode(["Fictional: the bins are late again."]).features.shape == (1, 4 * 384)


def test_eval_and_train_default_to_the_features_that_serve() -> None:
    assert feature_variant(Settings(), "serving") == "onnx"
    assert feature_variant(Settings(classifier_runtime="torch"), "serving") == "fp32"
    assert feature_variant(
        Settings(classifier_runtime="torch", classifier_quantize=True), "serving"
    ) == ("int8")
    assert feature_variant(Settings(), "fp32") == "fp32"


class _FakeGpuEncoder:
    """Stands in for the PyTorch encoder on a CUDA card (none on the test machines)."""

    layers = (3, 4, 5, 6)
    variant = "fp16-cuda"
    device = "cuda"

    def encode(self, texts: list[str], *, sort: bool = True, clean: bool = True) -> object:
        import numpy as np

        from monitor.classify.encoder import Encoded

        n = len(texts)
        return Encoded(np.zeros((n, 4 * 384), np.float32), np.zeros((n, 384), np.float32))


def test_on_a_gpu_the_batcher_pools_enough_posts_to_fill_large_batches() -> None:
    from monitor.classify.manifest import load_model_dir
    from monitor.classify.runtime import GPU_BATCH
    from monitor.classify.transformer import POOL_BATCHES, TransformerClassifier
    from tests.classify.conftest import MODEL_DIR, require_model

    require_model()
    gpu = TransformerClassifier(load_model_dir(MODEL_DIR), encoder=_FakeGpuEncoder())
    assert gpu._batcher.max_size == GPU_BATCH * POOL_BATCHES
    assert gpu.name == "minilm-heads-v1+fp16-cuda"
