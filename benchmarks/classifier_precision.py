"""Which encoder precision could serve (issue 16): cost per post against flag agreement.

`benchmarks/classifier.py` times the serving path (ONNX Runtime fp32) against plain
transformers. This one asks whether a cheaper precision could replace fp32: each candidate is
built from the shipped model's exported graph in a temporary folder, run on the same posts in
this process, and compared with the serving graph's own results, which agree with PyTorch fp32
to about 1e-6 (`benchmarks/classifier.py` prints that check).

Candidates (all ONNX Runtime on CPU unless named otherwise):
- int8 static QDQ: per-channel int8 weights, uint8 activations with one scale per tensor
  calibrated once (min/max over fixed posts from the training splits, never the test posts):
  the scale does not depend on the batch, so scores stay reproducible;
  - every linear layer (48 MatMuls with the adapter);
  - the same after SmoothQuant (Xiao et al. 2023, alpha 0.5: each linear layer's input
    channels divided by a calibrated factor that its weight rows take on, so outlier channels
    no longer set the one activation scale), every linear layer;
  - SmoothQuant, the feed-forward output projections left in fp32 (their inputs, after
    GELU, were the most sensitive when groups were quantised one at a time);
  - the attention output projections only (the one group that agreed on its own);
- int8 dynamic (ONNX Runtime's quantize_dynamic, one activation scale per tensor computed at
  run time) run one row at a time, so the scale is the post's own: reproducible;
- with `--torch`: PyTorch fp32 and bf16 (AVX512-BF16 where the CPU has it), sorted batches.

Printed per candidate: posts/s, CPU milliseconds per post (process time, all threads: the
figure other people's load disturbs least) and its ratio to the serving graph's in the same
run, flag agreement (hostile, offensive, rumour at the shipped thresholds) over all posts and
per label, stance agreement, the largest score difference, the embeddings' mean cosine to
fp32's, and whether a post's features are bitwise the same alone and in a shuffled batch.
A candidate could serve only with >= 99% flag agreement (issue 16); to reach 400 posts/s on
two cores it would need about 2.4x less CPU a post than fp32 (fp32 costs about 12 ms here).

    nice -n 10 .venv/bin/python benchmarks/classifier_precision.py [--posts 0] [--torch]

Posts: the TweetEval hate and offensive test posts and the RumourEval test posts from
../shared/data (4,765 distinct; every flag is judged on every post); `--posts N` takes the
first N. Calibration: 300 posts from the training splits, not in the test set.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

MODEL = ROOT / "models" / "minilm-heads-v1"
FLAGS = ("hostile", "offensive", "rumour")
AIM_AGREEMENT = 0.99
# 400 posts/s on two cores leaves 5 ms of CPU a post; fp32 costs about 12 ms.
AIM_CPU_RATIO = 2.4
CALIBRATION_POSTS = 300
SMOOTH_ALPHA = 0.5
FloatArray = npt.NDArray[np.float32]
# The attention's own products (query x key, weights x value) multiply two activations:
# they are not linear layers and stay fp32 in every candidate.
ATTENTION_PRODUCT = "/attention/self/MatMul"
FFN_OUT = re.compile(r"(layer\.\d+|top\.\d+)/output/dense/MatMul")
ATTENTION_OUT = re.compile(r"/attention/output/dense/MatMul")


@dataclass
class Row:
    name: str
    rate: float
    cpu_ms: float
    agree: float
    per_label: dict[str, float]
    stance: float
    max_diff: float
    cosine: float
    bitwise: bool


def load_posts(limit: int) -> tuple[list[str], list[str], str]:
    """(test posts, calibration posts, where they came from)."""
    from monitor.classify import data

    try:
        test = (
            data.tweeteval("hate", "test").texts
            + data.tweeteval("offensive", "test").texts
            + data.rumoureval("test").texts
        )
        train = (
            data.tweeteval("hate", "train").texts[:400]
            + data.tweeteval("offensive", "train").texts[:400]
            + data.rumoureval("traindev").texts[:400]
        )
        source = "TweetEval hate+offensive test, RumourEval test (../shared/data)"
    except data.DataMissing:
        from monitor.classify.bias import load_cases

        cases = [c.text for c in load_cases()]
        test, train = cases[::2], cases[1::2]
        source = "fictional bias-suite posts (shared data absent)"
    test = list(dict.fromkeys(test))
    if limit > 0:
        test = test[:limit]
    seen = set(test)
    calib = [t for t in dict.fromkeys(train) if t not in seen][:CALIBRATION_POSTS]
    return test, calib, source


def token_batches(tokenizer: Any, texts: Sequence[str]) -> list[dict[str, Any]]:
    """Calibration inputs as the serving path batches them: rows of one padded length."""
    from monitor.classify.ort_encoder import padded_length

    ids = [e.ids for e in tokenizer.encode_batch(list(texts))]
    groups: dict[int, list[list[int]]] = {}
    for x in ids:
        groups.setdefault(padded_length(len(x), 128), []).append(x)
    batches = []
    for length, rows in sorted(groups.items()):
        for start in range(0, len(rows), 32):
            chunk = rows[start : start + 32]
            input_ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.int64)
            for r, x in enumerate(chunk):
                input_ids[r, : len(x)] = x
                mask[r, : len(x)] = 1
            batches.append({"input_ids": input_ids, "attention_mask": mask})
    return batches


def linear_nodes(model: Any) -> list[str]:
    weights = {i.name for i in model.graph.initializer}
    return [
        n.name
        for n in model.graph.node
        if n.op_type == "MatMul" and n.input[1] in weights and ATTENTION_PRODUCT not in n.name
    ]


def smooth(src: Path, dst: Path, batches: list[dict[str, Any]], alpha: float) -> None:
    """SmoothQuant: X W = (X / s)(s W) with s_j = max|X_j|^a / max|W_j|^(1-a), per input
    channel j of each linear layer's input (layers reading the same tensor share s). The
    division is a Mul node before them; fp32 results change only by rounding."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    inits = {i.name: i for i in model.graph.initializer}
    groups: dict[str, list[Any]] = {}
    names = set(linear_nodes(model))
    for node in model.graph.node:
        if node.name in names:
            groups.setdefault(node.input[0], []).append(node)
    probe = onnx.load(str(src))
    for x in groups:
        probe.graph.output.append(helper.make_tensor_value_info(x, TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(
        probe.SerializeToString(), opts, providers=["CPUExecutionProvider"]
    )
    inputs = list(groups)
    amax: dict[str, FloatArray] = {}
    for batch in batches:
        # Real tokens only: padded positions are never pooled, so they should not set a scale.
        keep = batch["attention_mask"].reshape(-1).astype(bool)
        for name, value in zip(inputs, session.run(inputs, batch), strict=True):
            rows = np.abs(value.reshape(-1, value.shape[-1])[keep]).max(axis=0)
            amax[name] = np.maximum(amax[name], rows) if name in amax else rows
    for x, readers in groups.items():
        weights = [numpy_helper.to_array(inits[n.input[1]]) for n in readers]
        wmax = np.max([np.abs(w).max(axis=1) for w in weights], axis=0)
        s = (np.maximum(amax[x], 1e-5) ** alpha / np.maximum(wmax, 1e-5) ** (1 - alpha)).astype(
            np.float32
        )
        scale_name = f"{x}_smooth_inverse"
        model.graph.initializer.append(numpy_helper.from_array(1.0 / s, scale_name))
        smoothed = f"{x}_smoothed"
        # Just before its first reader: x is made earlier, so the graph stays in order.
        first = [n.name for n in model.graph.node].index(readers[0].name)
        model.graph.node.insert(
            first, helper.make_node("Mul", [x, scale_name], [smoothed], name=f"{x}_smooth")
        )
        for node, w in zip(readers, weights, strict=True):
            node.input[0] = smoothed
            inits[node.input[1]].CopyFrom(numpy_helper.from_array(w * s[:, None], node.input[1]))
    onnx.save(model, str(dst))


def quantise_static(
    src: Path, dst: Path, batches: list[dict[str, Any]], keep: Callable[[str], bool]
) -> int:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    chosen = [n for n in linear_nodes(onnx.load(str(src))) if keep(n)]

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self) -> dict[str, Any] | None:
            return next(self._it, None)

    quantize_static(
        str(src),
        str(dst),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_quantize=chosen,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
    )
    return len(chosen)


def quantise_dynamic(src: Path, dst: Path) -> int:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    chosen = linear_nodes(onnx.load(str(src)))
    quantize_dynamic(
        str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True, nodes_to_quantize=chosen
    )
    return len(chosen)


def ort_encode(path: Path, threads: int, one_row: bool) -> Callable[[list[str]], Any]:
    from monitor.classify.encoder import base_model_path
    from monitor.classify.export import ExportedGraph
    from monitor.classify.lora import POOLS_WITH_ADAPTER
    from monitor.classify.ort_encoder import OrtEncoder

    layers = tuple(range(POOLS_WITH_ADAPTER))
    graph = ExportedGraph(path, "", "", "study", POOLS_WITH_ADAPTER)
    enc = OrtEncoder(graph, base_model_path(), threads=threads, layers=layers)
    if not one_row:
        return lambda texts: enc.encode(texts, clean=False)

    def rows(texts: list[str]) -> Any:
        from monitor.classify.encoder import Encoded

        parts = [enc.encode([t], clean=False) for t in texts]
        return Encoded(
            np.concatenate([p.features for p in parts]),
            np.concatenate([p.embeddings for p in parts]),
        )

    return rows


def torch_encode(threads: int, bf16: bool) -> Callable[[list[str]], Any]:
    import torch

    from monitor.classify.encoder import Encoder
    from monitor.classify.lora import POOLS_WITH_ADAPTER
    from monitor.classify.manifest import load_model_dir

    torch.set_num_threads(threads)
    enc = Encoder(
        device="cpu",
        layers=tuple(range(POOLS_WITH_ADAPTER)),
        adapter=load_model_dir(MODEL).adapter,
    )
    if bf16:
        enc.model = enc.model.to(torch.bfloat16)
        enc.top = enc.top.to(torch.bfloat16)
    return lambda texts: enc.encode(texts, clean=False)


def op_shares(path: Path, batches: list[dict[str, Any]], top: int = 5) -> str:
    """The operator types taking most of one thread's kernel time (ONNX Runtime's profiler):
    how much a faster MatMul alone could save (Amdahl)."""
    import json
    from collections import Counter

    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.enable_profiling = True
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    with tempfile.TemporaryDirectory(prefix="precision-profile-") as tmp:
        opts.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        for batch in batches:
            session.run(None, batch)
        events = json.loads(Path(session.end_profiling()).read_text(encoding="utf-8"))
    spent: Counter[str] = Counter()
    for e in events:
        if e.get("cat") == "Node" and str(e.get("name", "")).endswith("_kernel_time"):
            spent[str(e["args"]["op_name"])] += int(e["dur"])
    total = sum(spent.values()) or 1
    return ", ".join(f"{op} {100 * t / total:.0f}%" for op, t in spent.most_common(top))


def scores(heads: Any, features: FloatArray, texts: Sequence[str]) -> list[dict[str, float]]:
    width = 384
    pools = {i: features[:, i * width : (i + 1) * width] for i in range(features.shape[1] // 384)}
    result: list[dict[str, float]] = heads.score(pools, texts)
    return result


def measure(
    name: str,
    run: Callable[[list[str]], Any],
    prepared: list[str],
    texts: list[str],
    heads: Any,
    thresholds: dict[str, float],
    reference: tuple[list[dict[str, float]], FloatArray] | None,
) -> tuple[Row, list[dict[str, float]], FloatArray]:
    run(prepared[:32])  # warm-up: first-run allocations are not the path's cost
    t0, c0 = time.perf_counter(), time.process_time()
    out = run(prepared)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    ours = scores(heads, out.features, texts)
    ref_scores, ref_emb = reference if reference else (ours, out.embeddings)

    def flags(s: dict[str, float]) -> frozenset[str]:
        return frozenset(k for k in FLAGS if s[k] >= thresholds[k])

    def stance(s: dict[str, float]) -> str:
        keys = [k for k in s if k.startswith("stance_")]
        return max(keys, key=lambda k: s[k] / thresholds[k])

    n = len(texts)
    pairs = list(zip(ours, ref_scores, strict=True))
    sample = prepared[:48]
    alone = np.concatenate([run([t]).features for t in sample])
    order = list(range(len(sample)))
    random.Random(16).shuffle(order)
    mixed = run([sample[i] for i in order]).features
    back = np.zeros_like(mixed)
    back[order] = mixed
    row = Row(
        name=name,
        rate=n / wall,
        cpu_ms=1000 * cpu / n,
        agree=sum(flags(a) == flags(b) for a, b in pairs) / n,
        per_label={
            k: sum((a[k] >= thresholds[k]) == (b[k] >= thresholds[k]) for a, b in pairs) / n
            for k in FLAGS
        },
        stance=sum(stance(a) == stance(b) for a, b in pairs) / n,
        max_diff=max(abs(a[k] - b[k]) for a, b in pairs for k in FLAGS),
        cosine=float(np.mean(np.sum(out.embeddings * ref_emb, axis=1))),
        bitwise=bool(np.array_equal(alone, back)),
    )
    return row, ours, out.embeddings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--posts", type=int, default=0, help="first N test posts; 0: all")
    ap.add_argument("--threads", type=int, default=0, help="threads; 0: one per core")
    ap.add_argument("--torch", action="store_true", help="also PyTorch fp32 and bf16")
    args = ap.parse_args()

    from monitor.classify.deobfuscate import deobfuscates, encoder_text
    from monitor.classify.encoder import base_model_path
    from monitor.classify.export import default_cache_dir, ensure_graph
    from monitor.classify.manifest import load_model_dir, sha256_file
    from monitor.classify.ort_encoder import load_tokenizer

    threads = args.threads if args.threads > 0 else len(os.sched_getaffinity(0))
    model = load_model_dir(MODEL)
    deob = deobfuscates(model.manifest)
    texts, calib, source = load_posts(args.posts)
    prepared = [encoder_text(t, deob) for t in texts]
    base = base_model_path()
    graph = ensure_graph(
        base, default_cache_dir(), sha256_file(base / "model.safetensors"), model.adapter
    )
    batches = token_batches(load_tokenizer(base, 128), [encoder_text(t, deob) for t in calib])
    load_before = os.getloadavg()
    print(
        f"posts: {len(texts)} distinct ({source}); calibration: {len(calib)} training posts; "
        f"threads: {threads}"
    )
    thresholds = model.all_thresholds
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="precision-") as tmp:
        work = Path(tmp)
        smoothed = work / "smoothed.onnx"
        smooth(graph.path, smoothed, batches, SMOOTH_ALPHA)
        built: list[tuple[str, Path, bool]] = [("ONNX Runtime fp32 (serving)", graph.path, False)]
        for label, src, keep in (
            ("int8 static, every linear layer", graph.path, lambda n: True),
            ("int8 static + SmoothQuant, every linear layer", smoothed, lambda n: True),
            (
                "int8 static + SmoothQuant, FFN output in fp32",
                smoothed,
                lambda n: not FFN_OUT.search(n),
            ),
            (
                "int8 static, attention output only",
                graph.path,
                lambda n: bool(ATTENTION_OUT.search(n)),
            ),
        ):
            dst = work / f"static-{len(built)}.onnx"
            count = quantise_static(src, dst, batches, keep)
            built.append((f"{label} ({count})", dst, False))
        dynamic = work / "dynamic.onnx"
        count = quantise_dynamic(graph.path, dynamic)
        built.append((f"int8 dynamic, one row at a time ({count})", dynamic, True))

        profiled = token_batches(load_tokenizer(base, 128), prepared[:640])
        shares = [(label, op_shares(path, profiled)) for label, path, _ in built[:2]]
        reference: tuple[list[dict[str, float]], FloatArray] | None = None
        for label, path, one_row in built:
            row, ours, emb = measure(
                label,
                ort_encode(path, threads, one_row),
                prepared,
                texts,
                model.heads,
                thresholds,
                reference,
            )
            reference = reference or (ours, emb)
            rows.append(row)
            print(f"  measured {label}: {row.cpu_ms:.2f} ms CPU a post", flush=True)
    if args.torch:
        for label, bf16 in (("PyTorch fp32, sorted batches", False), ("PyTorch bf16", True)):
            row, _, _ = measure(
                label,
                torch_encode(threads, bf16),
                prepared,
                texts,
                model.heads,
                thresholds,
                reference,
            )
            rows.append(row)
            print(f"  measured {label}: {row.cpu_ms:.2f} ms CPU a post", flush=True)
    load_after = os.getloadavg()

    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"({os.cpu_count()} CPUs)"
    )
    print()
    base_cpu = rows[0].cpu_ms
    head = (
        f"{'encoder':<52} {'posts/s':>7} {'CPU ms':>7} {'less CPU':>8} {'flags':>6} "
        f"{'hostile':>7} {'offens.':>7} {'rumour':>7} {'stance':>6} {'max diff':>8} "
        f"{'cosine':>7} {'bitwise':>7}"
    )
    print(head)
    for r in rows:
        print(
            f"{r.name:<52} {r.rate:>7.1f} {r.cpu_ms:>7.2f} {base_cpu / r.cpu_ms:>7.2f}x "
            f"{r.agree:>6.4f} {r.per_label['hostile']:>7.4f} {r.per_label['offensive']:>7.4f} "
            f"{r.per_label['rumour']:>7.4f} {r.stance:>6.4f} {r.max_diff:>8.3f} "
            f"{r.cosine:>7.4f} {'yes' if r.bitwise else 'no':>7}"
        )
    print()
    print(
        f"flags: share of posts whose three flags all equal fp32's (aim {AIM_AGREEMENT}); "
        "less CPU: the serving graph's CPU per post over this one's, same run (about "
        f"{AIM_CPU_RATIO}x would be needed for 400 posts/s on two cores); bitwise: 48 posts' "
        "features alone equal those in a shuffled batch"
    )
    print(
        "where one thread's kernel time goes (ONNX Runtime profiler, "
        f"{min(640, len(prepared))} posts):"
    )
    for label, share in shares:
        print(f"  {label}: {share}")
    both = [
        r.name
        for r in rows[1:]
        if r.agree >= AIM_AGREEMENT and base_cpu / r.cpu_ms >= AIM_CPU_RATIO and r.bitwise
    ]
    print(
        "candidates meeting agreement, speed and reproducibility together: "
        + (", ".join(both) if both else "none")
    )


if __name__ == "__main__":
    main()
