"""Pure: which posts answer a story rather than tell it.

Denials and questions of a claim, calming appeals, counter-speech, solidarity and the council's
or police's own counter message are the response inside an incident: shown with it, never
counted as its posts, never raising its level or opening it. A counter message is recognised
by its account (a public organisation on the allowlist) or by its text matching a counter
message comms staff recorded, so the council's own post is never one more rumour post.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from monitor.incidents.model import PostFacts
from monitor.signals.responses import EVIDENCE_KINDS, denies_atrocity, response_kind

# Rule label kinds that mark a post as a response (packs may label calming or solidarity).
RESPONSE_KINDS = frozenset({"calming", "counter_speech", "solidarity", "response"})
RESPONSE_STANCES = frozenset({"deny", "query"})
MATCH_AT = 0.75  # share of the post's word triples found in the counter message
MIN_SHARED = 4
_WORD = re.compile(r"[a-z0-9#']+")


def words(text: str) -> frozenset[str]:
    """Word triples in order: a rumour repeats a denial's words ("the old mill ... housing")
    but not their sequence ("is not being used for housing")."""
    tokens = _WORD.findall(text.lower())
    return frozenset(" ".join(tokens[i : i + 3]) for i in range(len(tokens) - 2))


def matches_counter(text: str | None, counter_texts: Iterable[frozenset[str]]) -> bool:
    """Whether the text repeats a recorded counter message (shared, quoted or copied)."""
    if not text:
        return False
    counters = counter_texts if isinstance(counter_texts, Collection) else list(counter_texts)
    if not counters:  # none recorded: nothing to repeat
        return False
    own = words(text)
    if len(own) < MIN_SHARED:
        return False
    for counter in counters:
        common = len(own & counter)
        if common >= MIN_SHARED and common / len(own) >= MATCH_AT:
            return True
    return False


def is_counter_message(post: PostFacts, counter_texts: Iterable[frozenset[str]]) -> bool:
    return post.official or matches_counter(post.text, counter_texts)


def is_response(post: PostFacts, counter_texts: Iterable[frozenset[str]] = ()) -> bool:
    """A post that answers the story: counter message, denial or question of its claim,
    or a post a rule labelled as calming, counter-speech or solidarity."""
    if post.kinds & EVIDENCE_KINDS:  # a threat or call to gather stays evidence (as in signals)
        return is_counter_message(post, counter_texts)
    if is_counter_message(post, counter_texts):
        return True
    if post.stance in RESPONSE_STANCES or post.kinds & RESPONSE_KINDS:
        # A stance head reads "the holocaust was a hoax" or "it was staged" as a denial, and a
        # rule may label it; neither makes atrocity denial an answer to the story (as in
        # signals, where the wording below already says so).
        return not denies_atrocity(post.text or "")
    # the same wording signals keep out of tension volume (one recogniser, not two)
    return response_kind(post.text or "") is not None
