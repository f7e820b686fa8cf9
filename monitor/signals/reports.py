"""Pure: posts that are about an event without passing a claim on: news reports attributed to
an official source or a news agency, and boilerplate.

- A report tells what an authority or a wire service said: "police say two suspects are held",
  "according to prosecutors ...", "schools evacuated, say officials", "... AFP". During a
  breaking event newsrooms and their readers post many such reports, worded alike, from many
  accounts within minutes: exactly the shape of a rumour spreading. But a report names who
  stands behind it; a rumour is a claim passed on without a source anyone can be asked (or
  with "apparently", "I've been told": hearsay, `monitor.signals.hearsay`, which wins when a
  post has both). A report counts as talk about the subject, not as a claim, towards a
  cluster's claim share.
- Boilerplate carries no claim at all: a platform's notice standing in for a post ("<account>'s
  account has been withheld in ...", "this post is unavailable"), or a newsroom's placeholder
  with nothing else said ("more to follow", "follow our live coverage"). Hundreds of accounts
  show the same notice; it is never a rumour, however alike its copies are. It neither starts
  a claim cluster nor counts as a claim.
"""

from __future__ import annotations

import re

from monitor.signals.terms import claim_terms

# Who stands behind a report: an authority, its office holders and spokespeople, or sources
# named as official. ("A source says" alone is not: anyone can be "a source".)
_SOURCE = (
    r"(?:police|cops|officers?|detectives?|officials?|authorities|government|govt|ministry"
    r"|(?:prime\s+|interior\s+|foreign\s+|transport\s+|home\s+|junior\s+)?ministers?"
    r"|president|prime\s+minister|pm|prosecutors?|prosecution|spokes(?:man|woman|person)"
    r"|(?:home\s+|foreign\s+|health\s+)?secretary|chief\s+constable|commissioner|superintendent"
    r"|chief\s+inspector|governor|mayor|sheriff|coroner|council|councillors?|fire\s+(?:service|brigade|department|chief)"
    r"|ambulance\s+service|paramedics|army|military|investigators|interior\s+ministry"
    r"|white\s+house|home\s+office|(?:security|official|police|government|govt|intelligence)"
    r"\s+sources?)"
)
_SAYS = (
    r"(?:says?|said|confirms?|confirmed|announces?|announced|states?|stated|reports?|reported"
    r"|tells?|told|adds?|added|warns?|warned)"
)
# An authority's appeal is its own message passed on, as its statement is: "police appeal for
# witnesses after ...", the commonest local-news post, which a rumour head reads as a claim.
# Only with the source first: "asked the police" is someone else asking.
_APPEALS = r"(?:appeal(?:s|ed|ing)?|urg(?:es?|ed|ing)|ask(?:s|ed|ing)?)"
_W = r"[\w'-]+"
_AFFIRMED = r"(?!(?:not|never|no)\b)(?![\w'-]*n't\b)[\w'-]+"  # a word, but no negation
_REPORT = re.compile(
    r"(?<![\w'])(?:"
    # "police say", "the French interior minister says", "officials have confirmed" (not
    # "police haven't said", "the council said nothing": a claim about their silence)
    rf"{_SOURCE}(?:\s+{_AFFIRMED}){{0,3}}?\s+(?:have\s+|has\s+|had\s+)?(?:{_SAYS}|{_APPEALS})"
    r"(?!\s+(?:nothing|anything|a\s+word)\b)"
    # "..., say officials", "says French transport minister", "confirmed by police" (not
    # "says police are ...": that tells what someone says of the police)
    rf"|{_SAYS}\s+(?:by\s+)?(?:the\s+)?(?:{_W}\s+){{0,2}}?{_SOURCE}"
    r"(?!\s+(?:are|is|were|was|have|has|had|will|would|did|do|does|can|could|should)\b)"
    # "according to prosecutors", "according to the interior ministry", "according to reports"
    rf"|according\s+to\s+(?:the\s+)?(?:{_W}\s+){{0,2}}?(?:{_SOURCE}|reports?|media)"
    r"|official(?:ly)?\s+(?:source|statement|confirmation)"
    # credited at its end: "..., police sources", "... govt source", "... officials" (not a
    # bare "... the police", which may be what the post is about)
    r"|(?:officials|(?:police|security|govt|government|official|intelligence|military)\s+"
    r"(?:sources?|officials?))\W*$"
    r")(?![\w'])",
    re.IGNORECASE,
)
# An appeal passed on in its own words, with no "police say" to name it: the non-emergency
# number, a log to quote, Crimestoppers, "police want to hear from ...". People share these
# by the dozen after an incident ("Sharing for the police: anyone who saw ... call 101").
_APPEAL = re.compile(
    r"(?<![\w'])(?:"
    r"(?:call|ring|phone|contact|calling)\s+(?:(?:the\s+)?police\s+)?(?:on\s+)?101"
    r"|quot(?:e|ing)\s+(?:the\s+)?(?:log|reference|ref|crime\s+reference|incident)"
    r"|crimestoppers"
    r"|(?:police|officers|detectives)\s+(?:(?:would|'d)\s+like|want|are\s+keen|need)\s+to"
    r"\s+(?:hear\s+from|speak\s+(?:to|with)|talk\s+to)"
    r"|shar(?:e|ing)\s+(?:this\s+)?(?:for|on\s+behalf\s+of)\s+(?:the\s+)?police"
    r")(?![\w'])",
    re.IGNORECASE,
)
# A post labelled as an official announcement ("OFFICIAL: ...", "Police official: ..."), or
# credited to a wire service at its start or end or as its reporter ("AFP: ...", "... AFP",
# "... Reuters reporter"): the acronyms in capitals.
_LABELLED = re.compile(
    r"^\W*(?:(?:BREAKING|JUST\s+IN|MORE|UPDATE)\W+)?(?:OFFICIAL\b|(?:police|government|govt"
    r"|security|military)\s+(?:official|source)s?\b)",
    re.IGNORECASE,
)
_WIRE = r"(?:AFP|Reuters|REUTERS|AP|Associated\s+Press|Press\s+Association|PA\s+Media)"
_AGENCY = re.compile(
    rf"^\W*{_WIRE}\b|\b{_WIRE}(?:\s+(?:reporter|correspondent|reports|says|said))?\W*$"
)

# A platform's notice in place of a post: it begins the text (after the account's name).
_NOTICE = re.compile(
    r"^\W*(?:[\w'@.-]+\s+)?(?:this\s+)?(?:account|tweet|post|content|media|video|page)\s+"
    r"(?:has\s+been|is|was|is\s+not|isn't)\s+(?:withheld|unavailable|available|deleted)\b",
    re.IGNORECASE,
)
# Newsroom placeholders and pointers to coverage: they say nothing themselves.
_PLACEHOLDER = re.compile(
    r"(?<![\w'])(?:more\s+(?:details\s+)?to\s+(?:follow|come)|(?:further\s+)?details\s+to"
    r"\s+(?:follow|come)|more\s+soon|developing(?:\s+story)?|breaking(?:\s+news)?|just\s+in"
    r"|update[ds]?|latest|live(?:\s+updates|\s+blog|\s+coverage)?|watch\s+live"
    r"|(?:follow|watch|read|see)\s+(?:our|the)\s+(?:live\s+|latest\s+|full\s+|rolling\s+)*"
    r"(?:coverage|updates|blog|report|story))(?![\w'])",
    re.IGNORECASE,
)
# Fewer content words than this once the placeholders are gone: nothing is claimed.
MIN_CLAIM_TERMS = 3


def reported(text: str) -> bool:
    """Whether the post reports what an official source or a news agency said."""
    text = text.replace("\u2019", "'")
    return bool(
        _REPORT.search(text)
        or _LABELLED.search(text)
        or _AGENCY.search(text)
        or _APPEAL.search(text)
    )


def boilerplate(text: str) -> bool:
    """Whether the post is a platform's notice or a newsroom placeholder, claiming nothing."""
    text = text.replace("\u2019", "'")
    if _NOTICE.search(text):
        return True
    if not _PLACEHOLDER.search(text):
        return False
    return len(claim_terms(_PLACEHOLDER.sub(" ", text))) < MIN_CLAIM_TERMS
