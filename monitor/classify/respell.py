"""Pure: write back the lexicon words a post disguises by masking, dropping, swapping, adding
or running letters together (the classifier's level-2 deobfuscation).

`monitor.classify.deobfuscate` undoes disguises that need no vocabulary (leet, spelt-out
letters, look-alikes, letter runs). What is left needs to know which words exist, so this
reads two lists:

- the *lexicon* (`disguise_lexicon.txt` beside this module): the words people disguise in
  hateful posts. Only these are ever written in;
- the *known words*: whole-word entries of the encoder's WordPiece vocabulary, with zxcvbn's
  common English words and names (the vocabulary alone lacks "hateful" and most surnames). A
  token that is a known word is never changed.

A token (ASCII letters, perhaps with `*` inside; not part of a hashtag, handle, address or a
word with digits) that is not a known word is rewritten when exactly one lexicon word of 4
letters or more is:

- the same with each `*` a letter ("m*slims", "f**k");
- one letter longer, shorter or with two neighbouring letters swapped, the first letter
  kept ("muslms", "mosuqe", "imigrants", "vermmin"). A final "s", "y" or "z" more or less is
  another form of a word, not a disguise; a 4-letter word is only reached by a doubled letter
  more or less ("kil" and "hatte", not "hafte", a week in romanised Urdu).

Two candidates (or none) leave it alone. A lower-case token of 8 letters or more that is
still unknown is split into words ("ihatemuslims" -> "i hate muslims") when every piece is a
vocabulary word, one is a lexicon word, and the others are function words ("i" or "a" only
first) or 4 letters or longer; of the splits, the one of the commonest words (vocabulary
rank) wins. A lone compound of two content words ("overkill") is left whole.

Case is kept roughly: an all-capital token gives capitals, a capitalised one a capitalised
word, anything else lower case.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

LEXICON_FILE = Path(__file__).with_name("disguise_lexicon.txt")
MIN_LEXICON_LETTERS = 4
MIN_SPLIT_LETTERS = 8

# A candidate: ASCII letters, `*` only inside, not touching a word character, a hashtag or
# handle sign, a mask, an apostrophe or a path/address separator, and not a domain's label.
_CANDIDATE = re.compile(r"(?<![\w#@*'’/\\&.])[A-Za-z](?:[A-Za-z*]*[A-Za-z])?(?![\w#@*'’/\\&]|\.\w)")

# Pieces a run-together token may have besides its lexicon word, however short: a split into
# these reads as a sentence ("killthemall"), not as a compound word ("overkill").
_FUNCTION_WORDS = frozenset(
    "i a an the and or but to of in on at by for with all them they these those this that "
    "we us you he she it is are be was were go out back off get so just every must should "
    "will need now my our your their no not".split()
)
# One-letter words, which a split may only start with ("ihatemuslims", not "moth a fuck in").
_LETTER_WORDS = frozenset({"i", "a"})
# Final letters that make another form of a word rather than disguise it ("niggaz").
_ENDINGS = frozenset("syz")


@dataclass(frozen=True, slots=True)
class Vocabulary:
    lexicon: frozenset[str]
    keep: frozenset[str]  # "!" lines: ordinary words never corrected
    known: frozenset[str]
    # Splitting cost of a vocabulary word: log of its rank, so common words are preferred.
    cost: dict[str, float]
    # Lexicon words by each of their one-letter-shorter forms (the first letter kept).
    shorter: dict[str, frozenset[str]]
    by_length: dict[int, tuple[str, ...]]


def _read_lexicon(path: Path) -> tuple[frozenset[str], frozenset[str]]:
    words: set[str] = set()
    keep: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        word = line.strip().lower()
        if not word or word.startswith("#"):
            continue
        if word.startswith("!"):
            keep.add(word[1:])
        elif len(word) >= MIN_LEXICON_LETTERS:
            words.add(word)
    return frozenset(words), frozenset(keep)


def _wordpiece_words() -> list[str]:
    """Whole-word entries of the encoder's vocabulary, in file order (about frequency)."""
    from monitor.classify.encoder import base_model_path

    entries = (base_model_path() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return [w for w in entries if w.isascii() and w.isalpha() and w.islower()]


def _common_words() -> set[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    # Not the password list: it is full of run-together and disguised words.
    lists = ("english_wikipedia", "us_tv_and_film", "surnames", "male_names", "female_names")
    return {w for name in lists for w in FREQUENCY_LISTS[name] if w.isascii() and w.isalpha()}


@functools.cache
def vocabulary() -> Vocabulary:
    lexicon, keep = _read_lexicon(LEXICON_FILE)
    pieces = _wordpiece_words()
    cost = {w: math.log(rank + 10) for rank, w in enumerate(pieces)}
    for word in lexicon:  # slurs the vocabulary splits into pieces still split out whole
        cost.setdefault(word, math.log(len(pieces)))
    shorter: dict[str, set[str]] = {}
    for word in lexicon:
        for i in range(1, len(word)):
            shorter.setdefault(word[:i] + word[i + 1 :], set()).add(word)
    by_length: dict[int, list[str]] = {}
    for word in sorted(lexicon):
        by_length.setdefault(len(word), []).append(word)
    return Vocabulary(
        lexicon=lexicon,
        keep=keep,
        known=frozenset(pieces) | frozenset(_common_words()) | keep,
        cost=cost,
        shorter={k: frozenset(v) for k, v in shorter.items()},
        by_length={k: tuple(v) for k, v in by_length.items()},
    )


def _masked(token: str, v: Vocabulary) -> set[str]:
    pattern = re.compile(token.replace("*", "[a-z]"))
    return {w for w in v.by_length.get(len(token), ()) if pattern.fullmatch(w)}


def _near(token: str, v: Vocabulary) -> set[str]:
    """Lexicon words one dropped, added or swapped letter from `token`, first letter kept."""
    # A word's own ending is no disguise: "deports", "bitchy" and "maggot" are not corrected to
    # "deport", "bitch" and "maggots" (the lexicon lists the forms it wants).
    found = {w for w in v.shorter.get(token, ()) if w[:-1] != token or w[-1] not in _ENDINGS}
    for i in range(1, len(token)):
        dropped = token[:i] + token[i + 1 :]  # token had one letter too many
        if dropped in v.lexicon and not (i == len(token) - 1 and token[i] in _ENDINGS):
            found.add(dropped)
    for i in range(1, len(token) - 1):
        swapped = token[:i] + token[i + 1] + token[i] + token[i + 2 :]
        if swapped != token and swapped in v.lexicon:
            found.add(swapped)
    # Words of other languages crowd round a short word ("hafte", a week in romanised Urdu, is
    # "hate" with an extra letter): a 4-letter word is only reached by a doubled letter more or
    # less ("kil", "hatte").
    return {w for w in found if len(w) > MIN_LEXICON_LETTERS or _undoubled(w, token)}


def _undoubled(word: str, token: str) -> bool:
    """Whether one of `word` and `token` is the other with one letter doubled."""
    longer, shorter = (word, token) if len(word) > len(token) else (token, word)
    return len(longer) == len(shorter) + 1 and any(
        longer[i] == longer[i + 1] and longer[:i] + longer[i + 1 :] == shorter
        for i in range(len(longer) - 1)
    )


def _split(token: str, v: Vocabulary) -> list[str] | None:
    """The cheapest reading of `token` as words with a lexicon word in it (see module doc)."""
    if not any(w in token for w in v.lexicon):
        return None
    n = len(token)
    # best[i]: (cost, pieces, has a lexicon word) of the cheapest split of token[:i].
    best: list[tuple[float, list[str], bool] | None] = [None] * (n + 1)
    best[0] = (0.0, [], False)
    for end in range(1, n + 1):
        for start in range(max(0, end - 20), end):
            prev = best[start]
            piece = token[start:end]
            if prev is None or piece not in v.cost:
                continue
            lexical = piece in v.lexicon
            if piece in _LETTER_WORDS and start > 0:
                continue
            if not lexical and piece not in _FUNCTION_WORDS and len(piece) < 4:
                continue  # "filth|i|est", "global|ist": short content pieces are word endings
            # A split with a lexicon word beats one without, then the lower cost.
            cand = (prev[0] + v.cost[piece], [*prev[1], piece], prev[2] or lexical)
            cur = best[end]
            if cur is None or (cand[2], -cand[0]) > (cur[2], -cur[0]):
                best[end] = cand
    done = best[n]
    if done is None or not done[2] or len(done[1]) < 2:
        return None
    pieces = done[1]
    content = [p for p in pieces if p not in v.lexicon and p not in _FUNCTION_WORDS]
    if len(pieces) == 2 and content:  # "overkill", "roadkill": a compound, not a sentence
        return None
    return pieces


def _cased(word: str, like: str) -> str:
    letters = like.replace("*", "")
    if len(letters) > 1 and letters.isupper():
        return word.upper()
    if like[0].isupper():
        return word[0].upper() + word[1:]
    return word


def _fix(token: str, v: Vocabulary) -> str:
    low = token.lower()
    if "*" in low:
        if len(low.replace("*", "")) < 2:
            return token
        found = _masked(low, v)
        return _cased(found.pop(), token) if len(found) == 1 else token
    if low in v.known or low in v.lexicon:
        return token
    found = _near(low, v)
    if len(found) == 1:
        return _cased(found.pop(), token)
    if found or len(low) < MIN_SPLIT_LETTERS or token != low:
        return token
    pieces = _split(low, v)
    return " ".join(pieces) if pieces else token


def respell(text: str) -> str:
    """`text` with disguised lexicon words written plainly (see module doc)."""
    v = vocabulary()
    return _CANDIDATE.sub(lambda m: _fix(m.group(), v), text)
