"""Ingest speed: place matching, the whole per-post ingest, and parsing an import file.

Baseline, measured in the same run: place matching the obvious way, one compiled
word-bounded regex per gazetteer name tried in turn (same names, same answers for these posts).

    .venv/bin/python benchmarks/ingest_places.py [--posts 20000]

Aim: place matching well over 10,000 posts/s on one core, so that it is never what limits
intake; the whole ingest (with language detection) several thousand posts/s.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.privacy.postids import PostIds

IDS = PostIds(b"i" * 32)  # fictional post id key
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.config import Settings  # noqa: E402
from monitor.ingest.core import Ingestor  # noqa: E402
from monitor.ingest.places import PlaceMatcher  # noqa: E402
from monitor.ingest.replay import iter_records  # noqa: E402
from monitor.types import RawPost  # noqa: E402

NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
WORDS = (
    "the a road police people council school bus park night morning crowd heard anyone "
    "know what happened near today again really this is not true share before you check "
    "video posted claims rumour says community meeting tonight stay safe everyone local "
    "news update traffic closed shop fire sirens helicopter market mosque church temple"
).split()
PLACES = [
    "Girlington", "Manningham", "Lidget Green", "Holme Wood", "City Park", "Keighley",
    "Dewsbury", "Savile Town", "Huddersfield", "Bradford Moor", "Heaton", "Batley",
]  # fmt: skip


def fictional_texts(n: int, seed: int = 7) -> list[str]:
    """Post-like texts of 5 to 60 words; about a third name a place."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = rng.choices(WORDS, k=rng.randint(5, 60))
        if rng.random() < 0.35:
            words.insert(rng.randrange(len(words)), rng.choice(PLACES))
        out.append(" ".join(words))
    return out


class NaiveMatcher:
    """The baseline: every name its own regex, tried one after another."""

    def __init__(self, matcher: PlaceMatcher) -> None:
        self.patterns = [
            (re.compile(rf"\b{re.escape(n.text)}\b", re.IGNORECASE), n.place)
            for g in matcher.gazetteers
            for n in g.names
            if n.place is not None
        ]

    def match(self, text: str) -> list[str]:
        return [place.id for pattern, place in self.patterns if pattern.search(text)]


def rate(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=20000)
    args = ap.parse_args()
    n = args.posts
    texts = fictional_texts(n)

    matcher = PlaceMatcher.from_settings(Settings(), ROOT)
    naive = NaiveMatcher(matcher)
    names = sum(len(g.names) for g in matcher.gazetteers)
    # Same answers on the places both can see (the baseline has no longest-match rule).
    for t in texts[:500]:
        assert {m.place_id for m in matcher.match(t)} <= set(naive.match(t)), t

    trie_rate = rate(lambda: [matcher.match(t) for t in texts], n)
    naive_rate = rate(lambda: [naive.match(t) for t in texts], n)

    ingestor = Ingestor(matcher, max_text_chars=5000)
    raws = [
        RawPost("bluesky", f"p{i}", t, NOW - timedelta(seconds=i), author_id=f"did:plc:f{i % 900}")
        for i, t in enumerate(texts)
    ]
    key = bytes(32)
    ingestor.ingest(raws[0], key, NOW, ids=IDS)  # load the language model outside the timing
    ingest_rate = rate(lambda: [ingestor.ingest(r, key, NOW, ids=IDS) for r in raws], n)
    no_lang = Ingestor(matcher, max_text_chars=5000, detect=lambda text, declared: declared)
    no_lang_rate = rate(lambda: [no_lang.ingest(r, key, NOW, ids=IDS) for r in raws], n)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "posts.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for r in raws:
                record = {
                    "platform": r.platform,
                    "id": r.native_id,
                    "text": r.text,
                    "created_at": r.created_at.isoformat(),
                    "author": r.author_id,
                }
                fh.write(json.dumps(record) + "\n")
        parse_rate = rate(lambda: sum(1 for _ in iter_records(path)), n)

    print(f"{n:,} fictional posts, {names} gazetteer names, one core\n")
    print(f"| {'stage':<56} | {'posts/s':>10} |")
    print(f"|{'-' * 58}|{'-' * 12}|")
    rows = [
        ("place matching, one-regex-per-name baseline", naive_rate),
        ("place matching, PlaceMatcher (trie regex)", trie_rate),
        ("ingest, without language detection", no_lang_rate),
        ("ingest, whole (normalise, language, pseudonym, places)", ingest_rate),
        ("parse JSONL import file (iter_records)", parse_rate),
    ]
    for label, value in rows:
        print(f"| {label:<56} | {value:>10,.0f} |")
    print(f"\nPlaceMatcher vs baseline: {trie_rate / naive_rate:.1f}x faster")


if __name__ == "__main__":
    main()
