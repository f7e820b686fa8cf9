"""Ingest: turn an untrusted RawPost into a Post — normalised, bounded, pseudonymised, placed.

Everything here is pure (no I/O, time passed in). The per-period author keys come from
`monitor.store.keys.KeyRing`; the caller fetches the key for `now` and hands it to `ingest`.

Pseudonyms: `author_ref` is an HMAC-SHA256 of the platform's author id under a random key
that changes every `author_key_rotation_days` and is then destroyed, so a reference links a
person's posts within one period only and nobody (including us) can recompute it afterwards.
The raw author id is never put on the Post.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.collectors.text import extract_text
from monitor.config import Settings
from monitor.ingest.places import PlaceMatcher
from monitor.ingest.schema import SchemaError, check_post
from monitor.ingest.urdu_punjabi import punjabi_in_urdu_script, romanised_language
from monitor.privacy.allowlist import PublicAccounts
from monitor.privacy.minimise import Masker
from monitor.privacy.postids import PostIds
from monitor.types import Post, RawPost

__all__ = [
    "IngestError",
    "Ingestor",
    "PlaceMatcher",
    "author_ref",
    "bound_text",
    "detect_language",
    "normalise_text",
    "post_ref",
]

AUTHOR_REF_HEX = 32


class IngestError(ValueError):
    """A raw post that cannot become a Post (no id, a time without a UTC offset)."""


# --- text ------------------------------------------------------------------------------------

# Removed outright: C0/C1 controls that are not whitespace, lone surrogates (from JSON "\ud800"
# escapes), non-characters, the BOM, and invisible characters used to dodge keyword rules or to
# reorder text on screen (soft hyphen, zero-width space, word joiner, bidi overrides and
# isolates). Zero-width (non-)joiners stay: emoji sequences and Persian/Indic text need them.
_DROP = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u00ad\u200b\u2060\u202a-\u202e\u2066-\u2069"
    "\ufeff\ufffe\uffff\ud800-\udfff]"
)
_SPACE = re.compile(r"\s+")


def normalise_text(text: str, is_html: bool) -> str:
    """Plain, NFC, single-spaced text with no control or invisible characters."""
    text = _DROP.sub("", text)  # first: surrogates would break NFC and the HTML parser's output
    if is_html:
        text = _DROP.sub("", extract_text(text))  # entities can encode controls too
    text = unicodedata.normalize("NFC", text)
    return _SPACE.sub(" ", text).strip()


def bound_text(text: str, max_chars: int) -> tuple[str, bool]:
    """`text` cut to at most `max_chars`, on a word boundary when one is near; and whether cut.

    A word boundary in the last fifth of the allowance is used; otherwise (one enormous word,
    or scripts written without spaces) the cut is hard, but never leaves a combining mark or
    joiner dangling from its base character.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    if len(text) <= max_chars:
        return text, False
    if text[max_chars].isspace():
        return text[:max_chars].rstrip(), True
    head = text[:max_chars]
    space = head.rfind(" ")
    if space >= max_chars - max(1, max_chars // 5) and head[:space].strip():
        return head[:space].rstrip(), True
    cut = max_chars
    while cut > 0 and _joins_previous(text[cut]):
        cut -= 1
    if cut == 0:  # a single grapheme longer than the limit: cut it anyway
        cut = max_chars
    return text[:cut].rstrip(), True


def _joins_previous(ch: str) -> bool:
    """Whether `ch` belongs to the character before it (combining mark, joiner, selector)."""
    return unicodedata.category(ch) in ("Mn", "Mc", "Me") or ch in "\u200c\u200d\ufe0e\ufe0f"


# --- language --------------------------------------------------------------------------------

_LANG_TAG = re.compile(r"^([a-z]{2,3})(?:[-_][a-z0-9]{1,8})*$")
_NOT_LANGUAGE = re.compile(r"https?://\S+|www\.\S+|[@#][\w.@-]+", re.IGNORECASE)
# Below this many letters, or under this probability, langid is guessing: better no language
# than a wrong one (rules filter on language, and an unknown language is shown as such).
MIN_LETTERS = 8
MIN_CONFIDENCE = 0.5
# py3langid walks the text byte by byte in Python (about 1 µs a character); past a tweet's
# length a longer sample rarely changes its answer, so only the start of a post is used.
DETECT_CHARS = 280
# Under this probability the romanised Urdu and Punjabi check may overrule py3langid: it is
# unsure on nearly every such post (10-50 %, once 83 %), and sure of English posts.
ROMANISED_BELOW = 0.9
# A platform's English tag is overruled only by a guess this sure of another language, made
# only where the post has this many letters outside ASCII, and this share of its letters.
OVERRULE_TAG = 0.9
FOREIGN_LETTERS_MIN = 2
FOREIGN_LETTERS_SHARE = 0.03
# ...or where, in ASCII, at most this share of its words (and it has this many) are English's
# commonest: Polish typed without its accents reads like that, English hardly ever does.
FEW_ENGLISH_MIN_WORDS = 5
FEW_ENGLISH_SHARE = 0.15
ENGLISH_FUNCTION_WORDS = frozenset(
    """
    the and to of a in is it you that for on are with be this have i my me we your was not but
    at they so all just what he she his her our us will can do if or by from as an no it's i'm
    don't there about get like when who how out up one more than them been would has had were
    their him its got im dont
    """.split()
)
_ASCII_WORD = re.compile(r"[a-z']+")
# py3langid tells a few varieties apart that the service counts, filters and names as one
# language (rules in Arabic cover Moroccan and Egyptian Arabic as well). Its Nigerian Pidgin,
# an English-lexified creole, is mostly English slang and dialect in posts with no language
# tag (144 of 48,023 English tweets untagged; "finna kill some hoes", "bitch freak my shit"):
# counted as English, the English heads score them instead of leaving them unscored.
MACROLANGUAGES = {
    "ary": "ar",
    "arz": "ar",
    "sdh": "ku",
    "uzs": "uz",
    "yue": "zh",
    "wuu": "zh",
    "pcm": "en",
}


@functools.cache
def _identifier() -> Any:
    # Loaded at the first post that needs it, from the unpacked copy in the cache folder.
    from monitor.config import default_cache_dir
    from monitor.ingest.language_model import load_identifier

    return load_identifier(default_cache_dir())


def normalise_language(tag: str | None) -> str | None:
    """The primary subtag of a BCP 47 tag ("en-GB" → "en"); None when unusable or "und"."""
    if not tag:
        return None
    m = _LANG_TAG.match(tag.strip().lower())
    if not m or m.group(1) in ("und", "mul", "zxx", "mis"):
        return None
    return macrolanguage(m.group(1))


def detect_language(text: str, declared: str | None = None) -> str | None:
    """The post's language: the platform's own tag when it gave one, else py3langid's guess.

    URLs, mentions and hashtags are left out of the guess (they are not in any language);
    very short texts and unsure guesses give None. A post tagged English that reads as
    romanised Urdu or Punjabi is called that: clients tag a post with the app's language,
    which for people writing Urdu in Latin letters in England is nearly always English. So is
    a post tagged English but written in another alphabet (py3langid's guess, if it has one),
    or with accented letters or almost no English words, if py3langid is sure it is another
    language.
    """
    given = normalise_language(declared)
    if given == "en":
        return _checked_english_tag(text)
    if given is not None:
        return given
    words = _without_links(text)
    guess = _guess(words)
    if guess is None:
        return None
    lang, prob = guess
    # py3langid has no model for Urdu or Punjabi in Latin letters (it guesses Hausa or Sotho,
    # unsure) nor for Punjabi in Shahmukhi (it says Urdu): see monitor.ingest.urdu_punjabi.
    if prob < ROMANISED_BELOW:
        romanised = romanised_language(words)
        if romanised is not None:
            return romanised
    if prob < MIN_CONFIDENCE or lang in ("zxx", "und"):
        return None
    return _with_shahmukhi(lang, words)


def _checked_english_tag(text: str) -> str:
    """The language of a post its platform tagged English: English, unless it reads as
    romanised Urdu or Punjabi, or py3langid is sure enough that it is another language. Sure
    enough means its usual confidence for a post mostly in another alphabet (English is then
    certainly wrong, and it splits its probability between Arabic, Persian and Urdu), and
    `OVERRULE_TAG` for accented Latin letters or almost no English words (Polish typed without
    its accents); any other post keeps the tag without a guess, which is the costly part."""
    # Links and handles are left in: they only add words that are not markers (stricter),
    # and stripping them would triple this check's cost on every tagged post (6 µs).
    head = text[:DETECT_CHARS]
    romanised = romanised_language(head)
    if romanised is not None:
        return romanised
    letters = _foreign_letters(head)
    if letters == "script":
        sure = MIN_CONFIDENCE
    elif letters == "accents" or _few_english_words(head):
        sure = OVERRULE_TAG
    else:
        return "en"
    words = _without_links(text)
    guess = _guess(words)
    if guess is not None and guess[0] != "en" and guess[1] >= sure:
        return _with_shahmukhi(guess[0], words)
    return "en"


def _with_shahmukhi(lang: str, words: str) -> str:
    """py3langid's Urdu, unless its grammar words are Punjabi's (Shahmukhi)."""
    if lang == "ur" and punjabi_in_urdu_script(words):
        return "pa"
    return lang


def _guess(words: str) -> tuple[str, float] | None:
    """py3langid's language (as the service counts it) and probability for `words`
    (`_without_links`); None when too few letters are left to guess from."""
    if sum(map(str.isalpha, words)) < MIN_LETTERS:
        return None
    lang, prob = _identifier().classify(words)
    return macrolanguage(str(lang)), float(prob)


def macrolanguage(code: str) -> str:
    """The language a variety py3langid names is counted as ("ary", Moroccan Arabic: "ar")."""
    return MACROLANGUAGES.get(code, code)


def _without_links(text: str) -> str:
    """The start of `text` that language detection reads: links, handles and hashtags out."""
    return _NOT_LANGUAGE.sub(" ", text[: DETECT_CHARS * 4])[:DETECT_CHARS]


def _few_english_words(text: str) -> bool:
    """Whether a post of some length has almost none of English's commonest words: a post
    tagged English without them is worth a guess (on 45,891 English tweets in ASCII, one in
    ten; every one py3langid was then sure was another language was)."""
    words = _ASCII_WORD.findall(text.lower())
    if len(words) < FEW_ENGLISH_MIN_WORDS:
        return False
    english = sum(w in ENGLISH_FUNCTION_WORDS for w in words)
    return english <= FEW_ENGLISH_SHARE * len(words)


def _foreign_letters(text: str) -> str | None:
    """Which letters make `text` foreign: "script" when most of its letters are in another
    alphabet than Latin (Arabic, Urdu, Gurmukhi), "accents" when letters outside ASCII make up
    a share that English does not reach with a borrowed name or word ("café", "Zoë"; Polish
    has about one in ten), else None."""
    if text.isascii():
        return None
    letters = [c for c in text if c.isalpha()]
    foreign = [c for c in letters if not c.isascii()]
    if len(foreign) < FOREIGN_LETTERS_MIN or len(foreign) < FOREIGN_LETTERS_SHARE * len(letters):
        return None
    latin = sum(unicodedata.name(c, "").startswith("LATIN") for c in foreign)
    return "script" if len(foreign) - latin > len(letters) / 2 else "accents"


# --- pseudonyms ------------------------------------------------------------------------------


def author_ref(key: bytes, platform: str, author_id: str) -> str:
    """Keyed pseudonym of a platform author: hex HMAC-SHA256, first 32 hex digits (128 bits)."""
    # NUL separators: ("ab", "c") and ("a", "bc") must not collide.
    message = b"author\x00" + platform.encode() + b"\x00" + author_id.encode("utf-8", "replace")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:AUTHOR_REF_HEX]


def post_ref(key: bytes, post_id: str) -> str:
    """The author reference of a post with no author id (news items, some imports).

    Each such post counts as its own author. The alternative, one shared reference for every
    author-less post, would make fifty different news stories read as one voice and hide how
    widely something is reported; a reference per post never merges posts we cannot tell
    apart, and cannot be linked to anything (it is unique to the post). Distinct-author counts
    for author-less sources are therefore counts of posts, and are labelled as such where it
    matters.
    """
    return hmac.new(
        key, b"post\x00" + post_id.encode("utf-8", "replace"), hashlib.sha256
    ).hexdigest()[:AUTHOR_REF_HEX]


# --- putting it together ---------------------------------------------------------------------

LanguageDetector = Callable[[str, str | None], str | None]


class Ingestor:
    """Normalises, bounds, detects language, pseudonymises and places one raw post."""

    def __init__(
        self,
        places: PlaceMatcher,
        *,
        max_text_chars: int = 5000,
        detect: LanguageDetector = detect_language,
        public_accounts: PublicAccounts | None = None,
    ) -> None:
        if max_text_chars < 1:
            raise ValueError("max_text_chars must be at least 1")
        self.places = places
        self.max_text_chars = max_text_chars
        self.detect = detect
        # Minimisation (monitor/privacy): mentions, contact details and house numbers are
        # masked before anything is stored; allowlisted organisations keep their public name.
        self.public_accounts = public_accounts or PublicAccounts()
        self.minimise = Masker(self.public_accounts.handles)

    @classmethod
    def from_settings(cls, settings: Settings, home: Path) -> Ingestor:
        return cls(
            PlaceMatcher.from_settings(settings, home),
            max_text_chars=settings.max_text_chars,
            public_accounts=PublicAccounts.from_settings(settings, home),
        )

    def text(self, raw: RawPost) -> tuple[str, bool]:
        """The text stored for `raw` (and classified): plain, minimised, bounded; and whether
        it was cut."""
        return bound_text(self.minimise(normalise_text(raw.text, raw.is_html)), self.max_text_chars)

    def ingest(self, raw: RawPost, key: bytes, now: datetime, *, ids: PostIds) -> Post:
        """The Post for `raw`, pseudonymised with `key` (the key ring's key for `now`), its id,
        link and reply/quote/repost targets keyed and its platform id sealed with `ids`."""
        if not raw.platform or not raw.native_id:
            raise IngestError("a post needs a platform and a native id")
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        try:  # sizes, encodability, a plausible time; counts clamped (monitor.ingest.schema)
            raw = check_post(raw, now)
        except SchemaError as exc:
            raise IngestError(str(exc)) from None
        text, truncated = self.text(raw)
        post_id = raw.post_id
        ref = (
            author_ref(key, raw.platform, raw.author_id)
            if raw.author_id
            else post_ref(key, post_id)
        )
        return Post(
            id=ids.key(post_id),
            platform=raw.platform,
            source=raw.source,
            text=text,
            language=self.detect(text, raw.language),
            created_at=raw.created_at.astimezone(UTC),
            collected_at=now.astimezone(UTC),
            author_ref=ref,
            url=ids.link(raw.url),
            reply_to=ids.key_optional(raw.reply_to),
            quote_of=ids.key_optional(raw.quote_of),
            repost_of=ids.key_optional(raw.repost_of),
            like_count=raw.like_count,
            repost_count=raw.repost_count,
            reply_count=raw.reply_count,
            truncated=truncated,
            places=self.places.match(text),
            author_name=self.public_accounts.name_of(raw.platform, raw.author_id),
            origin=ids.seal(post_id),
        )
