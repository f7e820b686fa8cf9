"""Pure: whether a reply agrees with what it answers ("tell me about it", "knew this would
happen", "wake up Bradford").

A stance head trained on other threads reads such replies as denial: they are short, negative
in tone and often carry a negation ("not surprised one bit", "nobody trusts them"). A denial
counts as the story's response (never its evidence), so a misread agreement shrinks the story it
belongs to. These cues are the ones agreement and grievance replies use that a denial never does.
"""

from __future__ import annotations

import re

_CUES = (
    r"tell\s+me\s+about\s+it",
    r"(?:not|no|hardly)\s+(?:at\s+all\s+)?surpris(?:ed|ing)",
    r"no\s+surprise",
    r"(?:knew|know|said|told\s+you)\s+(?:this|it|that)\s+would\s+happen",
    r"saw\s+(?:this|it|that)\s+coming",
    r"told\s+you\s+so",
    r"wake\s+up\s+\w+",
    r"same\s+(?:thing\s+)?happened\s+to",
    r"this\s+is\s+why\s+(?:nobody|no\s+one|no-one|people|we)",
    r"(?:fair|good|great|valid)\s+point",
    r"spot\s+on",
    r"(?<!n't )(?<!nt )(?<!not )(?:read|share)\s+this",  # not "don't share this"
    r"about\s+time\s+(?:someone|somebody|people)",
    r"never\s+change,?\s+\w+",
)
_AGREES = re.compile(r"(?<![\w'])(?:" + "|".join(_CUES) + r")(?![\w'])", re.IGNORECASE)


def agrees(text: str) -> bool:
    """Whether the text carries a cue of agreeing with, or adding to, what it answers."""
    return _AGREES.search(text.replace("\u2019", "'")) is not None
