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
    """Sorting by length changes padding only: scores agree within 1e-3 (fp32) / 0.02 (int8,
    whose activation scales depend on the batch)."""
    clf = request.getfixturevalue(which)
    texts = POSTS * 3
    enc = clf.encoder
    a = enc.encode(texts, sort=True)
    b = enc.encode(texts, sort=False)
    tol = 0.02 if enc.quantized else 1e-3
    assert np.abs(a.embeddings - b.embeddings).max() < tol
    width = 384
    sa = clf.heads.score(
        {lay: a.features[:, j * width : (j + 1) * width] for j, lay in enumerate(enc.layers)}, texts
    )
    sb = clf.heads.score(
        {lay: b.features[:, j * width : (j + 1) * width] for j, lay in enumerate(enc.layers)}, texts
    )
    for x, y in zip(sa, sb, strict=True):
        assert max(abs(x[k] - y[k]) for k in x) < tol * 2


async def test_int8_scores_stay_close_to_fp32(transformer: Any, transformer_fp32: Any) -> None:
    q = await transformer.score(POSTS)
    f = await transformer_fp32.score(POSTS)
    worst = max(abs(a[k] - b[k]) for a, b in zip(q, f, strict=True) for k in a)
    assert worst < 0.15  # the model card states the measured tolerance over ~10k posts
