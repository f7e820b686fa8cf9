"""A small deterministic lexicon classifier with the same protocol as the transformer one.

It exists for fast tests and as a fallback on machines without torch or trained heads. It is
WEAK: it matches a few dozen phrases, has no idea of negation beyond a handful of rebuttal
markers, misses anything phrased differently and flags quotations of abuse. Its figures are
not published as the project's; never run a real deployment on it.

Its embedding is a hashed bag of words (384 dimensions, unit length), so that rumour
clustering can run: posts sharing words end up close, which is enough for tests.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence

from monitor.classify.labels import HOSTILE, LABELS, OFFENSIVE, RUMOUR
from monitor.types import Analysis, Scores

EMBEDDING_DIM = 384

_WORD = re.compile(r"[a-z0-9']+")

# Phrases that dehumanise or call for exclusion of a group. Deliberately short.
HOSTILE_TERMS: tuple[str, ...] = (
    "vermin",
    "parasites",
    "invaders",
    "cockroaches",
    "subhuman",
    "scum",
    "filth",
    "send them back",
    "send them all back",
    "go back to where",
    "kick them out",
    "get rid of them",
    "get them out",
    "don't belong here",
    "do not belong here",
    "not welcome here",
    "should be deported",
    "deport them",
    "breed like",
    "infest",
)
OFFENSIVE_TERMS: tuple[str, ...] = (
    "fuck",
    "fucking",
    "shit",
    "bastard",
    "bitch",
    "twat",
    "wanker",
    "idiot",
    "moron",
    "stupid",
    "scum",
    "dickhead",
    "piss off",
    "crap",
)
RUMOUR_TERMS: tuple[str, ...] = (
    "apparently",
    "i heard",
    "heard that",
    "rumour",
    "rumor",
    "reports say",
    "reportedly",
    "unconfirmed",
    "allegedly",
    "they say",
    "people are saying",
    "share before",
    "before it gets deleted",
    "they don't want you to know",
    "breaking",
    "my mate said",
    "word is",
    "spread the word",
)
DENY_TERMS: tuple[str, ...] = (
    "not true",
    "isn't true",
    "is false",
    "fake",
    "hoax",
    "debunked",
    "no evidence",
    "made up",
    "didn't happen",
    "did not happen",
    "lie",
    "lies",
    "misinformation",
    "nonsense",
    "stop spreading",
    "makesureitaddsup",
)
QUERY_TERMS: tuple[str, ...] = (
    "is this true",
    "is that true",
    "source",
    "any evidence",
    "proof",
    "really",
    "can anyone confirm",
)
SUPPORT_TERMS: tuple[str, ...] = (
    "confirmed",
    "it's true",
    "it is true",
    "true",
    "can confirm",
    "saw it myself",
    "i saw",
)


def _normalise(text: str) -> str:
    return " ".join(_WORD.findall(text.lower().replace("\u2019", "'")))


def _count(text: str, terms: Sequence[str]) -> int:
    padded = f" {text} "
    return sum(1 for t in terms if f" {t} " in padded)


def _squash(hits: int, scale: float = 1.0) -> float:
    """0 hits -> 0.05, one -> about 0.6, two or more -> towards 1."""
    return round(1.0 - 0.95 * math.exp(-scale * hits), 4)


def hashed_embedding(text: str, dim: int = EMBEDDING_DIM) -> list[float]:
    """A unit-length hashed bag of words (blake2b, so the same on every run and machine)."""
    vec = [0.0] * dim
    for word in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
        h = int.from_bytes(digest, "little")
        vec[h % dim] += 1.0 if (h >> 32) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec))
    return [v / norm for v in vec] if norm else vec


def keyword_scores(text: str) -> Scores:
    t = _normalise(text)
    deny = _count(t, DENY_TERMS)
    query = _count(t, QUERY_TERMS) + (1 if "?" in text else 0)
    support = _count(t, SUPPORT_TERMS)
    rumour_hits = _count(t, RUMOUR_TERMS)
    hostile_hits = _count(t, HOSTILE_TERMS)
    # A rebuttal that quotes the claim or the slur is counter-speech, not the thing itself.
    rebuttal = deny > 0
    stance = {
        "stance_support": 1.0 + 2.0 * support,
        "stance_deny": 0.5 + 2.5 * deny,
        "stance_query": 0.5 + 2.0 * query,
        "stance_comment": 1.5,
    }
    total = sum(stance.values())
    scores: Scores = {
        HOSTILE: _squash(0 if rebuttal else hostile_hits),
        OFFENSIVE: _squash(_count(t, OFFENSIVE_TERMS)),
        RUMOUR: _squash(0 if rebuttal else rumour_hits),
    }
    for label, weight in stance.items():
        scores[label] = round(weight / total, 4)
    return {k: scores[k] for k in LABELS}


class KeywordClassifier:
    """The lexicon classifier. Deterministic; no model files; runs inline (it is cheap)."""

    name = "keyword-v1"

    def __init__(self, thresholds: Mapping[str, float] | None = None) -> None:
        defaults = {HOSTILE: 0.5, OFFENSIVE: 0.5, RUMOUR: 0.5}
        self.thresholds: Mapping[str, float] = dict(thresholds or defaults)
        # An English lexicon: posts detected in other languages are left unscored.
        self.covered_languages: frozenset[str] = frozenset({"en"})
        self.stance_thresholds: Mapping[str, float] = {}

    async def score(self, texts: Sequence[str]) -> list[Scores]:
        return [keyword_scores(t) for t in texts]

    async def analyse(self, texts: Sequence[str]) -> list[Analysis]:
        return [Analysis(keyword_scores(t), hashed_embedding(t)) for t in texts]

    async def close(self) -> None:
        return None
