"""The tension pack on hatred of a named group in the shapes functional tests probe.

Three sets of fictional posts, each hateful or benign with its shape (emotion, a threat, a
denied good quality, an opinion, a question, "they" after the group, insinuation; counter-
speech, negated hate, the same words at targets that are no protected group, hatred of
hatred, sympathy, neutral posts and news):

- the development set the 1.7.0 rules were written from (tests/fixtures/fairness/
  rules_shapes_dev.yaml);
- a held-out set by another author the rules were not written from (rules_shapes_heldout.yaml);
- the functional suite (functional.yaml) that `monitor eval` scores the classifier on.

A second pair (rules_shapes2_*.yaml) does the same for exclusion, wished violence,
dehumanising words, traits and slogans (the 1.7.1 rules), and a third (rules_shapes3_*.yaml)
for exclusion, whole-group claims and slogans in less obvious words (1.7.8: development 59 of
90 hateful and 1 of 70 benign flagged, held out 25 of 87 and 2 of 69).

A fourth pair (rules_shapes4_*.yaml) and a fifth development set (rules_shapes5_dev.yaml)
hold counter-speech that repeats hate to reject it (quoted, asked back and answered, negated,
mocked, reported) beside hateful posts that borrow its framing: there the bound on benign
posts flagged is the point.

The rules alone (no classifier scores), as measured with 1.7.1
(`.venv/bin/python benchmarks/rules_functional.py` prints these and the served figures):
development 109 of 161 hateful caught, 0 of 113 benign flagged; held out 44 of 133 and 4 of
91; second development 109 of 130 and 0 of 100; second held out 54 of 110 and 5 of 91 (as
many as before 1.7.0: the five are older rules' false alarms); functional suite 745 of 1,440
and 0 of 760. The bounds leave a little room; a change to the pack that loses these shapes,
or that starts flagging counter-speech, negated hate or news, fails here with the posts
concerned.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitor.classify.functional import load_suite
from monitor.rules.engine import evaluate_post
from tests.rules.conftest import post, shipped_ruleset

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "fairness"


def flagged(text: str) -> list[str]:
    hits = evaluate_post(shipped_ruleset(), post(text), {}).hits
    return sorted(h.rule_id for h in hits if h.rule_id.startswith("tension."))


def load_set(name: str) -> list[tuple[str, str, bool]]:
    stem = f"rules_shapes{name[-1]}_{name[:-1]}" if name[-1].isdigit() else f"rules_shapes_{name}"
    spec = yaml.safe_load((FIXTURES / f"{stem}.yaml").read_text(encoding="utf-8"))
    return [(p["text"], p["shape"], bool(p["hateful"])) for p in spec["posts"]]


def functional_set() -> list[tuple[str, str, bool]]:
    return [(c.text, c.functionality, c.hateful) for c in load_suite()]


# (set, least hateful posts caught, most benign posts flagged)
BOUNDS = [
    ("dev", 100, 2),
    ("heldout", 40, 6),
    ("dev2", 100, 2),
    ("heldout2", 48, 7),
    ("dev3", 55, 3),
    ("heldout3", 22, 4),
    # counter-speech that repeats hate to answer it, and hate in its framing (1.7.9): rules
    # alone catch 8, 6 and 7 hateful posts and flag 2 of 96, 7 of 96 and 5 of 60 benign ones
    ("dev4", 7, 3),
    ("heldout4", 5, 8),
    ("dev5", 6, 6),
    ("functional", 700, 3),
]


@pytest.mark.parametrize(("name", "least_caught", "most_flagged"), BOUNDS)
def test_hatred_of_a_named_group_caught_and_benign_posts_left(
    name: str, least_caught: int, most_flagged: int
) -> None:
    cases = functional_set() if name == "functional" else load_set(name)
    caught = [(shape, text) for text, shape, hateful in cases if hateful and flagged(text)]
    false_alarms = [
        (shape, text, flagged(text))
        for text, shape, hateful in cases
        if not hateful and flagged(text)
    ]
    hateful = sum(1 for _, _, h in cases if h)
    assert len(caught) >= least_caught, f"{name}: {len(caught)} of {hateful} hateful posts caught"
    assert len(false_alarms) <= most_flagged, "\n".join(
        f"[{shape}] {text!r} <- {rules}" for shape, text, rules in false_alarms
    )


def test_each_hateful_shape_of_the_development_set_is_caught_somewhere() -> None:
    """Insinuation without hostile words is left to people and the classifier; every other
    shape the 1.7.0 rules were written for is caught at least half the time."""
    by_shape: dict[str, list[bool]] = {}
    for text, shape, hateful in load_set("dev"):
        if hateful:
            by_shape.setdefault(shape, []).append(bool(flagged(text)))
    assert set(by_shape) >= {"emotion", "threat_direct", "negated_positive", "opinion"}
    for shape, flags in by_shape.items():
        if shape != "implicit":
            assert sum(flags) >= len(flags) / 2, f"{shape}: {sum(flags)} of {len(flags)}"


@pytest.mark.parametrize(
    "text",
    [
        "I hate football, the Poles next door are mad about it",
        "It's simply not true that refugees are violent",
        "People saying asylum seekers are vermin should be ashamed of themselves",
        "I despise the council, they've done nothing on Fern Street in years",
        "The way trans people get spoken about makes me sick",
        "Two men jailed for saying they were going to hurt Muslims in Millbeck",
    ],
)
def test_sentences_that_share_the_words_are_not_hatred(text: str) -> None:
    assert flagged(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Roma are dirty? Funny, the tidiest garden on our estate belongs to a Roma family.",
        "Disabled people are lazy? My brother uses a wheelchair and works more hours than you.",
        "Muslims are all terrorists? The lads from the mosque were first out with the shovels.",
    ],
)
def test_a_claim_asked_back_and_answered_is_not_flagged(text: str) -> None:
    assert flagged(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Refugees? Parasites, the lot of them, every single one.",  # the group asked, hate answered
        "Why are Roma always such thieves? Every time, same story.",  # a real question
        "Ukraińcy? Roszczeniowi, wszyscy tacy sami.",  # the same in Polish
    ],
)
def test_hate_in_the_answer_or_the_question_is_still_flagged(text: str) -> None:
    assert flagged(text) != []
