"""The tension pack on hatred of a named group beyond English, in functional shapes.

Two sets of fictional posts in each of Polish, Arabic, Hindi, Urdu (Arabic script and
romanised), Romanian, Slovak and Punjabi (Gurmukhi and romanised)
(tests/fixtures/fairness/language_shapes_dev.yaml and language_shapes_heldout.yaml), each
hateful or benign, with its shape and the group it names:
hatred declared, traits, dehumanising words, threats, hate as an opinion or a question, denied
good qualities, "they" after the group, exclusion, slurs and disguised spellings; neutral and
positive mentions, counter-speech, negated hate, the same words at no protected group and
profanity. The classifier does not score these languages, so the rules are all the service
has for them.

The rules were widened from the development set (tension 1.8.0-1.8.2); the held-out
set was written by other authors and not read by the rule writers. `.venv/bin/python
benchmarks/rules_language_shapes.py` prints every figure per shape and group, against the rules
before. The bounds leave a little room; a change to the pack that loses these shapes, or
that starts flagging counter-speech, negated hate or neutral posts, fails here with the posts
concerned.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import yaml

from monitor.rules.engine import evaluate_post
from tests.rules.conftest import post, shipped_ruleset

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "fairness"


def flagged(text: str, language: str) -> list[str]:
    hits = evaluate_post(shipped_ruleset(), post(text, language=language), {}).hits
    return sorted(h.rule_id for h in hits if h.rule_id.startswith("tension."))


@functools.cache
def load_set(name: str) -> dict[str, list[tuple[str, str, str, bool]]]:
    path = FIXTURES / f"language_shapes_{name}.yaml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))["languages"]
    return {
        key: [(p["text"], p["shape"], p["group"], bool(p["hateful"])) for p in entry["posts"]]
        for key, entry in spec.items()
    }


def code(key: str) -> str:
    """The language code of a set's key ("ur-Latn" is Urdu in Latin letters)."""
    return key.split("-")[0]


# (set, language, least hateful posts caught of 120, most benign posts flagged of 70)
# 1.8.0 catches 118, 117 and 118 development posts and 85, 56 and 79 held-out ones, and flags
# none and 1, 3 and 3 benign ones (1.7.9: 51, 45, 41 and 53, 41, 38; 2, 2, 2 and 1, 3, 2).
BOUNDS = [
    ("dev", "pl", 112, 1),
    ("dev", "ar", 111, 1),
    ("dev", "hi", 112, 1),
    ("heldout", "pl", 80, 2),
    ("heldout", "ar", 52, 4),
    ("heldout", "hi", 74, 4),
    # 1.8.1: 118, 119, 120 and 120 development posts and 82, 75, 68 and 78 held-out ones, with
    # 0 and 2, 2, 6 and 4 benign ones flagged (1.8.0: 32, 20, 40, 49; 3, 1, 8, 5)
    ("dev", "ro", 112, 1),
    ("dev", "sk", 113, 1),
    ("dev", "ur", 114, 1),
    ("dev", "ur-Latn", 114, 1),
    ("heldout", "ro", 77, 3),
    ("heldout", "sk", 70, 3),
    ("heldout", "ur", 63, 7),
    ("heldout", "ur-Latn", 80, 5),
    # 1.8.2: 115 and 119 development posts and 56 and 60 held-out ones, with 0 and 3, 5 and 7
    # benign ones flagged (1.8.1: 8 and 38; 1 and 5); romanised Urdu held out rose to 85
    ("dev", "pa", 110, 1),
    ("dev", "pa-Latn", 113, 4),
    ("heldout", "pa", 52, 6),
    ("heldout", "pa-Latn", 56, 8),
]


@pytest.mark.parametrize(("name", "language", "least_caught", "most_flagged"), BOUNDS)
def test_hatred_of_a_named_group_caught_and_benign_posts_left(
    name: str, language: str, least_caught: int, most_flagged: int
) -> None:
    cases = load_set(name)[language]
    caught = [text for text, _, _, hateful in cases if hateful and flagged(text, code(language))]
    false_alarms = [
        (shape, text, flagged(text, code(language)))
        for text, shape, _, hateful in cases
        if not hateful and flagged(text, code(language))
    ]
    hateful = sum(1 for *_, h in cases if h)
    assert len(caught) >= least_caught, f"{name} {language}: {len(caught)} of {hateful} caught"
    assert len(false_alarms) <= most_flagged, "\n".join(
        f"[{shape}] {text!r} <- {rules}" for shape, text, rules in false_alarms
    )


@pytest.mark.parametrize(
    "language", ["pl", "ar", "hi", "ro", "sk", "ur", "ur-Latn", "pa", "pa-Latn"]
)
def test_every_group_of_the_development_set_is_covered(language: str) -> None:
    """Hatred of women, disabled, gay or trans people was caught 0-3 times in 6-12 before
    1.8.0 in every language: the group lists named Bradford's communities only. Each group
    with at least five hateful development posts is now caught in most of them."""
    by_group: dict[str, list[bool]] = {}
    for text, _, group, hateful in load_set("dev")[language]:
        if hateful:
            by_group.setdefault(group, []).append(bool(flagged(text, code(language))))
    thin = {
        g: f"{sum(f)}/{len(f)}" for g, f in by_group.items() if len(f) >= 5 and 2 * sum(f) <= len(f)
    }
    assert not thin, f"{language}: groups barely covered: {thin}"
