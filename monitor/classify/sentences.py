"""Hostile read sentence by sentence as well as whole (issue 18).

The hostile head reads a post's mean-pooled layers, so an ordinary sentence beside a hateful
one pulls the post towards ordinary: the functional suite's hateful sentences are caught 0.49
of the time alone and 0.05 with " It was raining earlier." after them (model card, "Hostile on
posts as written"). Scoring each sentence alone as well finds them, but the head is erratic on
short fragments of ordinary posts ("Craving a fish finger butty." scores 0.66), so a sentence
read alone must clear a higher bar than a whole post.

The rule: a post of two or more sentences is flagged hostile when the whole post clears the
head's threshold **or** one of its sentences clears the sentence threshold. The sentence
threshold is chosen on validation data (`choose_sentence_threshold`): the lowest on a 0.01 grid
at which sentences newly flag at most `MAX_NEW_EVERYDAY` of everyday posts (TweetEval offensive
val posts labelled not offensive) that the whole-post rule leaves alone. It lives in the
model's manifest (`"hostile_sentences"`); a manifest without it scores posts whole only.

A post flagged by a sentence alone gets a hostile score over the post threshold (the sentence's
score mapped linearly from [sentence threshold, 1] onto [post threshold, 1]), so that one
score and one threshold still say whether a post is flagged. Every other post keeps its own
score: the rule only ever adds flags.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.classify.labels import HOSTILE

FloatArray = npt.NDArray[np.floating[Any]]

MANIFEST_KEY = "hostile_sentences"
# The operating point: sentences may add at most half a point to the share of everyday posts
# flagged hostile (the whole-post rule flags 6.9% of them). Each point is one post in a
# hundred of a quiet week put in front of the communities team as hostile.
MAX_NEW_EVERYDAY = 0.005
GRID = tuple(round(0.5 + 0.01 * i, 2) for i in range(50))  # 0.50 .. 0.99
# Sentences read alone per post, from its start: bounds the cost of a long post (ingest keeps
# up to max_text_chars, 5,000 by default) at a few whole-post passes. Social posts have far
# fewer; the whole-post pass itself reads only the first 128 tokens.
MAX_SENTENCES = 16

# A sentence ends after '.', '!' or '?' followed by a space, at a line break, or after an emoji
# followed by a space ("just got back from work 😂 they are vermin"): posts use emoji as
# full stops.
_EMOJI = "\U0001f300-\U0001faff\u2600-\u27bf\ufe0f"
_SENTENCE_END = re.compile(rf"(?<=[.!?{_EMOJI}])\s+|\s*\n+\s*")


def split_sentences(text: str) -> list[str]:
    """The post's sentences (pieces of one character, a stray '.', are dropped)."""
    parts = [p.strip() for p in _SENTENCE_END.split(text)]
    return [p for p in parts if len(p) > 1]


def expand(texts: Sequence[str]) -> tuple[list[str], list[int]]:
    """The sentences of every post of two or more (its first `MAX_SENTENCES`), and the index
    of the post each is from."""
    parts: list[str] = []
    owner: list[int] = []
    for i, text in enumerate(texts):
        split = split_sentences(text)[:MAX_SENTENCES]
        if len(split) > 1:
            parts.extend(split)
            owner.extend([i] * len(split))
    return parts, owner


def best_sentence(
    n: int, owner: Sequence[int], sentence_scores: Sequence[float]
) -> npt.NDArray[np.float64]:
    """Per post, the highest hostile score among its sentences (0 for a post of one)."""
    best = np.zeros(n, dtype=np.float64)
    if len(owner):
        np.maximum.at(best, np.asarray(owner, dtype=np.int64), np.asarray(sentence_scores))
    return best


@dataclass(frozen=True)
class SentenceRule:
    threshold: float  # a sentence read alone flags its post at this hostile score
    post_threshold: float  # the hostile head's own threshold, for the whole post

    def __post_init__(self) -> None:
        if not 0.0 < self.post_threshold <= self.threshold < 1.0:
            raise ValueError(
                f"sentence threshold {self.threshold} must lie between the post threshold "
                f"{self.post_threshold} and 1"
            )

    def combine(self, post: float, sentence: float) -> float:
        """The post's hostile score under the rule: its own unless a sentence clears the
        sentence threshold, when it is that sentence's score mapped onto [post threshold, 1]
        (or its own, if higher)."""
        if sentence < self.threshold:
            return post
        span = (1.0 - self.post_threshold) / (1.0 - self.threshold)
        mapped = self.post_threshold + (sentence - self.threshold) * span
        return max(post, round(min(mapped, 1.0), 6))

    def combine_all(self, posts: Sequence[float], sentences: Sequence[float]) -> list[float]:
        return [self.combine(p, s) for p, s in zip(posts, sentences, strict=True)]

    def record(self) -> dict[str, float]:
        return {"threshold": self.threshold}


def sentence_rule(manifest: Mapping[str, Any]) -> SentenceRule | None:
    """The model's sentence rule, or None where its manifest has none (posts scored whole)."""
    entry = manifest.get(MANIFEST_KEY)
    if not entry:
        return None
    return SentenceRule(
        threshold=float(entry["threshold"]),
        post_threshold=float(manifest["thresholds"][HOSTILE]),
    )


def with_sentence_rule(
    rule: SentenceRule | None,
    scores: Sequence[dict[str, float]],
    owner: Sequence[int],
    sentence_scores: Sequence[dict[str, float]],
) -> list[dict[str, float]]:
    """`scores` (one dict per post) with hostile replaced by the rule's, given the scores of
    the sentences `expand` returned for the same posts. Other labels are untouched."""
    if rule is None or not owner:
        return list(scores)
    best = best_sentence(len(scores), owner, [s[HOSTILE] for s in sentence_scores])
    out = []
    for s, b in zip(scores, best, strict=True):
        combined = rule.combine(s[HOSTILE], float(b))
        out.append(s if combined == s[HOSTILE] else {**s, HOSTILE: combined})
    return out


@dataclass(frozen=True)
class SentenceChoice:
    threshold: float | None  # None: no threshold on the grid meets the cap
    new_everyday: float  # share of everyday posts newly flagged at it
    everyday_posts: int
    everyday_flagged_whole: float  # share of them the whole-post rule flags


def choose_sentence_threshold(
    post_scores: FloatArray,
    sentence_best: FloatArray,
    post_threshold: float,
    max_new: float = MAX_NEW_EVERYDAY,
    grid: Sequence[float] = GRID,
) -> SentenceChoice:
    """The lowest threshold of `grid` (at or above the post threshold) at which the best
    sentence of everyday posts newly flags at most `max_new` of them."""
    post = np.asarray(post_scores, dtype=np.float64)
    best = np.asarray(sentence_best, dtype=np.float64)
    if len(post) == 0:
        raise ValueError("choosing a sentence threshold needs everyday posts")
    whole = post >= post_threshold
    for t in sorted(grid):
        if t < post_threshold:
            continue
        new = float(np.mean(~whole & (best >= t)))
        if new <= max_new:
            return SentenceChoice(t, round(new, 4), len(post), round(float(whole.mean()), 4))
    return SentenceChoice(None, 1.0, len(post), round(float(whole.mean()), 4))
