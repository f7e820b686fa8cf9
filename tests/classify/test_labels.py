"""Stance is decided among four classes against their thresholds, not flagged."""

from __future__ import annotations

from monitor.classify.labels import decide_stance

SCORES = {"stance_support": 0.30, "stance_deny": 0.15, "stance_query": 0.05, "stance_comment": 0.50}


def test_without_thresholds_the_most_probable_class_wins() -> None:
    assert decide_stance(SCORES) == "comment"


def test_thresholds_let_a_rare_class_through_when_it_is_well_over_its_own() -> None:
    thresholds = {
        "stance_support": 0.35,
        "stance_deny": 0.12,
        "stance_query": 0.24,
        "stance_comment": 0.46,
    }
    # deny: 0.15 / 0.12 = 1.25 beats comment 0.50 / 0.46 = 1.09
    assert decide_stance(SCORES, thresholds) == "deny"


def test_no_stance_scores_means_comment() -> None:
    assert decide_stance({"hostile": 0.9}) == "comment"
