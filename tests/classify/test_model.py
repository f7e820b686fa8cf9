"""The real encoder and the shipped heads (marked `model`; CI runs them)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from monitor.classify.labels import FLAG_LABELS, LABELS

pytestmark = pytest.mark.model

POSTS = [
    "Fictional: the road by Lister Park is closed until Friday.",
    "Fictional: apparently the council is shutting every library in Keighley, pass it on!!",
    "Fictional: @someone is that true? Where did you hear it?",
    "Fictional: no, that's false, the council says the libraries stay open.",
    "",
    "Fictional: " + "a much longer post about the bin collections and the bus routes " * 12,
]


async def test_scores_cover_every_label_in_unit_interval(transformer: Any) -> None:
    scores = await transformer.score(POSTS)
    assert len(scores) == len(POSTS)
    for s in scores:
        assert set(s) == set(LABELS)
        assert all(0.0 <= v <= 1.0 for v in s.values())
        stance = sum(v for k, v in s.items() if k.startswith("stance_"))
        assert math.isclose(stance, 1.0, abs_tol=1e-4)
    assert set(transformer.thresholds) == set(FLAG_LABELS)  # stance is decided, not flagged
    assert set(transformer.stance_thresholds) == set(LABELS) - set(FLAG_LABELS)


async def test_one_forward_pass_gives_scores_and_embedding(transformer: Any) -> None:
    calls: list[int] = []
    encode = transformer.encoder.encode

    def counting(texts: list[str], **kw: Any) -> Any:
        calls.append(len(texts))
        return encode(texts, **kw)

    transformer.encoder.encode = counting
    transformer.cache.clear()  # earlier tests may have scored these texts already
    try:
        analyses = await transformer.analyse(POSTS[:4])
    finally:
        transformer.encoder.encode = encode
    assert calls == [4]  # one encoder call for the batch: scores and embeddings both from it
    for a in analyses:
        assert len(a.embedding) == 384
        assert math.isclose(float(np.linalg.norm(a.embedding)), 1.0, abs_tol=1e-4)
        assert set(a.scores) == set(LABELS)


async def test_embedding_matches_sentence_transformers(transformer_fp32: Any) -> None:
    """The fp32 embedding is all-MiniLM-L6-v2's own (mean pooled, normalised)."""
    from sentence_transformers import SentenceTransformer

    from monitor.classify.encoder import base_model_path, preprocess

    st = SentenceTransformer(str(base_model_path()), device="cpu")
    texts = [p for p in POSTS[:4]]
    ref = st.encode([preprocess(t) for t in texts], normalize_embeddings=True)
    ours = np.array([a.embedding for a in await transformer_fp32.analyse(texts)])
    assert np.abs(ours - ref).max() < 1e-4


@pytest.mark.parametrize("which", ["transformer", "transformer_fp32"])
def test_sorted_batches_score_like_unsorted(which: str, request: pytest.FixtureRequest) -> None:
    """Sorting by length changes padding only: the fp32 paths agree within 1e-6."""
    clf = request.getfixturevalue(which)
    texts = POSTS * 3
    enc = clf.encoder
    a = enc.encode(texts, sort=True)
    b = enc.encode(texts, sort=False)
    assert np.abs(a.embeddings - b.embeddings).max() < 1e-6
    assert np.abs(a.features - b.features).max() < 1e-5


async def test_serving_path_matches_pytorch_fp32(transformer: Any, transformer_fp32: Any) -> None:
    """ONNX Runtime serves the same model: features and scores as PyTorch fp32 gives them."""
    texts = POSTS[:4] + POSTS[5:]
    a = transformer.encoder.encode(texts)
    b = transformer_fp32.encoder.encode(texts)
    assert np.abs(a.features - b.features).max() < 1e-4
    q = transformer.analyse_sync(texts)
    f = transformer_fp32.analyse_sync(texts)
    worst = max(abs(x.scores[k] - y.scores[k]) for x, y in zip(q, f, strict=True) for k in x.scores)
    assert worst < 1e-4


async def test_int8_scores_stay_close_to_fp32(transformer_int8: Any, transformer_fp32: Any) -> None:
    q = await transformer_int8.score(POSTS)
    f = await transformer_fp32.score(POSTS)
    worst = max(abs(a[k] - b[k]) for a, b in zip(q, f, strict=True) for k in a)
    assert worst < 0.15  # the model card states the measured tolerance over ~10k posts
