"""Pure: undo the disguises the rules' normaliser already sees through, before the encoder.

Only disguised tokens change; ordinary words, punctuation, emoji, numbers, `@user` and
hashtags are left exactly as they were, so an ordinary post encodes as before. What changes:

- letters spelt out with one kind of separator ("v e r m i n", "k.i.l.l", "k-i-l-l") are
  joined; capitals with dots ("N.H.S.", "K.I.L.L") are left as initialisms;
- leetspeak inside a word that also has letters ("v3rm1n", "$cum") becomes letters;
- Latin words with Cyrillic or Greek look-alike letters become Latin;
- runs of three or more of one letter are cut to two ("hateeee" -> "hatee").

The mapping is `monitor.rules.normalise` (the same one the rules match with), so a rule and the
classifier read a disguised word the same way. Swapped, dropped or run-together letters are
not undone (that needs a vocabulary); `monitor eval` measures what is left.
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


def deobfuscate(text: str) -> str:
    """The text with disguised words written plainly (see module doc)."""
    return _TOKEN.sub(lambda m: _fix(m.group()), text)


def encoder_text(text: str, deobfuscating: bool) -> str:
    """What the encoder reads for a post (and the encoding cache's key): the shared
    preprocessing, then, when the model's manifest asks for it (`"deobfuscate": true`),
    disguised words written plainly."""
    from monitor.classify.encoder import preprocess

    cleaned = preprocess(text)
    return deobfuscate(cleaned) if deobfuscating else cleaned


def cache_texts(texts: Sequence[str], deobfuscating: bool) -> list[str]:
    """Texts for a feature cache, which preprocesses them again (idempotent): a post that
    deobfuscation leaves alone stays exactly as it was, so cached features keep their key.
    Training and evaluation both read features this way, as serving encodes them."""
    from monitor.classify.encoder import preprocess

    out = []
    for t in texts:
        plain = encoder_text(t, deobfuscating)
        out.append(t if plain == preprocess(t) else plain)
    return out


def deobfuscates(manifest: Mapping[str, Any]) -> bool:
    return bool(manifest.get("deobfuscate", False))
