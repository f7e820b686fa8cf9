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
Mixed-script words (Latin with Cyrillic or Greek look-alikes) are mapped to Latin; a word
wholly in another script is left alone, so Russian text is not turned into nonsense Latin.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

TIME_FORM = "<time>"
EMPHASIS = "~"

# Zero-width and soft-hyphen characters are deleted: they are the commonest way to break a word
# without it looking broken.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e"), None)

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

# A token is a clock time, or a run of letters/digits possibly with leet symbols and
# apostrophes inside. Everything else (spaces, punctuation, emoji, '_', '#', '*') separates.
_TOKEN = re.compile(
    r"(?P<time>(?<![\w:.])\d{1,2}(?:[:.][0-5]\d)?\s?[ap]\.?m\b\.?|(?<![\w:.])(?:[01]?\d|2[0-3]):[0-5]\d\b)"
    r"|(?:[^\W_]|[@$!|'’])+"
)
_RUN3 = re.compile(r"(.)\1{2,}")
_RUN_ANY = re.compile(r"(.)\1+")
_NUMBER_UNIT = re.compile(r"\d+[^\W\d_]{1,2}")  # "10pm", "2nd", "5k": a number, not leet
_HAS_LETTER = re.compile(r"[^\W\d_]")
_LEET_CHARS = frozenset("013457@$!|")
_MAX_CACHE = 200_000


def fold(text: str) -> str:
    """Case-fold and strip accents and invisible characters (full-width, bold maths letters,
    ligatures are mapped to plain letters by NFKD)."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text.translate(_INVISIBLE))
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


def _raw_words(folded: str) -> list[tuple[str, bool]]:
    """Raw words of folded text with whether each is a clock time; spelt-out letters joined."""
    raws: list[tuple[str, int, int, bool]] = []
    has_single = False
    for m in _TOKEN.finditer(folded):
        word = m.group(0)
        is_time = m.group("time") is not None
        if is_time:
            word = word.replace(" ", "").replace(".", "").replace(":", "")
        elif len(word) == 1:
            has_single = True
        raws.append((word, m.start(), m.end(), is_time))
    if not has_single:
        return [(r[0], r[3]) for r in raws]
    return _join_spelt_out(raws)


def _join_spelt_out(raws: list[tuple[str, int, int, bool]]) -> list[tuple[str, bool]]:
    """Join runs of three or more single characters ("k i l l", "K.I.L.L") separated by at
    most two separator characters into one word."""
    out: list[tuple[str, bool]] = []
    i, n = 0, len(raws)
    while i < n:
        word, _start, _end, is_time = raws[i]
        if len(word) == 1 and not is_time:
            j = i + 1
            while j < n and len(raws[j][0]) == 1 and raws[j][1] - raws[j - 1][2] <= 2:
                j += 1
            if j - i >= 3:
                out.append(("".join(r[0] for r in raws[i:j]), False))
                i = j
                continue
        out.append((word, is_time))
        i += 1
    return out


def split_words(text: str) -> list[tuple[str, bool]]:
    """Folded raw words of a query phrase, each with whether it is a clock time."""
    return _raw_words(fold(text))


@dataclass(frozen=True, slots=True)
class Doc:
    """A post's text as positions of forms, and an index from each form to its positions."""

    positions: tuple[tuple[str, ...], ...]
    index: dict[str, list[int]]
    words: tuple[str, ...]  # the folded word at each position, for explanations

    def __len__(self) -> int:
        return len(self.positions)


def make_doc(text: str) -> Doc:
    """Normalise a post's text into a `Doc`. Linear in the text's length."""
    positions: list[tuple[str, ...]] = []
    index: dict[str, list[int]] = {}
    kept: list[str] = []
    for word, is_time in _raw_words(fold(text)):
        forms = word_forms(word)
        if not forms:
            continue
        kept.append(word)
        if is_time:
            forms = (*forms, TIME_FORM)
        pos = len(positions)
        positions.append(forms)
        for form in forms:
            found = index.get(form)
            if found is None:
                index[form] = [pos]
            elif found[-1] != pos:
                found.append(pos)
    return Doc(tuple(positions), index, tuple(kept))


def forms_of(texts: Iterable[str]) -> set[str]:
    """Every form occurring in some texts (benchmarks and tests use it to build vocabularies)."""
    out: set[str] = set()
    for text in texts:
        out.update(make_doc(text).index)
    return out
