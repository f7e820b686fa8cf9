"""The on-disk encoding cache (`classifier_encoding_cache`): the demo week scored cold and warm.

The shipped classifier (ONNX Runtime fp32 on CPU, the shipped heads) scores every post of the
bundled demo week (3,564 fictional posts, 2,916 distinct prepared texts) through
`analyse_sync` in batches of 256, three ways, each with a fresh classifier (an empty in-memory
LRU) sharing one encoder:
- off: no disk cache (the default);
- cold: a disk cache in a new, empty folder: every text is encoded and written;
- warm: a new classifier on the same folder: every text is read back, none encoded.
It checks the three give bitwise-identical scores and embeddings, and prints each one's CPU
(process time, all threads) and wall time and the cold/warm ratio. On a shared machine read
the ratios, not the seconds; `--repeat` runs the three in turn that many times (medians).

    .venv/bin/python benchmarks/encoding_cache.py [--repeat 1] [--threads 0]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

MODEL = ROOT / "models" / "minilm-heads-v1"
DEMO = ROOT / "monitor" / "data" / "demo" / "bradford-scenario.jsonl"
BATCH = 256


def score(clf: Any, texts: list[str]) -> tuple[list[Any], float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    out: list[Any] = []
    for start in range(0, len(texts), BATCH):
        out += clf.analyse_sync(texts[start : start + BATCH])
    return out, time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()

    from monitor.classify.disk_cache import DiskCacheConfig
    from monitor.classify.transformer import TransformerClassifier, load_transformer

    texts = [json.loads(line)["text"] for line in DEMO.read_text(encoding="utf-8").splitlines()]
    base = load_transformer(MODEL, device="cpu", runtime="onnx", threads=args.threads)
    results: dict[str, list[tuple[float, float]]] = {"off": [], "cold": [], "warm": []}
    reference: list[Any] | None = None
    print(f"{len(texts)} demo posts; load average {os.getloadavg()[0]:.1f}", flush=True)
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            disk = DiskCacheConfig(Path(folder), 100_000, max_age_days=30)
            for name, config in (("off", None), ("cold", disk), ("warm", disk)):
                clf = TransformerClassifier(base.model, encoder=base.encoder, disk_cache=config)
                got, cpu, wall = score(clf, texts)
                results[name].append((cpu, wall))
                print(f"  {name:4}  CPU {cpu:6.1f} s  wall {wall:6.1f} s", flush=True)
                if reference is None:
                    reference = got
                same = all(
                    a.scores == b.scores and a.embedding == b.embedding
                    for a, b in zip(reference, got, strict=True)
                )
                if not same:
                    sys.exit(f"{name}: scores or embeddings differ from the run without cache")
    cpu = {k: statistics.median(c for c, _ in v) for k, v in results.items()}
    wall = {k: statistics.median(w for _, w in v) for k, v in results.items()}
    print(f"load average {os.getloadavg()[0]:.1f}; medians of {args.repeat}:")
    print("| run | CPU s | wall s |")
    print("|-----|-------|--------|")
    for k in results:
        print(f"| {k} | {cpu[k]:.1f} | {wall[k]:.1f} |")
    print(
        f"cold/off CPU {cpu['cold'] / cpu['off']:.2f}; cold/warm CPU "
        f"{cpu['cold'] / cpu['warm']:.1f}x, wall {wall['cold'] / wall['warm']:.1f}x; "
        "scores and embeddings bitwise identical in all three"
    )


if __name__ == "__main__":
    main()
