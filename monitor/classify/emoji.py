"""Pure: write the emoji abuse leans on as words, so the encoder can read them.

The encoder's vocabulary has no emoji: each is one unknown token, the same for 🐀 as for 🎉.
So "Refugees are 🐀", "I hate ☪️" and "I'll 🔪 the lot of them" were scored as "Refugees
are", "I hate" and "I'll the lot of them", and abuse that swaps a word for an emoji to get
past filters went unseen. `read_emoji` writes each emoji of `EMOJI_READINGS` as the word it
stands in for, before the encoder:

- a group's symbol as the group (☪️ "muslims", ✡️ "jews", 🏳️‍🌈 "gay", 🏳️‍⚧️ "trans");
- the animals and vermin of dehumanising abuse as the animal (🐀 "rat", 🐒 "monkey", 🐷
  "pig", 🪳 "cockroach", 🦠 "virus");
- weapons, fire and fuel as the thing (🔪 "knife", 🔫 "gun", 💣 "bomb", 🔥 "fire", ⛽
  "petrol"), as the rules' normaliser reads them.

Literal words, not interpretations: "🐒 at the zoo" reads "monkey at the zoo", and what the
post means is left to the classifier, which reads the group, the animal and the rest together.
Faces, hearts, hands and flags of countries are left alone (they mean too many things), as is
every emoji not in the table, so most posts encode exactly as before. Faces were measured and
left out: read as words (🤮 and 🤢 "disgusting", 🤡 "clown", 💩 "shit") they turned 18 of
TweetEval offensive's training and validation posts that its annotators read as not offensive
("Monday again 🤢") into offensive flags, against 6 offensive ones caught, while the heads they
would help (hostile, on "Muslims in Batley 🤮") read the same encoder pass.
"""

from __future__ import annotations

import re

# Emoji that stand for a group, and for a weapon, fire or fuel: read as their words by the
# classifier (below) and by the rules (`monitor.rules.normalise`). 🔥 is "fire", never "burn":
# "this tune is 🔥" is praise.
GROUP_EMOJI = {"☪": "muslims", "✡": "jews"}
WEAPON_EMOJI = {
    "🔥": "fire", "⛽": "petrol", "🔪": "knife", "🗡": "knife", "🔫": "gun", "💣": "bomb",
    "🪓": "axe",
}  # fmt: skip
# The rainbow and transgender flags are sequences (white flag, variation selector, joiner,
# symbol), typed with or without the selector and the joiner (which the rules strip first).
FLAG_SEQUENCES = re.compile("\U0001f3f3\ufe0f?\u200d?(?:(\U0001f308)|\u26a7\ufe0f?)")
WHITE_FLAG = "\U0001f3f3"


def flag_word(match: re.Match[str]) -> str:
    """What a match of `FLAG_SEQUENCES` stands for, set apart by spaces."""
    return " gay " if match.group(1) else " trans "


# The group symbols and weapons (the rules read those too), and more: other faiths' symbols,
# headwear, and the animals of dehumanising abuse in the singular, as one emoji reads.
EMOJI_READINGS: dict[str, str] = {
    **GROUP_EMOJI, "🕎": "jewish", "✝": "christians", "☦": "christians",
    "🕉": "hindus", "☬": "sikhs", "☸": "buddhists", "👳": "turban", "🧕": "headscarf",
    "🐀": "rat", "🐁": "rat", "🐷": "pig", "🐖": "pig", "🐽": "pig", "🐒": "monkey",
    "🐵": "monkey", "🙈": "monkey", "🙉": "monkey", "🙊": "monkey", "🦍": "gorilla",
    "🦧": "ape", "🪳": "cockroach", "🦠": "virus", "🐍": "snake", "🪱": "worm", "🐛": "worm",
    "🦟": "mosquito", "🐄": "cow", "🐮": "cow", "🐐": "goat", "🐕": "dog", "🐶": "dog",
    **WEAPON_EMOJI, "🧨": "dynamite",
}  # fmt: skip
_PATTERN = re.compile(
    "(?:" + "|".join(re.escape(e) for e in sorted(EMOJI_READINGS, key=len, reverse=True)) + ")"
    "\ufe0f?"
)
_SPACES = re.compile(r"[ ]{2,}")


def read_emoji(text: str) -> str:
    """The text with each emoji of `EMOJI_READINGS` and the rainbow and trans flags written as
    their words, set apart by spaces; a text with none of them is returned unchanged (the same
    object)."""
    if text.isascii():
        return text
    out = FLAG_SEQUENCES.sub(flag_word, text) if WHITE_FLAG in text else text
    out = _PATTERN.sub(lambda m: f" {EMOJI_READINGS[m.group().rstrip(chr(0xFE0F))]} ", out)
    return text if out == text else _SPACES.sub(" ", out).strip()
