"""The keyword classifier: the fallback and the fast tests' stand-in. Weak, but honest."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from monitor.classify import KeywordClassifier, load_classifier
from monitor.classify.keyword import EMBEDDING_DIM
from monitor.classify.labels import LABELS
from monitor.config import ConfigError, Settings


async def test_every_label_scored_in_unit_interval() -> None:
    clf = KeywordClassifier()
    texts = ["", "Lovely day in Keighley", "Refugees are vermin, send them back", "Is this true?"]
    for scores in await clf.score(texts):
        assert set(scores) == set(LABELS)
        assert all(0.0 <= v <= 1.0 for v in scores.values())


async def test_flags_dehumanising_post_but_not_its_rebuttal() -> None:
    clf = KeywordClassifier()
    hostile, rebuttal = await clf.score(
        [
            "Fictional: they are vermin, kick them out of Dewsbury",
            "Fictional: calling neighbours vermin is a lie and hateful, stop spreading it",
        ]
    )
    t = clf.thresholds["hostile"]
    assert hostile["hostile"] >= t
    assert rebuttal["hostile"] < t
    assert rebuttal["stance_deny"] == max(v for k, v in rebuttal.items() if k.startswith("stance"))


async def test_rumour_marker_flags_rumour_and_question_reads_as_query() -> None:
    clf = KeywordClassifier()
    rumour, query = await clf.score(
        ["Apparently the school in Batley is closing, share before it gets deleted", "Source?"]
    )
    assert rumour["rumour"] >= clf.thresholds["rumour"]
    assert query["stance_query"] > query["stance_support"]


async def test_embeddings_are_fixed_size_unit_and_deterministic() -> None:
    clf = KeywordClassifier()
    a, b, c = await clf.analyse(
        ["Bins not collected in Idle", "Bins not collected in Idle", "Festival in Marsden"]
    )
    assert len(a.embedding) == EMBEDDING_DIM == 384
    assert math.isclose(sum(x * x for x in a.embedding), 1.0, rel_tol=1e-9)
    assert list(a.embedding) == list(b.embedding)
    same = sum(x * y for x, y in zip(a.embedding, b.embedding, strict=True))
    other = sum(x * y for x, y in zip(a.embedding, c.embedding, strict=True))
    assert same > other


async def test_load_classifier_honours_the_setting(tmp_path: Path) -> None:
    assert isinstance(load_classifier(Settings(classifier="keyword")), KeywordClassifier)
    # 'auto' with no trained heads in the home is a deployment mistake: it refuses, saying how
    # to choose the weak keyword classifier on purpose, rather than quietly falling back to it.
    with pytest.raises(ConfigError, match="classifier = keyword"):
        load_classifier(Settings(classifier="auto"), home=tmp_path)
