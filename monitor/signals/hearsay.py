"""Pure: whether a post passes something on as hearsay ("apparently", "I've been told",
"word is", "is it true that ...").

A rumour spreads as hearsay: people repeat what they were told, hedged, or ask whether it is
true. A rumour head trained on other posts misses many such posts (on the demo week the
keyword lexicon calls only about half of a rumour's early posts claims), so a cluster's claim
share would wait for many more posts before a slow-spreading rumour counts as one. Everyday
talk rarely carries these cues ("anyone know a good plumber?" asks for help, it does not pass
on a claim), so they are counted as claims for the claim share, not for starting a cluster.
"""

from __future__ import annotations

import re

# Second-hand attribution, hedges and "is it true" questions. Plain "anyone know ..." is left
# out, "anyone know if" too: everyday talk asks them all the time ("anyone know if the market
# is open on Friday?").
_CUES = (
    r"apparently",
    r"allegedly",
    r"reportedly",
    r"(?:i|i've|i have|i'd|ive|just|we've|weve)\s+(?:been\s+)?(?:heard|told)",
    r"i'm\s+told|im\s+told|i\s+am\s+told|so\s+i'm\s+told",
    r"heard\s+(?:that|it|from)",
    r"i'm\s+hearing|im\s+hearing|hearing\s+all\s+sorts|hearing\s+(?:that|rumours)",
    r"word\s+is",
    r"rumou?r\s+(?:is|has\s+it)|rumou?rs\s+are",
    r"(?:they're|theyre|they\s+are|people\s+are|people're|everyone's|everyones|everyone\s+is"
    r"|everybody's|everybody\s+is)\s+saying",
    r"is\s+it\s+true|is\s+this\s+true|is\s+that\s+true",
    r"can\s+(?:anyone|someone|somebody)\s+confirm",
    # "Nobody's talking about this", and written out: "nobody is", "no one is"; asked, "why is
    # nobody talking about this?"
    r"(?:nobody|no\s+one|no-one)(?:'?s|\s+is)?\s+talking\s+about\s+(?:this|it)",
    r"(?:cousin|mate|mate's\s+\w+|friend|neighbour|sister|brother|aunt|auntie|uncle|mum|dad"
    r"|nan|wife|husband)\s+(?:\w+\s+){0,5}(?:says|said|reckons|told\s+me)",
)
_HEARSAY = re.compile(r"(?<![\w'])(?:" + "|".join(_CUES) + r")(?![\w'])", re.IGNORECASE)


def hearsay(text: str) -> bool:
    """Whether the text passes something on second-hand or asks if it is true."""
    return _HEARSAY.search(text.replace("\u2019", "'")) is not None
