"""Readers of the shared labelled data: the pitfalls the data README warns about."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from monitor.classify import data


def test_tweeteval_keeps_empty_posts_in_line_with_labels(shared_data: Path) -> None:
    d = data.tweeteval("hate", "train", shared_data)
    assert len(d.texts) == len(d.labels) == 9000
    assert sum(1 for t in d.texts if t == "") == 7


def test_pheme_events_recovered_from_tweet_ids(shared_data: Path) -> None:
    d = data.pheme(shared_data)
    counts = Counter(d.groups)
    assert len(d.texts) == 4181
    assert set(counts) == {name for name, _, _ in data.PHEME_EVENTS}
    assert counts["charliehebdo"] == 1710


def test_rumoureval_stance_mapping_matches_the_texts(shared_data: Path) -> None:
    d = data.rumoureval("test", shared_data)
    q = data.STANCES.index("query")
    queries = [t for t, y in zip(d.texts, d.labels, strict=True) if y == q]
    others = [t for t, y in zip(d.texts, d.labels, strict=True) if y != q]
    # Queries ask: most carry a question mark, far more than the rest do.
    assert sum("?" in t for t in queries) / len(queries) > 0.7
    assert sum("?" in t for t in others) / len(others) < 0.3
