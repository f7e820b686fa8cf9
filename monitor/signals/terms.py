"""Pure: what a claim says, apart from where and what it is about.

Sentence embeddings (and hashed bag-of-words even more) put every post about one event close
together: "apparently the schools in Toller are shutting" and "apparently the tap water in
Toller is contaminated" share the place, the cue words and the event's topic. What tells two
claims apart is their *distinctive* words: the entities and predicates the claim asserts. Here
a post's claim terms are its content words without stop words and without the names of the
places it was matched to; each term is weighted by its inverse document frequency over the
last day of posts, so that an event's topic words (which nearly every post of that day uses)
count for little and the claim's own words count for much.

A cluster keeps how often each term occurs among its claim posts; a new claim's overlap with a
cluster is the IDF-weighted share of its terms that are typical of the cluster.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from monitor.signals.hashing import tokens

STOP = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further get got had has have having he her here hers him his how i if in into is
    it its itself just let me more most my no nor not now of off on once only or other our
    ours out over own same she should so some such than that the their theirs them then there
    these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours i'm it's that's there's they're we're
    don't dont isn't can't won't im its ive i've u ur rt via amp""".split()
)
HORIZON = timedelta(hours=24)
PRIOR_DOCS = 200
TYPICAL = 0.25  # share of a cluster's claims using a term from which it is fully typical


def claim_terms(text: str, place_words: Iterable[str] = ()) -> frozenset[str]:
    """Content words of a post, without stop words, numbers or its places' names."""
    places = {w for name in place_words for w in tokens(name)}
    return frozenset(
        w
        for w in tokens(text)
        if len(w) > 2 and w not in STOP and w not in places and not w.isdigit()
    )


class DocumentFrequency:
    """How many of the last day's posts use each term (event time, posts in time order)."""

    def __init__(self, horizon: timedelta = HORIZON) -> None:
        self.horizon = horizon
        self.df: Counter[str] = Counter()
        self._posts: deque[tuple[datetime, frozenset[str]]] = deque()

    def __len__(self) -> int:
        return len(self._posts)

    def add(self, at: datetime, terms: frozenset[str]) -> None:
        self._posts.append((at, terms))
        self.df.update(terms)
        cutoff = at - self.horizon
        while self._posts and self._posts[0][0] < cutoff:
            _, old = self._posts.popleft()
            self.df.subtract(old)
            for w in old:
                if self.df[w] <= 0:
                    del self.df[w]

    def hold(self, since: datetime) -> list[tuple[datetime, frozenset[str]]]:
        """Take out the posts dated at or after `since` (oldest first), so that claims wound
        back to then are judged with the words the posts before them used."""
        held = sorted((p for p in self._posts if p[0] >= since), key=lambda p: p[0])
        if held:
            self._posts = deque(p for p in self._posts if p[0] < since)
            for _, terms in held:
                self.df.subtract(terms)
            self.df = +self.df
        return held

    def put_back(self, posts: Iterable[tuple[datetime, frozenset[str]]]) -> None:
        """Return held posts (no expiry: they are newer than what is kept)."""
        for at, terms in posts:
            self._posts.append((at, terms))
            self.df.update(terms)

    def idf(self, term: str) -> float:
        """Smoothed with `PRIOR_DOCS` posts that use none of the terms: until a day's posts
        have been seen (a fresh start, a quiet place), every term weighs about the same."""
        return math.log((len(self._posts) + PRIOR_DOCS) / (self.df.get(term, 0) + 1))


class TermProfile:
    """How often each term occurs among a cluster's claim posts."""

    __slots__ = ("counts", "n")

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.n = 0

    def add(self, terms: Iterable[str]) -> None:
        self.counts.update(terms)
        self.n += 1

    def absorb(self, other: TermProfile) -> None:
        self.counts.update(other.counts)
        self.n += other.n

    def remove(self, terms: Iterable[str]) -> None:
        """Take one claim's terms back out (it left the cluster in a split)."""
        self.counts.subtract(terms)
        self.counts = +self.counts
        self.n = max(0, self.n - 1)

    def share(self, term: str) -> float:
        return self.counts.get(term, 0) / self.n if self.n else 0.0

    def overlap(self, terms: Iterable[str], df: DocumentFrequency) -> float:
        """IDF-weighted share of `terms` that are typical of this cluster (0..1). A term
        counts fully once a `TYPICAL` share of the cluster's claims use it: a claim told in
        five wordings spreads its own words over the variants, and no one variant is the
        claim."""
        total = hit = 0.0
        for w in terms:
            weight = df.idf(w)
            total += weight
            hit += weight * min(1.0, self.share(w) / TYPICAL)
        return hit / total if total else 0.0

    def similarity(self, other: TermProfile, df: DocumentFrequency) -> float:
        """IDF-weighted cosine of two clusters' term shares."""
        return _cosine(self._vector(df), other._vector(df))

    def _vector(self, df: DocumentFrequency) -> dict[str, float]:
        return {w: df.idf(w) * c / self.n for w, c in self.counts.items()} if self.n else {}


def _cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0
