"""Pure: undo the disguises the rules' normaliser already sees through, before the encoder.

Only disguised tokens change; ordinary words, punctuation, emoji, numbers, `@user` and
hashtags are left exactly as they were, so an ordinary post encodes as before. What changes:

- letters spelt out with one kind of separator ("v e r m i n", "k.i.l.l", "k-i-l-l") are
  joined; capitals with dots ("N.H.S.", "K.I.L.L") are left as initialisms;
- leetspeak inside a word that also has letters ("v3rm1n", "$cum") becomes letters;
- Latin words with Cyrillic or Greek look-alike letters become Latin;
- runs of three or more of one letter are cut to two ("hateeee" -> "hatee").

The mapping is `monitor.rules.normalise` (the same one the rules match with), so a rule and the
classifier read a disguised word the same way.

That is level 1, what `"deobfuscate": true` in a model's manifest means (and all the shipped
heads before level 2 were fitted on). Level 2 (`"deobfuscate": 2`) then also undoes what needs
a vocabulary (`monitor.classify.respell`): letters masked with `*` ("m*slims", "f**k"), one
letter dropped, added or swapped with its neighbour ("muslms", "vermmin", "mosuqe") and words
run together ("ihatemuslims"), and only ever towards a word of a small lexicon of words people
disguise; a known word, a hashtag, a handle or an ambiguous token is left alone. A model says
which level its heads read (`deobfuscation_level`), and training, evaluation and serving all
pass it on, so features match. `monitor eval` measures what is left.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from monitor.rules.normalise import fold, word_forms

# One token: letters spelt out one by one with a separator, or a run of word characters with
# leet symbols in it (the shapes `monitor.rules.normalise` tokenises).
_TOKEN = re.compile(
    r"(?<![^\W_])[^\W_](?:(?P<sep>[ .\-_*·])[^\W_](?![^\W_]))(?:(?P=sep)[^\W_](?![^\W_])){1,}"
    r"|(?:[^\W_]|[@$!|])+"
)
_SEPARATORS = re.compile(r"[ .\-_*·]")
_LEET_INSIDE = re.compile(r"[0-9@$|]|!(?=\w)")
_LETTER = re.compile(r"[^\W\d_]")
_NUMBER_UNIT = re.compile(r"\d+[^\W\d_]{1,2}")
_RUN3 = re.compile(r"([^\W\d_])\1{2,}")
_SPELT = re.compile(r"[^\W_](?:[ .\-_*·][^\W_]){2,}")
# Spelt-out runs that are ordinary text: initialisms and a few one-letter words.
_ORDINARY_LETTERS = frozenset({"a", "i", "u", "o", "x"})


_DIGIT = re.compile(r"\d")
_DIGIT_THEN_CAPITAL = re.compile(r"^\d+[A-Z]")  # "4Pillars": a count in a hashtag
_BARE_SYMBOL = re.compile(r"(?<![a-z])[!@]|[!@](?![a-z])")


def _looks_leet(core: str) -> bool:
    """Whether digits and symbols in a word stand for letters ("v3rm1n", "h@te", "k!ll") rather
    than numbers, years, hashtags' counts or run-together punctuation ("TRUMP2020",
    "4Pillars", "You!Please", "train!!@user"). The caller also refuses a reading that still
    has digits in it (a 2, 6, 8 or 9 is never a letter here)."""
    if "@user" in core or _NUMBER_UNIT.fullmatch(core) or _DIGIT_THEN_CAPITAL.match(core):
        return False
    return not _BARE_SYMBOL.search(core)


def _fix(token: str) -> str:
    if token.startswith("@"):  # a handle (already @user after preprocess)
        return token
    if _SPELT.fullmatch(token) and _SEPARATORS.search(token):
        letters = _SEPARATORS.sub("", token)
        # "U K", "A.N.Other", "e.g": short initialisms stay; only runs of 3+ letters that
        # are not all capitals with dots (an acronym like "N.H.S") are joined.
        if len(letters) >= 3 and not (token.isupper() and "." in token):
            return letters.lower() if len(set(letters.lower()) - _ORDINARY_LETTERS) else token
        return token
    trail = len(token) - len(token.rstrip("!"))
    core = token[: len(token) - trail] if trail else token
    changed = core
    if _LETTER.search(core) and _LEET_INSIDE.search(core) and _looks_leet(core):
        forms = word_forms(fold(core))
        if forms and not _DIGIT.search(forms[0]):
            changed = forms[0]
    elif not core.isascii():
        forms = word_forms(fold(core))
        if forms and forms[0].isascii() and forms[0] != fold(core):
            changed = forms[0]
    if _RUN3.search(changed):
        changed = _RUN3.sub(r"\1\1", changed)
    return changed + token[len(core) :] if changed != core else token


# Levels (a manifest's "deobfuscate"): 0 off, 1 the vocabulary-free forms above (`true`),
# 2 those and then `monitor.classify.respell`.
OFF, FORMS, RESPELL = 0, 1, 2
LEVELS = (OFF, FORMS, RESPELL)
# What `monitor train` fits heads with and writes in the manifest it makes.
TRAINING_LEVEL = FORMS


def deobfuscate(text: str, level: int = FORMS) -> str:
    """The text with disguised words written plainly (see module doc); `level` 0 leaves it."""
    if level <= OFF:
        return text
    plain = _TOKEN.sub(lambda m: _fix(m.group()), text)
    if level >= RESPELL:
        from monitor.classify.respell import respell

        plain = respell(plain)
    return plain


def encoder_text(text: str, level: int, emoji: bool = False) -> str:
    """What the encoder reads for a post (and the encoding cache's key): the shared
    preprocessing, the emoji abuse leans on written as words where the model reads them
    (`emoji_words`, `monitor.classify.emoji`), then disguised words written plainly at the
    model's level (`deobfuscation_level`; a bool reads as 0 or 1)."""
    from monitor.classify.emoji import read_emoji
    from monitor.classify.encoder import preprocess

    cleaned = preprocess(text)
    if emoji:
        cleaned = read_emoji(cleaned)
    return deobfuscate(cleaned, int(level)) if level else cleaned


def cache_texts(texts: Sequence[str], level: int, emoji: bool = False) -> list[str]:
    """Texts for a feature cache, which preprocesses them again (idempotent): a post that
    deobfuscation leaves alone stays exactly as it was, so cached features keep their key.
    Training and evaluation both read features this way, as serving encodes them."""
    from monitor.classify.encoder import preprocess

    out = []
    for t in texts:
        plain = encoder_text(t, level, emoji)
        out.append(t if plain == preprocess(t) else plain)
    return out


def deobfuscation_level(manifest: Mapping[str, Any]) -> int:
    """The manifest's "deobfuscate" as a level: absent or false 0, true 1, or the number 0, 1
    or 2. Anything else is refused, so a model asking for more than this code does is never
    served at a lower level than its heads were fitted for."""
    value = manifest.get("deobfuscate", False)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in LEVELS:
        return value
    raise ValueError(f'manifest "deobfuscate" must be true, false or one of {LEVELS}: {value!r}')


def manifest_value(level: int) -> bool | int:
    """How a manifest writes `level`: true for level 1 (as every model before level 2 did)."""
    return level if level > FORMS else bool(level)


def emoji_words(manifest: Mapping[str, Any]) -> bool:
    """Whether the model reads the emoji of `monitor.classify.emoji` as words (the manifest's
    "emoji_words"; absent: no, as every model before it). Anything but a bool is refused."""
    value = manifest.get("emoji_words", False)
    if not isinstance(value, bool):
        raise ValueError(f'manifest "emoji_words" must be true or false: {value!r}')
    return value


def deobfuscates(manifest: Mapping[str, Any]) -> int:
    """The model's deobfuscation level (truthy when it deobfuscates at all)."""
    return deobfuscation_level(manifest)
