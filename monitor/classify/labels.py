"""The classifier's labels: the names every implementation scores and rules can refer to."""

from __future__ import annotations

HOSTILE = "hostile"  # hateful or abusive content about a group of people
OFFENSIVE = "offensive"  # offensive or abusive language, whoever it is aimed at
RUMOUR = "rumour"  # an unverified claim being passed on
STANCES: tuple[str, ...] = ("support", "deny", "query", "comment")
STANCE_LABELS: tuple[str, ...] = tuple(f"stance_{s}" for s in STANCES)

# Labels that flag a post when over their threshold (stance only describes a reply).
FLAG_LABELS: tuple[str, ...] = (HOSTILE, OFFENSIVE, RUMOUR)

# Every score an implementation returns, in this order.
LABELS: tuple[str, ...] = (HOSTILE, OFFENSIVE, RUMOUR, *STANCE_LABELS)

LABEL_HELP: dict[str, str] = {
    HOSTILE: "hateful or abusive content about a group (content, never a person's standing)",
    OFFENSIVE: "offensive or abusive language",
    RUMOUR: "an unverified claim being passed on",
    "stance_support": "reply supports the claim it answers",
    "stance_deny": "reply denies or refutes the claim it answers",
    "stance_query": "reply asks for evidence or questions the claim",
    "stance_comment": "reply comments without taking a side",
}
