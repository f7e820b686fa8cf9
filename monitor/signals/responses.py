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
against the invaders", "#StandTogether #StopTheBoats"), and a response's words cost nothing to
add to hate ("these vermin need to go back, stay calm"), so a reading is dropped when the post
also carries, outside what it quotes or reports, a dehumanising word or (but for counter-speech,
which names the slogans it rejects) an exclusionary slogan.

Denial's words are also atrocity denial's: "the holocaust was a hoax", "Srebrenica never
happened", "the arena bombing was staged, crisis actors" deny a genocide or an attack, not a
rumour, and are hate that must be weighed like any other post. Such a post is never a response,
however it reads otherwise (`denies_atrocity`).
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
        # only where it ends its clause: "that never happened, I was there" denies;
        # "this never happened before they came" and "never happened?" do not
        r"\b(never happened|didn'?t happen|did not happen)(?=\s*(?:[,.;:!)\n]|$))",
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
# The nation or "our people" as the one stood with. #StandWithUkraine and the like stay
# solidarity; England, Britain and "our kids" after an incident are what a crowd is called to.
_IN_GROUP = (
    r"(?:great)?britain$|england$|english$|british$|uk$|gb$|ourpeople|ourcountry"
    r"|ournation|ourkids|ourchildren|ourgirls|ourwomen|ourtown|ourcommunity|patriots|whites"
    r"|whitepeople|thelads"
)
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
        # #StandWith<X>, but not #StandWithUs/#StandWithMe (a recruiting call, as above), nor
        # an in-group (#StandWithBritain, #StandWithOurKids): that is mobilisation's wording,
        # standing with "us" against a group, not with the people a story targets
        rf"standwith(?!us|me|{_IN_GROUP})\w+",
        # #StandTogether, #WeStandTogether, #<Place>StandsTogether, #<Place>Together
        r"\w*together",
        r"weareall\w+",
        r"(refugees|migrants|asylumseekers|everyone|all|neighbours)(are)?welcome(here)?",
        r"\w*withyou\w*",
        r"solidarity(with\w+)?",
        r"nobody(walks|travels|goes)alone|younotalone|(you(are|re))?notalone",
    ),
}
# Exclusionary slogans: on a post that reads as solidarity, calming or denial they mean
# mobilisation, not a response ("stand with us against the invaders", "#StandTogether
# #StopTheBoats", "not true they're refugees, they're invaders"). Spaces are optional so that
# each also matches its hashtag. Not for counter-speech, which names the slogans it rejects;
# and what a post quotes or reports ("people shouting send them back outside the hotel, we
# stand with you") is left out before this is looked for: a quotation, or the rest of a
# sentence after a verb of saying. Kept to slogans that call for something:
# abuse a solidarity post names ("told to go back home", "facing deportation") must not cancel it.
_EXCLUSIONARY = re.compile(
    # no closing \b: a hashtag may run on (#SendThemBackNow, #DeportThemAll)
    r"\binva(ders?|sion)|\bsend ?(them|em) ?(all ?)?(back|home)"
    r"|\b(get|kick|throw|drive|ship) ?(them|em) ?(all ?)?out\b|\bdeport ?(them|em|the ?lot|all)"
    r"|\bstop ?the ?boats|\benough ?is ?enough"
    r"|\btake ?(back ?)?our ?(country|streets|town|city)|\bour ?own ?(people ?)?first",
    re.IGNORECASE,
)
# Dehumanising words said of people in the post's own words: a post that calls a group vermin
# or a disease is not calming, denying or supporting anything, whatever else it says ("these
# vermin need to go back, stay calm"); appending a response's words must not hide it.
_DEHUMANISING = re.compile(
    r"\bvermin\b|\bcockroach(es)?\b|\bparasites?\b|\bsub-?humans?\b|\binfest(ed|ation|ing)\b"
    r"|\b(are|is) (a |like a |an? \w+ )?(disease|plague|cancer)\b",
    re.IGNORECASE,
)
_QUOTED = re.compile(
    r"\"[^\"]*\"|\u201c[^\u201d]*\u201d|(?<!\w)'[^']*'(?!\w)"
    # reporting forms only: "say no to the invasion" is the slogan itself, not a report of it
    r"|\b(saying|said|shout(ing|ed)|chant(ing|ed)|yell(ing|ed)|scream(ing|ed)|wrote|sprayed"
    r"|posting|calling|called)\b[^.!?\n]*",
    re.IGNORECASE,
)
# Atrocity denial. A rumour denial and a denial of an atrocity share their words ("hoax",
# "never happened", "fake", "made up"); what differs is what is denied, so the denial must be
# said *of the event*, not near it: "fake news about the Southport stabbing is going round,
# the suspect was born here" puts down a rumour about a real attack, "the Southport stabbing
# was fake" denies the attack. Two tiers, because "the attack on Fern Street never happened"
# is also how a rumour of an attack is put down:
# - an event that is an atrocity whatever the place (the Holocaust, a genocide, a named terror
#   attack) is denied when a denial word is said of it: "<event> was a hoax", "<event> never
#   happened", "the <event> hoax", "there was no <event>", "no evidence the <event> existed";
# - any attack, shooting or bombing is recast by the tropes said of real attacks (staged, a
#   false flag, an inside job, its victims crisis or paid actors), which nobody uses to put
#   down a rumour: near the event in either order. "Crisis actors" and "false flag" need no
#   event named.
# Named attacks carry their event noun where the name alone is an ordinary place or venue
# ("Christchurch" is also a Dorset town; the arena has gigs).
_NAMED_ATROCITY = (
    r"(the )?(holocaust|shoah|auschwitz|gas chambers?|death camps?|concentration camps?"
    r"|genocides?|ethnic cleansing|srebrenica|holodomor|(nanking|nanjing) massacre"
    r"|9/11|7/7|sandy hook|bataclan|ut[o\u00f8]ya|october 7(th)?|7(th)? october"
    r"|(christchurch|manchester arena|london bridge|westminster bridge|westminster|finsbury park"
    r"|southport|parsons green|streatham|fishmongers'? hall|forbury gardens)"
    r" (mosque |terror )?(attacks?|bombings?|shootings?|stabbings?|massacres?|murders))"
)
_ATTACK = (
    r"(terror(ist)? )?attacks?|bombings?|shootings?|stabbings?|massacres?|murders|killings"
    r"|atrocit(y|ies)"
)
# Tropes that recast a real attack; negatable ("it was not staged").
_TROPE = r"staged|false ?flags?|inside job|crisis actors?|paid actors?"
# Said of the event after "is", "was" ...: "Sandy Hook was fake", "the holocaust is a lie".
_DENIED_AS = (
    r"hoax(ed)?|fake[d]?( news)?|myths?|lies?|made up|fabricat\w*|exaggerat\w*|fiction(al)?"
    rf"|fairy ?tales?|propaganda|{_TROPE}"
)
# Named right after the event, with no verb: "the holocaust hoax", "the Srebrenica myth".
_DENIAL_NOUN = r"hoax(es|ers?)?|lies?|myths?|fairy ?tales?|fabrications?"
_NEVER = r"never (happened|existed|took place)|(didn'?t|did not) (happen|exist|take place)"
# Rejecting the denial in its own words ("it was not a hoax", "they aren't crisis actors").
_NEGATED_CLAIM = re.compile(
    rf"(\bnot|\bno|n't|\bnever|\bnothing)\s+([\w']+\s+){{0,2}}?({_DENIED_AS})\b",
    re.IGNORECASE,
)
# What the post says others say ("people saying Srebrenica never happened are vile", "holocaust
# denial is a lie", "MP condemns deniers who claim it was staged"), up to the next clause: the
# words of the deniers it answers, not its own. Unlike a solidarity post's slogans, quotation
# marks are not left out: a denial in quotes is as often a slogan posted as one rejected.
_REPORTED = re.compile(
    # not "I say", "we said" (their own words), nor "so-called"
    r"(?<!\bi )(?<!\bwe )(?<!\bso-)(?<!\bso )"
    r"\b(say|says|said|saying|claim(s|ed|ing)?|call(s|ed|ing)?|posted|posting|wrote|writing"
    r"|tell(s|ing)? (you|us)|den(y|ies|ied|ying|ial|ials|ier|iers|ialism))\b"
    r"(?:(?!\bbut\b)[^,;:.!?\n])*",
    re.IGNORECASE,
)
_SO_CALLED = r"((so[ -]called|alleged|supposed)\s+)?"
_OF_IT = r"[\s,:?!.\-]{1,4}((it|that|which|this|all|they)\s+)?"
_FILLER = r"(\s+[\w']+){0,4}?"
_ATROCITY_DENIAL = re.compile(
    # "<event> was (all just) a hoax", "Sandy Hook? It was fake"
    rf"\b{_NAMED_ATROCITY}{_OF_IT}(is|was|were|are|'s|been)\b{_FILLER}\s+({_DENIED_AS})\b"
    # "<event> never happened", "Srebrenica? Never happened"
    rf"|\b{_NAMED_ATROCITY}{_OF_IT}((simply|just|obviously|clearly)\s+)?({_NEVER})\b"
    # "the holocaust hoax", "the so-called Srebrenica myth"
    rf"|\b{_NAMED_ATROCITY}\s+({_DENIAL_NOUN})\b"
    # "there was no holocaust", "no evidence the gas chambers existed"
    rf"|\b(there (was|were) no|no evidence (that |of |for )?)\s*{_SO_CALLED}{_NAMED_ATROCITY}\b"
    # "staged ... the Christchurch shooting", "the Fern Street attack was a false flag"
    rf"|\b({_ATTACK})\b[^.!?\n]{{0,80}}?\b({_TROPE})\b"
    rf"|\b({_TROPE})\b[^.!?\n]{{0,80}}?\b({_ATTACK})\b"
    r"|\bcrisis actors?\b|\bfalse ?flags?\b",
    re.IGNORECASE,
)
# The same in a hashtag (#HolocaustHoax, #SandyHookWasStaged, #Holohoax, #FalseFlag). The
# denial word ends the tag: "#HolocaustSurvivorsWeBelieve" must not read as "...lie".
_ATROCITY_DENIAL_TAG = re.compile(
    r"\w*(holocaust|shoah|genocide|srebrenica|sandyhook|manchesterarena|bataclan)\w*"
    r"(hoax|hoaxers?|fake|lies?|myth|staged|neverhappened|didnthappen|falseflag)"
    r"|\w*holohoax\w*|\w*(falseflag|crisisactors?)\w*"
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
        # a rule's response label does not excuse it either: it is not answering a story
        return None if denies_atrocity(text) else sorted(kinds)[0]
    return _wording_kind(text)


def denies_atrocity(text: str) -> bool:
    """Whether a post denies an atrocity, a genocide or a terror attack, or recasts one as
    staged, a false flag or an inside job, or calls its victims crisis actors (said in its own
    words, not reported of others). Such a post is never a response: its denial words answer
    no story, and reading it as one would keep hate out of tension volume."""
    text = text.replace("\u2019", "'")
    tags = [t.replace("_", "").lower() for t in _HASHTAG.findall(text)]
    if any(_ATROCITY_DENIAL_TAG.fullmatch(t) for t in tags):
        return True
    own = _NEGATED_CLAIM.sub(" ", _REPORTED.sub(" ", text))
    return _ATROCITY_DENIAL.search(own) is not None


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


def _hostile_in_own_words(text: str, kind: str) -> bool:
    """A dehumanising word, or (but in counter-speech) an exclusionary slogan, outside what the
    post quotes or reports. Counter-speech names the slogans it rejects ("stop the boats is a
    racist slogan") as often without quotation marks as with them; it does not call people
    vermin in its own words."""
    own = _QUOTED.sub(" ", text)
    if _DEHUMANISING.search(own):
        return True
    return kind != "counter_speech" and _EXCLUSIONARY.search(own) is not None


def _match_wording(text: str) -> str | None:
    text = text.replace("\u2019", "'")
    tags = [t.replace("_", "").lower() for t in _HASHTAG.findall(text)]
    for kind in RESPONSE_KINDS:
        if _COMPILED[kind].search(text) or any(_COMPILED_TAGS[kind].fullmatch(t) for t in tags):
            if _hostile_in_own_words(text, kind):
                return None
            # looked for only once a marker matched: most posts never pay for it
            if denies_atrocity(text):
                return None
            return kind
    return None
