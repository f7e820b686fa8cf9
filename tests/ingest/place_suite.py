"""Scores the place matcher on the fictional suite in tests/fixtures/places/suite.yaml, per
phenomenon, and times it on the demo week's posts.

    .venv/bin/python -m tests.ingest.place_suite          # the table and the timing

A post is scored by the areas it would be counted for, each named place reduced to its most
specific area (ward, else locality, else district), and an area dropped when a more specific one
found in the same post lies inside it ("Manningham, Bradford" counts for Manningham).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.config import Settings
from monitor.ingest.places import PlaceMatcher
from monitor.types import PlaceMatch

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "tests" / "fixtures" / "places" / "suite.yaml"
DEMO_POSTS = ROOT / "monitor" / "data" / "demo" / "bradford-scenario.jsonl"


@dataclass(frozen=True, slots=True)
class Case:
    phenomenon: str
    text: str
    areas: frozenset[str]


@dataclass(slots=True)
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    posts: int = 0
    right: int = 0  # posts whose areas are exactly the expected ones
    wrong: list[tuple[str, list[str], list[str]]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def load_cases(path: Path = SUITE) -> list[Case]:
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Case(c["p"], c["text"], frozenset(c["areas"])) for c in raw["cases"]]


def areas(matches: Iterable[PlaceMatch]) -> frozenset[str]:
    """The most specific areas the matches stand for, without those implied by others."""
    found = list(matches)
    out: set[str] = set()
    for m in found:
        if m.ward:
            out.add(f"ward:{m.ward}")
        elif m.locality:
            out.add(f"locality:{m.locality}")
        else:
            out.add(f"district:{m.district}")
    inner_localities = {m.locality for m in found if m.ward and m.locality}
    inner_districts = {m.district for m in found if m.ward or m.locality}
    return frozenset(
        a
        for a in out
        if not (a.startswith("locality:") and a.partition(":")[2] in inner_localities)
        and not (a.startswith("district:") and a.partition(":")[2] in inner_districts)
    )


def score(matcher: PlaceMatcher, cases: Sequence[Case]) -> dict[str, Score]:
    scores: dict[str, Score] = {}
    for case in cases:
        s = scores.setdefault(case.phenomenon, Score())
        got = areas(matcher.match(case.text))
        s.posts += 1
        s.tp += len(got & case.areas)
        s.fp += len(got - case.areas)
        s.fn += len(case.areas - got)
        if got == case.areas:
            s.right += 1
        else:
            s.wrong.append((case.text, sorted(case.areas), sorted(got)))
    return scores


def default_matcher() -> PlaceMatcher:
    return PlaceMatcher.from_settings(Settings(places="bradford,kirklees"), ROOT)


def demo_texts() -> list[str]:
    with DEMO_POSTS.open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def time_per_post(matcher: PlaceMatcher, texts: Sequence[str], rounds: int = 20) -> float:
    """Microseconds per post, the best of `rounds` passes over `texts`."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for t in texts:
            matcher.match(t)
        best = min(best, time.perf_counter() - start)
    return best / len(texts) * 1e6


def main() -> None:
    matcher = default_matcher()
    scores = score(matcher, load_cases())
    print(f"{'phenomenon':<10} {'posts':>5} {'right':>5} {'tp':>4} {'fp':>4} {'fn':>4} "
          f"{'precision':>9} {'recall':>6}")  # fmt: skip
    total = Score()
    for name, s in scores.items():
        print(f"{name:<10} {s.posts:>5} {s.right:>5} {s.tp:>4} {s.fp:>4} {s.fn:>4} "
              f"{s.precision:>9.2f} {s.recall:>6.2f}")  # fmt: skip
        total.posts += s.posts
        total.right += s.right
        total.tp, total.fp, total.fn = total.tp + s.tp, total.fp + s.fp, total.fn + s.fn
    print(f"{'all':<10} {total.posts:>5} {total.right:>5} {total.tp:>4} {total.fp:>4} "
          f"{total.fn:>4} {total.precision:>9.2f} {total.recall:>6.2f}")  # fmt: skip
    for name, s in scores.items():
        for text, want, got in s.wrong:
            print(f"  [{name}] {text!r}: want {want}, got {got}")
    texts = demo_texts()
    found = sum(bool(matcher.match(t)) for t in texts)
    print(f"demo posts: {len(texts)}, with a place: {found}, "
          f"{time_per_post(matcher, texts):.1f} µs a post")  # fmt: skip


if __name__ == "__main__":
    main()
