"""The classifier's labels: the names every implementation scores and rules can refer to."""

from __future__ import annotations

from collections.abc import Mapping

HOSTILE = "hostile"  # hateful or abusive content about a group of people
OFFENSIVE = "offensive"  # offensive or abusive language, whoever it is aimed at
RUMOUR = "rumour"  # an unverified claim being passed on
STANCES: tuple[str, ...] = ("support", "deny", "query", "comment")
STANCE_LABELS: tuple[str, ...] = tuple(f"stance_{s}" for s in STANCES)

# Labels that flag a post when over their threshold (stance only describes a reply: it is
# decided among the four classes instead, by `decide_stance`).
FLAG_LABELS: tuple[str, ...] = (HOSTILE, OFFENSIVE, RUMOUR)


def flags_over(scores: Mapping[str, float], thresholds: Mapping[str, float]) -> list[str]:
    """The labels that flag a post, sorted: content labels at or over their thresholds (a
    reply's stance is a score that signals use, never a reason to flag the post)."""
    return sorted(k for k, v in scores.items() if k in FLAG_LABELS and v >= thresholds.get(k, 2.0))


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


def decide_stance(
    scores: Mapping[str, float], thresholds: Mapping[str, float] | None = None
) -> str:
    """The stance a reply is given: the class whose score most exceeds its threshold, as a
    ratio (`stance_thresholds` of the classifier; the model card states them). Without
    thresholds, the most probable class, which under-calls the rare deny and query."""
    best, best_value = "comment", -1.0
    for stance, label in zip(STANCES, STANCE_LABELS, strict=True):
        if label not in scores:
            continue
        t = thresholds.get(label, 1.0) if thresholds else 1.0
        value = scores[label] / max(t, 1e-6)
        if value > best_value:
            best, best_value = stance, value
    return best
