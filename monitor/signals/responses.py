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
place: appeals for calm, denials, quoting hate to reject it, offers to accompany or help, and
the hashtags of a solidarity wave (#StandWith<X>, #<Place>StandsTogether, #WeAreAll<X>,
#LoveNotHate, #RefugeesWelcome ...). Solidarity's words are also mobilisation's ("stand with us
against the invaders", "#StandTogether #StopTheBoats"), so a solidarity reading is dropped when
the post also carries an exclusionary slogan outside quotation marks.
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
        r"\bstand up to (racism|hate|fascism|the far right)\b",
        r"\b(posts?|people|someone) (saying|calling)\b.*\b(no|not|disgusting|shameful|vile)\b",
        r"\bblaming\b.{0,40}\b(nonsense|wrong|unfair|racist)\b",
    ),
    "solidarity": (
        r"\bi'?ll (walk|ride|sit|come|go|travel) with you\b",
        r"\b(walk|ride|sit|travel) with you\b",
        # "stand with us", "stand with me" recruit (to a protest, a patrol); they do not support
        r"\bstands? with (?!us\b|me\b)",
        r"\bstand(s|ing)? together\b",
        r"\bsolidarity\b",
        r"\bnobody (walks|travels|goes) alone\b",
        r"\byou(?:'re| are) not alone\b",
        r"\boffer(ing)? (lifts|to (accompany|walk|go|sit|ride))\b",
        r"\baccompany\b",
        r"\bwe are with you\b",
        r"\blove to (everyone|all)\b",
        r"\b(is|are|you'?re) (all )?welcome here\b",
        r"\byour home too\b",
        r"\bwe(?:'ve| have)? got your back\b|\bwe have your back\b",
    ),
}
# Hashtags, matched whole against the tag lower-cased with "_" dropped, so #StandWithThornton,
# #standwiththornton and #Stand_With_Thornton read alike. Whole-tag slogans rather than splitting
# CamelCase and reusing the sentence markers: a sentence marker would fire inside a hostile
# slogan that happens to contain its word (#...Hoax for "hoax", #...NotTrue), a slogan names
# itself. #<Place>United is left out on purpose: it is how football clubs are named.
_HASHTAGS: dict[str, tuple[str, ...]] = {
    "calming": (r"staycalm\w*", r"prayfor\w+"),
    "denial": (r"makesureitaddsup", r"checkbeforeyoushare", r"factsnotfear"),
    "counter_speech": (
        r"(say)?lovenothate|hopenothate",
        r"notinourname",
        r"(say)?noto(hate|racism|fascism|islamophobia|antisemitism)",
        r"noplacefor(hate|racism)\w*",
        r"\w*unitedagainst(hate|racism|fascism|islamophobia|antisemitism|thefarright)",
        r"standupto(racism|hate|fascism|thefarright)",
    ),
    "solidarity": (
        # #StandWith<X>, but not #StandWithUs/#StandWithMe (a recruiting call, as above)
        r"standwith(?!us|me)\w+",
        # #StandTogether, #WeStandTogether, #<Place>StandsTogether, #<Place>Together
        r"\w*together",
        r"weareall\w+",
        r"(refugees|migrants|asylumseekers|everyone|all|neighbours)(are)?welcome(here)?",
        r"\w*withyou\w*",
        r"solidarity(with\w+)?",
        r"nobody(walks|travels|goes)alone|younotalone|(you(are|re))?notalone",
    ),
}
# Exclusionary slogans: on a post that reads as solidarity they mean mobilisation, not support
# ("stand with us against the invaders", "#StandTogether #StopTheBoats"). Spaces are optional so
# that each also matches its hashtag. Only for solidarity: counter-speech and denials quote the
# hate they reject, and what a solidarity post quotes or reports ("people shouting send them
# back outside the hotel, we stand with you") is left out before this is looked for: a quotation,
# or the rest of a sentence after a verb of saying. Kept to slogans that call for something:
# abuse a solidarity post names ("told to go back home", "facing deportation") must not cancel it.
_EXCLUSIONARY = re.compile(
    # no closing \b: a hashtag may run on (#SendThemBackNow, #DeportThemAll)
    r"\binva(ders?|sion)|\bsend ?(them|em) ?(all ?)?(back|home)"
    r"|\b(get|kick|throw|drive|ship) ?(them|em) ?(all ?)?out\b|\bdeport ?(them|em|the ?lot|all)"
    r"|\bstop ?the ?boats|\benough ?is ?enough"
    r"|\btake ?(back ?)?our ?(country|streets|town|city)|\bour ?own ?(people ?)?first",
    re.IGNORECASE,
)
_QUOTED = re.compile(
    r"\"[^\"]*\"|\u201c[^\u201d]*\u201d|(?<!\w)'[^']*'(?!\w)"
    # reporting forms only: "say no to the invasion" is the slogan itself, not a report of it
    r"|\b(saying|said|shout(ing|ed)|chant(ing|ed)|yell(ing|ed)|scream(ing|ed)|wrote|sprayed"
    r"|posting|calling|called)\b[^.!?\n]*",
    re.IGNORECASE,
)
_HASHTAG = re.compile(r"#(\w+)")
_COMPILED = {
    kind: re.compile("|".join(f"(?:{m})" for m in markers), re.IGNORECASE)
    for kind, markers in _MARKERS.items()
}
_COMPILED_TAGS = {
    kind: re.compile("|".join(f"(?:{m})" for m in markers)) for kind, markers in _HASHTAGS.items()
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
    tags = [t.replace("_", "").lower() for t in _HASHTAG.findall(text)]
    for kind in RESPONSE_KINDS:
        if _COMPILED[kind].search(text) or any(_COMPILED_TAGS[kind].fullmatch(t) for t in tags):
            if kind == "solidarity" and _EXCLUSIONARY.search(_QUOTED.sub(" ", text)):
                return None
            return kind
    return None
