"""Pure: mask the parts of a post that point at a particular person or home, keep the rest.

Applied at ingest, before anything is stored: @mentions, e-mail addresses, UK phone numbers,
links to personal profiles, house numbers in street addresses and the inward half of postcodes.
What stays is what theme-and-trend monitoring needs: the words, hashtags, ordinary links, and
place names — the street name ("Manningham Lane") and the postcode district ("BD8") are kept,
because tension is measured per place; only the number of the house and the unit postcode
(about fifteen homes) go. Place matching therefore works the same on masked text.

Each masker errs towards leaving text alone where a match would be ambiguous ("10 people walk"
is not an address, "999" and "07:30" are not phone numbers): a false mask loses evidence that
a person reviewing an alert needs, and the masks here are a second line behind not collecting
by person at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

__all__ = ["MASKS", "Masker", "mask_text"]

# "@user": the form TweetEval (the classifier's training data) uses for every mention.
MENTION_MASK = "@user"
EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"
PROFILE_MASK = "[profile link]"
HOUSE_MASK = "[no.]"
POSTCODE_MASK = "[postcode]"
MASKS = (MENTION_MASK, EMAIL_MASK, PHONE_MASK, PROFILE_MASK, HOUSE_MASK, POSTCODE_MASK)

_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"]+", re.IGNORECASE)
# Links that name a person's account: Mastodon-style /@name, Bluesky profiles, and the big
# platforms' profile paths.
_PROFILE_URL = re.compile(
    r"(?:/@[\w.-]+|bsky\.app/profile/|(?:twitter|x|facebook|instagram|threads|tiktok|linkedin)"
    r"\.(?:com|net)/(?!(?:hashtag|search|explore|tags?)/)[\w.@-]+)",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"(?<![\w.+@-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# @name, @name@server.example (fediverse), @name.bsky.social; not the @ inside an e-mail.
_MENTION = re.compile(
    r"(?<![\w@])@[A-Za-z0-9_](?:[\w.-]*\w)?(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?"
)
# A run that could be a UK number: +44 / 0044 / (0 / 0, then digits with spaces, dashes and
# brackets. Validated by digit count below, so times, dates and sums of money never match.
_PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)\s?44[\s-]?(?:\(0\)[\s-]?)?|\(?0)\d[\d\s()-]{7,14}\d(?!\w)"
)
_POSTCODE = re.compile(r"\b([A-Z]{1,2}[0-9][A-Z0-9]?)\s?([0-9][A-Z]{2})\b", re.IGNORECASE)

# Street-type words that are rarely anything else, matched in any case ("12 oak road") ...
_STRONG_TYPES = (
    "road|rd|street|st|lane|ln|avenue|ave|crescent|cres|terrace|terr|grove|gardens|gdns|mews|"
    "close|boulevard|drive|dr"
)
# ... and those that are everyday words too ("10 people walk"), matched only in Title Case.
_WEAK_TYPES = (
    "Way|Walk|Row|View|Rise|Gate|Green|Bank|Place|Pl|Park|Hill|Square|Sq|Court|Ct|Fold|Mount|"
    "Vale|Croft|Parade|Approach|Fields|Side|Top|Heights|Wharf|Yard"
)
_HOUSE = r"(?<![\w£$€.,/:-])(\d{1,4}[A-Za-z]?(?:\s?[-–]\s?\d{1,4}[A-Za-z]?)?)(,?\s+)"
_NAME_WORDS = r"((?:[A-Za-z][\w'’.-]*\s+){1,3})"
_STRONG_ADDRESS = re.compile(_HOUSE + _NAME_WORDS + rf"(?i:{_STRONG_TYPES})\b(?!['’]s)")
_WEAK_ADDRESS = re.compile(
    _HOUSE + r"((?:[A-Z][\w'’.-]*\s+){1,3})" + rf"(?:{_WEAK_TYPES})\b(?!['’]s)"
)
# Words that show the number counts something rather than numbering a house.
_NOT_STREET_NAMES = frozenset(
    """a an the of on in at to by for from into onto down up along near off out over past round
    and or but is are was were be been being it its this that these those there here then than
    when where who what which we you they he she i me my our your their his her them us
    people persons men women lads kids children police officers cops cars vans buses minutes
    mins hours hrs days weeks months years yrs yards yds metres meters miles mile km foot feet
    times more less other others odd many few pounds quid percent per pc new old""".split()
)


@dataclass(frozen=True, slots=True)
class Masker:
    """Minimises post text. `keep_mentions`: handles (lower case, without @) of public
    organisational accounts that may stay in the clear (see `monitor.privacy.allowlist`)."""

    keep_mentions: frozenset[str] = frozenset()

    def __call__(self, text: str) -> str:
        return mask_text(text, self.keep_mentions)


def mask_text(text: str, keep_mentions: Collection[str] = ()) -> str:
    """`text` with mentions, e-mail addresses, phone numbers, profile links, house numbers and
    unit postcodes masked. Ordinary links are kept whole (their digits are not phone numbers)."""
    out: list[str] = []
    last = 0
    for url in _URL.finditer(text):
        out.append(_mask_plain(text[last : url.start()], keep_mentions))
        link = url.group(0)
        out.append(PROFILE_MASK if _PROFILE_URL.search(link) else link)
        last = url.end()
    out.append(_mask_plain(text[last:], keep_mentions))
    return "".join(out)


def _mask_plain(text: str, keep_mentions: Collection[str]) -> str:
    if not text:
        return text
    text = _EMAIL.sub(EMAIL_MASK, text)
    text = _MENTION.sub(_mention(keep_mentions), text)
    text = _PHONE.sub(_phone, text)
    text = _POSTCODE.sub(_postcode, text)
    text = _STRONG_ADDRESS.sub(_house, text)
    return _WEAK_ADDRESS.sub(_house, text)


def _mention(keep: Collection[str]) -> Callable[[re.Match[str]], str]:
    def sub(m: re.Match[str]) -> str:
        return m.group(0) if m.group(0)[1:].lower() in keep else MENTION_MASK

    return sub


def _phone(m: re.Match[str]) -> str:
    raw = m.group(0)
    digits = re.sub(r"\D", "", raw)
    if raw.lstrip("(").startswith(("+", "00")):
        digits = digits[2:] if digits.startswith("00") else digits
        if not digits.startswith("44"):
            return raw
        digits = digits[2:]
        if digits.startswith("0"):  # +44 (0)113 …
            digits = digits[1:]
    elif digits.startswith("0"):
        digits = digits[1:]
    else:
        return raw
    # A UK national number is 9 or 10 digits after the trunk 0 and starts 1, 2, 3, 5, 7 or 8.
    if len(digits) in (9, 10) and digits[0] in "123578":
        return PHONE_MASK
    return raw


def _postcode(m: re.Match[str]) -> str:
    outward, inward = m.group(1), m.group(2)
    # Lower-case look-alikes ("a1 2bc") are rare in prose, but require a letter+digit outward
    # code and keep the outward half: it names the district a place matcher may want.
    return f"{outward} {POSTCODE_MASK}" if inward else m.group(0)


def _house(m: re.Match[str]) -> str:
    words = m.group(3).split()
    if any(w.lower().strip(".,'’") in _NOT_STREET_NAMES or w.isdigit() for w in words):
        return m.group(0)
    return HOUSE_MASK + m.group(2) + m.group(0)[m.start(3) - m.start(0) :]
