"""Which encoder serves: ONNX Runtime fp32 on CPU, PyTorch fp16 on a GPU, PyTorch as fallback.

The `classifier_runtime` setting picks the path; 'auto' takes the measured best one that is
available and says so when it falls back:

| runtime | device | what runs                                                           |
|---------|--------|---------------------------------------------------------------------|
| auto    | CPU    | ONNX Runtime fp32 (exported once to the cache); else PyTorch fp32   |
| auto    | GPU    | PyTorch fp16, large length-sorted batches                           |
| onnx    | CPU    | ONNX Runtime fp32, or an error saying why it cannot                 |
| torch   | either | PyTorch: fp32 on CPU (int8 with `classifier_quantize`), fp16 on GPU |

`classifier_quantize` (PyTorch dynamic int8) is kept for those who want it, but a post's
score then depends on its batch-mates (one activation scale per batch), so it is off by
default and 'auto' serves it through PyTorch only when it is asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from monitor.classify.encoder import DEFAULT_MAX_LENGTH, FEATURE_LAYERS, Encoded
from monitor.classify.export import AdapterSpec

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "onnx", "torch")
# On a GPU a forward pass of many rows costs little more than one of a few: pool more.
GPU_BATCH = 512


class EncoderLike(Protocol):
    layers: tuple[int, ...]
    variant: str
    device: str

    def encode(self, texts: Sequence[str], *, sort: bool = True, clean: bool = True) -> Encoded: ...


class RuntimeUnavailable(RuntimeError):
    """The asked-for runtime cannot run here; the message says why and what to do."""


def cuda_present() -> bool:
    """Whether a CUDA GPU is usable, without importing torch on machines with no NVIDIA driver
    (importing torch costs a serving process a few hundred MB it would never use)."""
    if not Path("/proc/driver/nvidia/version").exists():
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def select_encoder(
    *,
    runtime: str = "auto",
    device: str = "auto",
    quantize: bool = False,
    threads: int = 0,
    batch_size: int = 64,
    max_length: int = DEFAULT_MAX_LENGTH,
    layers: Sequence[int] = FEATURE_LAYERS,
    cache_dir: Path | None = None,
    adapter: AdapterSpec | None = None,
) -> tuple[EncoderLike, dict[str, Any]]:
    """Build the encoder the settings ask for; returns it and a record of what runs.

    With a LoRA `adapter` (a fine-tuned model folder) both paths run the frozen layers and
    the adapted top layers in one pass (`monitor.classify.lora`)."""
    runtime = runtime.strip().lower()
    if runtime not in RUNTIMES:
        raise RuntimeUnavailable(
            f"classifier_runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}"
        )
    if device not in ("auto", "cpu", "cuda"):
        raise RuntimeUnavailable(f"classifier_device must be auto, cpu or cuda, got {device!r}")
    on_gpu = device == "cuda" or (device == "auto" and cuda_present())
    if on_gpu and runtime == "onnx":
        raise RuntimeUnavailable(
            "classifier_runtime onnx runs on CPU only: set classifier_device = cpu, "
            "or classifier_runtime = torch (or auto) for the GPU"
        )
    if not on_gpu and runtime in ("auto", "onnx") and not (runtime == "auto" and quantize):
        try:
            return _onnx(threads, batch_size, max_length, layers, cache_dir, adapter)
        except (ImportError, RuntimeError, OSError) as exc:
            if runtime == "onnx":
                raise RuntimeUnavailable(f"ONNX Runtime cannot serve the encoder: {exc}") from exc
            log.warning(
                "classifier: ONNX Runtime unavailable (%s); falling back to PyTorch fp32, "
                "which is slower",
                exc,
            )
    return _torch(
        "cuda" if on_gpu else "cpu", quantize, threads, batch_size, max_length, layers, adapter
    )


def _onnx(
    threads: int,
    batch_size: int,
    max_length: int,
    layers: Sequence[int],
    cache_dir: Path | None,
    adapter: AdapterSpec | None = None,
) -> tuple[EncoderLike, dict[str, Any]]:
    import onnxruntime  # noqa: F401 - fail early, before a slow export, when it is missing

    from monitor.classify.encoder import base_model_path
    from monitor.classify.export import default_cache_dir, ensure_graph
    from monitor.classify.manifest import sha256_file
    from monitor.classify.ort_encoder import OrtEncoder

    base = base_model_path()
    base_sha = sha256_file(base / "model.safetensors")
    graph = ensure_graph(base, cache_dir or default_cache_dir(), base_sha, adapter)
    enc = OrtEncoder(
        graph, base, threads=threads, max_length=max_length, batch_size=batch_size, layers=layers
    )
    info = {
        "path": "onnxruntime",
        "version": enc.version,
        "precision": "fp32",
        "device": "cpu",
        "threads": enc.threads,
        "graph": str(graph.path),
        "graph_sha256": graph.sha256,
    }
    if adapter is not None:
        info["adapter_sha256"] = adapter.sha256
        if adapter.branch is not None:
            info["branch_sha256"] = adapter.branch.sha256
        if adapter.graph_sha256 and adapter.graph_sha256 != graph.sha256:
            log.warning(
                "classifier: the fine-tuned encoder exported here (sha256 %s) differs from the "
                "one the manifest records (%s): another torch or onnx version wrote other "
                "bytes; scores may differ from the model card's in the last digits",
                graph.sha256[:12],
                adapter.graph_sha256[:12],
            )
    return enc, info


def _torch(
    device: str,
    quantize: bool,
    threads: int,
    batch_size: int,
    max_length: int,
    layers: Sequence[int],
    adapter: AdapterSpec | None = None,
) -> tuple[EncoderLike, dict[str, Any]]:
    import warnings

    import torch

    from monitor.classify.encoder import Encoder, set_threads

    used = set_threads(threads)
    with warnings.catch_warnings():
        # torch.ao's dynamic quantisation warns that it is deprecated in favour of torchao;
        # it is still the supported path in this torch.
        warnings.simplefilter("ignore")
        enc = Encoder(
            device=device,
            quantize=quantize,
            max_length=max_length,
            batch_size=max(batch_size, GPU_BATCH) if device == "cuda" else batch_size,
            layers=layers,
            adapter=adapter,
        )
    if enc.quantized:
        log.warning(
            "classifier: int8 dynamic quantisation is on: a post's scores depend slightly on "
            "the other posts in its batch (see the model card)"
        )
    info: dict[str, Any] = {
        "path": "torch",
        "version": torch.__version__,
        "precision": "int8" if enc.quantized else ("fp16" if device == "cuda" else "fp32"),
        "device": device,
        "threads": used,
    }
    if adapter is not None:
        info["adapter_sha256"] = adapter.sha256
        if adapter.branch is not None:
            info["branch_sha256"] = adapter.branch.sha256
    if device == "cuda":
        info["card"] = torch.cuda.get_device_name(0)
    return enc, info


def feature_variant(settings: Any, encoder: str) -> str:
    """`monitor train/eval --encoder`: 'serving' is the feature variant `monitor run` serves
    on CPU with these settings (see `monitor.classify.features.VARIANTS`)."""
    if encoder != "serving":
        return encoder
    if settings.classifier_runtime == "torch":
        return "int8" if settings.classifier_quantize else "fp32"
    from importlib.util import find_spec

    return "onnx" if find_spec("onnxruntime") is not None else "fp32"


def graph_dir(settings: Any) -> Path | None:
    """The `classifier_cache_dir` setting as a folder; None for the default."""
    value = str(settings.classifier_cache_dir or "").strip()
    return Path(value).expanduser() if value else None
