"""Classifier throughput, agreement and peak memory: the serving path against plain transformers.

All paths run in this process on the same posts (TweetEval hate and offensive test posts and
RumourEval replies from ../shared/data, read in place, duplicates dropped; the fictional
bias-suite posts when that folder is absent), with the same thread count, tokenising included:

- baseline: `transformers` AutoModel in fp32, the posts in their given order in batches of 64
  padded to the longest, mean pooled: what one writes first;
- serving: `TransformerClassifier.analyse` as `monitor run` uses it (micro-batcher, ONNX
  Runtime fp32, rows grouped by padded length, every head's scores and the embedding), its
  encoder cache emptied before each timed run so every post is encoded;
- with `--all`, for reference: the same classifier on PyTorch fp32 and on PyTorch dynamic
  int8 (the old default, whose scores depend on the batch).

Agreement: the serving path's flags (hostile, offensive, rumour at the shipped thresholds)
against the same heads on PyTorch fp32 features, per post and per label, and the largest
score difference. Each path runs `--repeat` times, interleaved (the machine is shared, so
interleaving spreads other people's load evenly); the table shows the median. The load
average before and after is printed: on a shared machine read the ratio, not the rate;
posts per CPU-second (process time, all threads) shows what each path costs, which other
people's jobs disturb far less than wall-clock rates.
Peak memory is the highest resident set size sampled while a path ran, which includes every
model loaded in this process; `--only serving` measures the serving path alone.

    .venv/bin/python benchmarks/classifier.py [--posts 2000] [--repeat 2] [--threads 0] [--all]
        [--compare OTHER_MODEL_DIR] [--sentences]

Aims (issue 16): serving >= 400 posts/s and >= 6x the baseline on the 2-core CPU; flags agree
with fp32 on >= 99% of posts; a serving process under 1 GB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

AIM_RATE = 400.0
AIM_RATIO = 6.0
AIM_AGREEMENT = 0.99
AIM_PEAK_MB = 1024.0
MODEL = ROOT / "models" / "minilm-heads-v1"
BASELINE = "baseline: transformers fp32, unsorted batches of 64"
SERVING = "serving: analyse(), ONNX Runtime fp32"
TORCH_FP32 = "analyse(), PyTorch fp32 (reference)"
TORCH_INT8 = "analyse(), PyTorch dynamic int8 (old default)"
FLAGS = ("hostile", "offensive", "rumour")


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
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
    # Distinct texts only, so the serving path's dedup does not flatter it; then interleave
    # the sources so every slice has a realistic mix of lengths.
    texts = list(dict.fromkeys(texts))
    texts = texts[::3] + texts[1::3] + texts[2::3]
    return texts[:n], source


def baseline_runner(threads: int) -> Callable[[list[str]], int]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    from monitor.classify.encoder import base_model_path

    torch.set_num_threads(threads)
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


class ProjectPath:
    """One `TransformerClassifier` configuration; keeps the last run's scores for agreement."""

    def __init__(
        self,
        runtime: str,
        quantize: bool,
        threads: int,
        model: Path = MODEL,
        sentences: bool = False,
    ) -> None:
        from monitor.classify.transformer import load_transformer

        self.clf = load_transformer(
            model,
            device="cpu",
            runtime=runtime,
            quantize=quantize,
            threads=threads,
            sentences=sentences,
        )
        self.scores: list[dict[str, float]] = []

    def __call__(self, texts: list[str]) -> int:
        self.clf.cache.clear()

        async def go() -> list[Any]:
            # Callers submit in chunks as the pipeline does; the batcher pools and sorts them.
            chunks = [texts[i : i + 64] for i in range(0, len(texts), 64)]
            results = await asyncio.gather(*(self.clf.analyse(c) for c in chunks))
            return [a for chunk in results for a in chunk]

        analyses = asyncio.run(go())
        self.scores = [a.scores for a in analyses]
        return len(analyses)


def compare_name(model: Path) -> str:
    return f"serving, model {model.name} (--compare)"


def agreement(
    ours: list[dict[str, float]], ref: list[dict[str, float]], thresholds: dict[str, float]
) -> dict[str, Any]:
    def flags(s: dict[str, float]) -> frozenset[str]:
        return frozenset(k for k in FLAGS if s[k] >= thresholds[k])

    same = sum(flags(a) == flags(b) for a, b in zip(ours, ref, strict=True))
    per_label = {
        k: sum(
            (a[k] >= thresholds[k]) == (b[k] >= thresholds[k])
            for a, b in zip(ours, ref, strict=True)
        )
        / len(ref)
        for k in FLAGS
    }
    worst = max(abs(a[k] - b[k]) for a, b in zip(ours, ref, strict=True) for k in a)
    return {"posts": same / len(ref), "per_label": per_label, "max_abs_diff": worst}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--posts", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="threads; 0: one per core")
    ap.add_argument("--all", action="store_true", help="also PyTorch fp32 and int8 paths")
    ap.add_argument(
        "--only",
        choices=["baseline", "serving"],
        default=None,
        help="run one path alone (its peak memory then excludes the other models)",
    )
    ap.add_argument(
        "--compare",
        type=Path,
        default=None,
        help="also run the serving path on this model folder (an earlier version of the "
        "shipped one, say) and print the shipped model's cost against it",
    )
    ap.add_argument(
        "--sentences",
        action="store_true",
        help="serve with the model's sentence rule on (classifier_sentences); with --compare "
        "models/minilm-heads-v1 the ratio is the rule's cost",
    )
    ap.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / "classifier.json"
    )
    args = ap.parse_args()

    threads = args.threads if args.threads > 0 else len(os.sched_getaffinity(0))
    posts, source = load_posts(args.posts)
    load_before = os.getloadavg()
    start_rss = rss_mb()
    makers: dict[str, tuple[str, Callable[[], Callable[[list[str]], int]]]] = {
        BASELINE: ("baseline", lambda: baseline_runner(threads)),
        SERVING: ("serving", lambda: ProjectPath("onnx", False, threads, sentences=args.sentences)),
    }
    if args.compare is not None and args.only is None:
        other = args.compare
        makers[compare_name(other)] = (
            "compare",
            lambda: ProjectPath("onnx", False, threads, other),
        )
    if args.all and args.only is None:
        makers[TORCH_FP32] = (
            "torch",
            lambda: ProjectPath("torch", False, threads, sentences=args.sentences),
        )
        makers[TORCH_INT8] = (
            "int8",
            lambda: ProjectPath("torch", True, threads, sentences=args.sentences),
        )
    runners = {name: make() for name, (key, make) in makers.items() if args.only in (None, key)}
    loaded_rss = rss_mb()
    warm = posts[:64]
    for run in runners.values():
        run(warm)
    rates: dict[str, list[float]] = {k: [] for k in runners}
    cpu_rates: dict[str, list[float]] = {k: [] for k in runners}
    peaks: dict[str, float] = {k: 0.0 for k in runners}
    for _ in range(args.repeat):
        for name, run in runners.items():
            with PeakSampler() as sampler:
                t0, c0 = time.perf_counter(), time.process_time()
                n = run(posts)
                dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            assert n == len(posts)
            rates[name].append(n / dt)
            cpu_rates[name].append(n / cpu)
            peaks[name] = max(peaks[name], sampler.peak)
    load_after = os.getloadavg()

    print(f"posts: {len(posts)} distinct ({source}); threads: {threads}; repeats: {args.repeat}")
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"({os.cpu_count()} CPUs; other people's jobs slow every path alike)"
    )
    print(f"resident memory: {start_rss:.0f} MB at start, {loaded_rss:.0f} MB with models loaded")
    print()
    base = statistics.median(rates[BASELINE]) if BASELINE in rates else None
    cpu_base = statistics.median(cpu_rates[BASELINE]) if BASELINE in rates else None
    print(
        f"{'path':<52} {'posts/s':>8} {'ratio':>6} {'posts/CPU-s':>12} {'ratio':>6} {'peak MB':>8}"
    )
    for name in runners:
        r = statistics.median(rates[name])
        c = statistics.median(cpu_rates[name])
        ratio = f"{r / base:>6.2f}" if base else f"{'-':>6}"
        cpu_ratio = f"{c / cpu_base:>6.2f}" if cpu_base else f"{'-':>6}"
        print(f"{name:<52} {r:>8.1f} {ratio} {c:>12.1f} {cpu_ratio} {peaks[name]:>8.0f}")
    print(
        "posts/CPU-s: posts per second of CPU time this process used (all its threads): the "
        "work each path costs, which other people's load disturbs far less than posts/s"
    )

    result: dict[str, Any] = {
        "posts": len(posts),
        "threads": threads,
        "load_before": load_before,
        "load_after": load_after,
        "rates": rates,
        "posts_per_cpu_second": cpu_rates,
        "peaks_mb": peaks,
    }
    serving = runners.get(SERVING)
    if isinstance(serving, ProjectPath):
        result["serving"] = dict(serving.clf.runtime)
        print()
        print("serving path: " + ", ".join(f"{k} {v}" for k, v in serving.clf.runtime.items()))
        reference = runners.get(TORCH_FP32)
        if not isinstance(reference, ProjectPath):
            # Scored the same way (the sentence rule on or off) as the serving path.
            reference = ProjectPath("torch", False, threads, sentences=args.sentences)
            reference(posts)
        thresholds = dict(serving.clf.thresholds)
        agree = agreement(serving.scores, reference.scores, thresholds)
        result["agreement_with_fp32"] = agree
        print(
            f"flags agree with PyTorch fp32 (same heads) on {agree['posts']:.4f} of posts "
            f"(aim {AIM_AGREEMENT}); per label "
            + ", ".join(f"{k} {v:.4f}" for k, v in agree["per_label"].items())
            + f"; largest score difference {agree['max_abs_diff']:.2g}"
        )
        int8 = runners.get(TORCH_INT8)
        if isinstance(int8, ProjectPath):
            a8 = agreement(int8.scores, reference.scores, thresholds)
            result["int8_agreement_with_fp32"] = a8
            print(f"(PyTorch int8 flags agree with fp32 on {a8['posts']:.4f} of posts)")
    if args.compare is not None and SERVING in rates and compare_name(args.compare) in rates:
        name = compare_name(args.compare)
        ratios = {
            "posts_per_s": statistics.median(rates[SERVING]) / statistics.median(rates[name]),
            "posts_per_cpu_s": statistics.median(cpu_rates[SERVING])
            / statistics.median(cpu_rates[name]),
        }
        result["against_compare"] = ratios
        print(
            f"shipped model against {args.compare}: {ratios['posts_per_s']:.2f}x in posts/s, "
            f"{ratios['posts_per_cpu_s']:.2f}x in posts per CPU-second (same run, interleaved)"
        )
    if base and SERVING in rates:
        rate = statistics.median(rates[SERVING])
        ratio_value = rate / base
        result["ratio"] = ratio_value
        print(
            f"serving: {rate:.0f} posts/s (aim {AIM_RATE:.0f}), {ratio_value:.2f}x the baseline "
            f"(aim {AIM_RATIO:.0f}x); peak memory {max(peaks.values()):.0f} MB "
            f"(aim < {AIM_PEAK_MB:.0f} for the serving path alone: --only serving)"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
