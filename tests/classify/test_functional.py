"""The functional suite: its coverage and its report (pure; no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.classify import functional
from monitor.classify.functional import FunctionalCase, functional_report

HATEFUL = {
    "derog_emotion",
    "derog_description",
    "dehumanisation",
    "implicit_derogation",
    "threat_direct",
    "threat_normative",
    "slur_free_exclusion",
    "pronoun_reference",
    "hate_as_question",
    "hate_as_opinion",
    "negated_positive_hateful",
    "spelling_variations",
}
NOT_HATEFUL = {
    "negated_hate",
    "neutral_identity",
    "positive_identity",
    "counter_quote",
    "counter_reference",
    "abuse_object",
    "abuse_individual",
    "abuse_nonprotected",
    "profanity_nonhateful",
    "news_report",
}


def test_the_suite_covers_every_phenomenon_with_ten_templates_each() -> None:
    cases = functional.load_suite()
    seen = {c.functionality: c.hateful for c in cases}
    assert {k for k, v in seen.items() if v} == HATEFUL
    assert {k for k, v in seen.items() if not v} == NOT_HATEFUL
    groups = {c.group for c in cases if c.group is not None}
    assert len(groups) == 12
    # A phenomenon about a group is filled for every group; the no-group ones are used once.
    for name in ("abuse_object", "abuse_individual", "abuse_nonprotected", "profanity_nonhateful"):
        mine = [c for c in cases if c.functionality == name]
        assert len(mine) == 10 and all(c.group is None for c in mine), name
    for name in HATEFUL | {"negated_hate", "counter_quote", "news_report"}:
        mine = [c for c in cases if c.functionality == name]
        assert len(mine) == 10 * len(groups), name
    assert not [c.text for c in cases if "{" in c.text or c.text[0].islower()]


def test_a_functionality_without_its_label_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(
        "groups:\n  roma: {category: ethnicity, form: Roma people}\n"
        "functionalities:\n  dehumanisation:\n    templates: ['{group} are vermin.']\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="dehumanisation.*hateful: true or false"):
        functional.load_suite(path)
    with pytest.raises(FileNotFoundError, match="functional suite not found"):
        functional.load_suite(tmp_path / "missing.yaml")


def test_the_report_counts_right_per_phenomenon_and_recall_per_group() -> None:
    cases = [
        FunctionalCase("A are vermin.", "dehumanisation", True, "a"),
        FunctionalCase("B are vermin.", "dehumanisation", True, "b"),
        FunctionalCase("Why are A so vile?", "hate_as_question", True, "a"),
        FunctionalCase("Why are B so vile?", "hate_as_question", True, "b"),
        FunctionalCase("A are not vermin.", "negated_hate", False, "a"),
        FunctionalCase("B are not vermin.", "negated_hate", False, "b"),
        FunctionalCase("This printer is vile.", "abuse_object", False, None),
    ]
    # A: both hateful caught, its negation flagged; B: one caught; the printer left alone.
    scores = [0.9, 0.8, 0.7, 0.2, 0.6, 0.1, 0.3]
    report = functional_report(cases, scores, 0.5)
    per = report["per_functionality"]
    assert per["dehumanisation"] == {"hateful": True, "cases": 2, "share_right": 1.0}
    assert per["hate_as_question"]["share_right"] == 0.5
    assert per["negated_hate"]["share_right"] == 0.5
    assert per["abuse_object"]["share_right"] == 1.0
    assert report["per_group"]["a"] == {"recall_hateful": 1.0, "fpr_non_hateful": 1.0}
    assert report["per_group"]["b"] == {"recall_hateful": 0.5, "fpr_non_hateful": 0.0}
    assert set(report["per_group"]) == {"a", "b"}
    o = report["overall"]
    assert o["recall_hateful"] == 0.75
    assert o["fpr_non_hateful"] == pytest.approx(1 / 3, abs=1e-4)
    assert o["accuracy"] == pytest.approx(5 / 7, abs=1e-4)
    assert (o["lowest_group_recall"], o["highest_group_recall"]) == (0.5, 1.0)
    # The 0.2 hateful question ranks below the 0.6 negation and the 0.3 printer: 10 of 12.
    assert o["auc"] == pytest.approx(10 / 12)
    with pytest.raises(ValueError, match="7 cases but 6 scores"):
        functional_report(cases, scores[:-1], 0.5)
    text = "\n".join(functional.format_report(report))
    assert "hate_as_question" in text and "0.50" in text
    # A suite with no hateful posts still reports, without the figures it cannot have.
    benign_only = functional_report([c for c in cases if not c.hateful], [0.6, 0.1, 0.3], 0.5)
    assert benign_only["overall"]["auc"] is None
    assert "AUC -" in "\n".join(functional.format_report(benign_only))
