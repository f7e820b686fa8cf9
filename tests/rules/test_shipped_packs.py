"""The shipped packs (rules/tension, rules/rumour) load, and every example in them holds.

This is what CI runs (as well as `monitor rules test`): an edit that breaks a rule or one of its
examples fails here with the file and line of the example.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from monitor.rules.engine import evaluate_post
from monitor.rules.examples import ExampleResult, run_examples
from monitor.rules.loader import load_ruleset
from monitor.rules.schema import KINDS, SEVERITIES
from tests.rules.conftest import post

ROOT = Path(__file__).resolve().parents[2]
RULESET = load_ruleset(ROOT / "rules", today=dt.date(2026, 1, 1))
RESULTS = run_examples(RULESET)  # no classifier: examples of score rules carry their scores


def test_the_shipped_packs_are_there() -> None:
    assert {"tension", "rumour"} <= {p.id for p in RULESET.packs}
    assert len(RULESET.rules) >= 15


@pytest.mark.parametrize("result", RESULTS, ids=lambda r: f"{r.file}:{r.line}")
def test_every_example(result: ExampleResult) -> None:
    want = "match" if result.expected else "not match"
    assert result.passed, (
        f"{result.file}:{result.line}: {result.origin} should {want}: {result.text!r}\n"
        + "\n".join(result.lines)
    )


def test_examples_of_score_rules_give_their_scores() -> None:
    """So that CI does not depend on a model's scores to test a rule's logic."""
    for rule in RULESET.rules:
        if rule.scores:
            for ex in (*rule.match, *rule.no_match):
                assert ex.scores is not None, f"{rule.file}:{ex.line}"


def test_packs_say_who_owns_them_and_when_to_review() -> None:
    for pack in RULESET.packs:
        assert pack.owner and pack.purpose and pack.version
        assert pack.review_by > dt.date(2026, 1, 1)


def test_labels_are_ones_alerts_route_on() -> None:
    for rule in RULESET.rules:
        assert rule.labels["kind"] in KINDS
        assert rule.labels["severity"] in SEVERITIES
        assert rule.labels["topic"]
        assert not (rule.window and rule.window.per not in ("ward", "locality", "cluster"))


def test_rules_tried_on_every_post_are_cheap_score_checks() -> None:
    """A rule with no word it requires is tried on every post; in the shipped packs those are
    only classifier-score rules, whose first check is one number against a threshold."""
    for rule in RULESET.unanchored:
        assert rule.scores and rule.query is None, rule.id


# Fictional counter messages and refutations, in the council's and residents' own words. The
# packs must not flag any of them (threat rules excepted: quoting a threat still tells the team
# a threat is going round, and none is quoted here).
COUNTER_MESSAGES = [
    "You may have seen posts claiming the Greyfield Hotel is housing asylum seekers. This is not "
    "true: the hotel is open to guests as normal. #MakeSureItAddsUp",
    "Contrary to rumours online, no mosque is being built on Marsh Lane and no planning "
    "application has been made. Get the facts before you share. #MakeSureItAddsUp",
    "Hillside Primary has NOT banned Christmas. The nativity is on 12 December as every year. "
    "Please don't share posts that say otherwise.",
    "Social housing in Millbeck is allocated by need under the published policy; claims that "
    "refugees jump the queue are false. Here are the facts: https://example.org/housing",
    "We want to reassure residents of Eastbrook: there is no plan to close the baths.",
    "Apparently the hotel is full of asylum seekers? No. Debunked last week, stop spreading it.",
    "That post about the school is made up. My kids go there, nothing has changed.",
    "Saw posts calling our neighbours vermin. Disgusting. Reported every one.",
    "We are aware of calls to gather outside the Greyfield Hotel at 7pm tonight. Please do not "
    "attend; officers will be in the area. #MakeSureItAddsUp",
]


@pytest.mark.parametrize("text", COUNTER_MESSAGES)
def test_counter_messages_and_refutations_are_not_flagged(text: str) -> None:
    p = post(text, ward="Eastbrook", locality="North Vale")
    ev = evaluate_post(RULESET, p, {"hostile": 0.0, "rumour": 0.0})
    flagged = [h.rule_id for h in ev.hits] + [r.id for r in ev.windowed]
    assert flagged == [], flagged
