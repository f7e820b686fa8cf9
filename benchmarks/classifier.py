"""Classifier throughput and peak memory: the project's inference path against plain transformers.

Both run in this process on the same posts (TweetEval hate and offensive test posts and
RumourEval replies from ../shared/data, read in place; the fictional bias-suite posts when that
folder is absent), with the same torch thread count:

- baseline: `transformers` AutoModel in fp32, the posts in their given order in batches of 64
  padded to the longest, mean pooled: what one writes first;
- project, fp32: `TransformerClassifier.analyse` (micro-batcher, length-sorted batches, every
  head's scores and the embedding) with the encoder in fp32;
- project, int8: the same with dynamic int8 quantisation (the default on CPU).

Each path runs `--repeat` times, interleaved (the machine is shared, so interleaving spreads
other people's load evenly); the table shows the median. Peak memory is the highest resident
set size sampled (every 5 ms) while that path ran: it includes everything the process holds,
the other paths' models too, so it is an upper bound for each.

    .venv/bin/python benchmarks/classifier.py [--posts 1500] [--repeat 2] [--threads 0]

Aim (issue #4): 3x the baseline's posts/s on the 2-core CPU, under 1 GB peak.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

AIM_RATIO = 3.0
AIM_PEAK_MB = 1024.0
BASELINE = "baseline: transformers fp32, unsorted batches of 64"
DEFAULT = "project: analyse(), sorted, int8 (default)"


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakSampler:
    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            time.sleep(self.interval)

    def __enter__(self) -> PeakSampler:
        self.peak = rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def load_posts(n: int) -> tuple[list[str], str]:
    from monitor.classify import data

    try:
        texts = (
            data.tweeteval("hate", "test").texts
            + data.tweeteval("offensive", "test").texts
            + data.rumoureval("test").texts
        )
        source = "TweetEval hate+offensive test, RumourEval test (../shared/data)"
    except data.DataMissing:
        from monitor.classify.bias import load_cases

        texts = [c.text for c in load_cases()]
        source = "fictional bias-suite posts (shared data absent)"
    # Interleave the sources so every slice has a realistic mix of lengths.
    texts = texts[::3] + texts[1::3] + texts[2::3]
    out = (texts * (n // max(len(texts), 1) + 1))[:n]
    return out, source


def baseline_runner(threads: int) -> Callable[[list[str]], int]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    from monitor.classify.encoder import base_model_path

    tok = AutoTokenizer.from_pretrained(str(base_model_path()))
    model = AutoModel.from_pretrained(str(base_model_path())).eval()

    def run(texts: list[str]) -> int:
        done = 0
        with torch.inference_mode():
            for i in range(0, len(texts), 64):
                batch = tok(
                    texts[i : i + 64],
                    padding=True,
                    truncation=True,
                    max_length=128,
                    return_tensors="pt",
                )
                out = model(**batch).last_hidden_state
                m = batch["attention_mask"].unsqueeze(-1).float()
                emb = (out * m).sum(1) / m.sum(1)
                torch.nn.functional.normalize(emb, dim=1)
                done += len(emb)
        return done

    return run


def project_runner(quantize: bool, threads: int) -> Callable[[list[str]], int]:
    from monitor.classify.transformer import load_transformer

    clf = load_transformer(
        ROOT / "models" / "minilm-heads-v1", device="cpu", quantize=quantize, threads=threads
    )

    def run(texts: list[str]) -> int:
        async def go() -> int:
            # Callers submit in chunks as the pipeline does; the batcher pools and sorts them.
            chunks = [texts[i : i + 64] for i in range(0, len(texts), 64)]
            results = await asyncio.gather(*(clf.analyse(c) for c in chunks))
            return sum(len(r) for r in results)

        return asyncio.run(go())

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--posts", type=int, default=1500)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch threads; 0: one per core")
    ap.add_argument(
        "--only",
        choices=["baseline", "fp32", "int8"],
        default=None,
        help="run one path alone (its peak memory then excludes the other models)",
    )
    ap.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / "classifier.json"
    )
    args = ap.parse_args()

    from monitor.classify.encoder import set_threads

    threads = set_threads(args.threads)
    posts, source = load_posts(args.posts)
    start_rss = rss_mb()
    makers: dict[str, tuple[str, Callable[[], Callable[[list[str]], int]]]] = {
        BASELINE: ("baseline", lambda: baseline_runner(threads)),
        "project: analyse(), sorted, fp32": ("fp32", lambda: project_runner(False, threads)),
        DEFAULT: ("int8", lambda: project_runner(True, threads)),
    }
    runners = {name: make() for name, (key, make) in makers.items() if args.only in (None, key)}
    warm = posts[:64]
    for run in runners.values():
        run(warm)
    rates: dict[str, list[float]] = {k: [] for k in runners}
    peaks: dict[str, float] = {k: 0.0 for k in runners}
    for _ in range(args.repeat):
        for name, run in runners.items():
            with PeakSampler() as sampler:
                t0 = time.perf_counter()
                n = run(posts)
                dt = time.perf_counter() - t0
            assert n == len(posts)
            rates[name].append(n / dt)
            peaks[name] = max(peaks[name], sampler.peak)

    print(f"posts: {len(posts)} ({source}); torch threads: {threads}; repeats: {args.repeat}")
    print(f"resident memory after loading the model(s): {start_rss:.0f} MB")
    print()
    base = statistics.median(rates[BASELINE]) if BASELINE in rates else None
    print(f"{'path':<52} {'posts/s':>8} {'ratio':>6} {'peak MB':>8}")
    for name in runners:
        r = statistics.median(rates[name])
        ratio = f"{r / base:>6.2f}" if base else f"{'-':>6}"
        print(f"{name:<52} {r:>8.1f} {ratio} {peaks[name]:>8.0f}")
    ratio_value = None
    if base and DEFAULT in rates:
        ratio_value = statistics.median(rates[DEFAULT]) / base
        print()
        print(
            f"ratio (project default / baseline): {ratio_value:.2f}x (aim {AIM_RATIO:.0f}x); "
            f"peak memory {max(peaks.values()):.0f} MB (aim < {AIM_PEAK_MB:.0f})"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "posts": len(posts),
                "threads": threads,
                "rates": rates,
                "peaks_mb": peaks,
                "ratio": ratio_value,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
