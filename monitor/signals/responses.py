"""Pure: recognise a post that *responds* to trouble rather than adds to it.

After an incident the people calming things down, denying a rumour, rejecting hate or offering
solidarity use the same words as the people stirring it up ("the fire", "vermin", "send them
back", "unsafe", "attack"), and a classifier reads a share of them as hostile (one read a real
solidarity hashtag wave as hostile 40 % of the time). Such posts are responses: they never add
to an area's tension volume; they are counted apart, so that the incident they answer can show
them as its response.

A post is a response when a rule labels it so (`kind=response`, with `response=` naming which),
or when its text carries one of the markers below and no threat or call-to-gather rule fired
on it (a post that borrows calm words to call people out, "stay calm lads, meet at 7 and show
them", is caught by those rules and stays evidence). The markers are the phenomena, in any
place: appeals for calm, denials, quoting hate to reject it, offers to accompany or help.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from monitor.types import RuleHit

RESPONSE_KINDS = ("calming", "denial", "counter_speech", "solidarity")
# Rule kinds that stay evidence even when the text also reads as a response.
EVIDENCE_KINDS = frozenset({"threat", "call_to_gather"})

_MARKERS: dict[str, tuple[str, ...]] = {
    "calming": (
        r"\b(stay|keep|remain) calm\b",
        r"\bappeal(s|ing)? for calm\b",
        r"\bcalm heads\b",
        r"\blet the police (do|deal|handle)\b",
        r"\bleave it to the police\b",
        r"\b(do not|don'?t|stop) (speculat|guess)",
        r"\bcall(ed)? off\b",
        r"\b(please|pls) (stay|keep) (home|away|safe)\b",
        r"\bthinking of (everyone|all)\b",
        r"\bpray(ing|ers)? for\b",
        r"\bvolunteers? (are )?clean",
    ),
    "denial": (
        r"#makesureitaddsup",
        r"\bmake sure it adds up\b",
        r"\b(is|it'?s|that'?s) (not true|false|fake)\b",
        r"\bnot true\b",
        r"\bhoax\b",
        r"\bdebunked\b",
        r"\bno evidence\b",
        r"\bmade up\b",
        r"\bstop (spreading|sharing)\b",
        r"\bcheck before you share\b",
        r"\bmisinformation\b",
    ),
    "counter_speech": (
        r"\bno place for (hate|it|that)\b",
        r"\blove not hate\b",
        r"#?not ?in ?our ?name\b",
        r"\bnot who we are\b",
        r"\bstop blaming\b",
        r"\bscapegoat",
        r"\bdisgusting\b.*\breported\b",
        r"\breported (every|them|it|the|all)\b",
        r"\b(unite|united) against\b",
        r"\b(posts?|people|someone) (saying|calling)\b.*\b(no|not|disgusting|shameful|vile)\b",
        r"\bblaming\b.{0,40}\b(nonsense|wrong|unfair|racist)\b",
    ),
    "solidarity": (
        r"\bi'?ll (walk|ride|sit|come|go|travel) with you\b",
        r"\b(walk|ride|sit|travel) with you\b",
        r"\bstands? with\b",
        r"\bstand(ing)? together\b",
        r"\bsolidarity\b",
        r"\bnobody (walks|travels|goes) alone\b",
        r"\byou(?:'re| are) not alone\b",
        r"\boffer(ing)? (lifts|to (accompany|walk|go|sit|ride))\b",
        r"\baccompany\b",
        r"#\w*withyou\w*",
        r"\bwe are with you\b",
        r"\blove to (everyone|all)\b",
    ),
}
_COMPILED = {
    kind: re.compile("|".join(f"(?:{m})" for m in markers), re.IGNORECASE)
    for kind, markers in _MARKERS.items()
}


def response_kind(text: str, hits: Iterable[RuleHit] = ()) -> str | None:
    """Which kind of response a post is, or None if it is not one."""
    kinds = set()
    for hit in hits:
        kind = hit.labels.get("kind")
        if kind in EVIDENCE_KINDS:
            return None
        if kind == "response":
            kinds.add(hit.labels.get("response", "counter_speech"))
    if kinds:
        return sorted(kinds)[0]
    return _wording_kind(text)


# Incidents ask again of every post of a story at each batch that touches it, so the answer
# for the wording is kept for the texts seen last: the patterns are most of the cost. Kept by
# a digest of the text, never the text: a post's text must go from memory with its erasure.
_SEEN: dict[bytes, str | None] = {}
_SEEN_MAX = 8192


def _wording_kind(text: str) -> str | None:
    digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
    try:
        return _SEEN[digest]
    except KeyError:
        pass
    kind = _match_wording(text)
    if len(_SEEN) >= _SEEN_MAX:
        _SEEN.clear()  # a bounded memo: starting again costs one pass of the patterns
    _SEEN[digest] = kind
    return kind


def _match_wording(text: str) -> str | None:
    text = text.replace("\u2019", "'")
    for kind in RESPONSE_KINDS:
        if _COMPILED[kind].search(text):
            return kind
    return None
