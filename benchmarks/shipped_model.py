"""The shipped model and its serving encoder's feature cache, opened from the command line as
the hostile-head benchmarks take them (`functional_levers`, `surface_forms`,
`sentence_scoring`): `--cache-dir` for the feature cache, `--data-dir` for ../shared/data."""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.classify import data as datasets
from monitor.classify.features import FeatureCache
from monitor.classify.manifest import ModelDir, load_model_dir

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "minilm-heads-v1"


@dataclass(frozen=True)
class Shipped:
    data_dir: Path
    model: ModelDir
    served: FeatureCache  # the serving encoder's pools (ONNX Runtime, the model's adapter)


def open_shipped(doc: str | None, argv: Sequence[str] | None) -> Shipped:
    """Parse `argv` (the benchmark described by the first line of `doc`) and open the model."""
    ap = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    model = load_model_dir(MODEL)
    return Shipped(
        data_dir=args.data_dir or datasets.default_data_dir(),
        model=model,
        served=FeatureCache(args.cache_dir, variant="onnx", adapter=model.adapter),
    )
