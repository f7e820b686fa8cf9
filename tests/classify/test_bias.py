"""Identity-group bias suite on the real classifier (marked `model`; CI runs it).

Fictional templated posts mentioning the communities of Bradford and Kirklees: neutral,
positive and counter-speech posts (quoting or refuting a rumour or slur) must not be flagged
hostile; hostile ones should be. Templates: tests/fixtures/bias/templates.yaml, written apart
from the training templates. Measured with the int8 encoder the heads were trained on
(`monitor eval`, see the model card): counter-speech false-positive rate 0.13, neutral 0.00,
positive 0.03, hostile recall 0.72; counter-speech 0.16 on the fp32 encoder that now serves.
The bounds below leave room for noise but fail on a real regression.
"""

from __future__ import annotations

from typing import Any

import pytest

from monitor.classify.bias import BENIGN_KINDS, HOSTILE_KIND, bias_report, load_cases

pytestmark = pytest.mark.model

MAX_COUNTER_FPR = 0.20  # the aim
MAX_NEUTRAL_POSITIVE_FPR = 0.05
MIN_HOSTILE_RECALL = 0.65
MAX_GROUP_BENIGN_FPR = 0.25  # no group's neutral+positive+counter posts flagged this often


@pytest.fixture(scope="module")
def report(transformer_cached: Any) -> dict[str, Any]:
    transformer = transformer_cached
    cases = load_cases()
    assert {c.kind for c in cases} == {*BENIGN_KINDS, HOSTILE_KIND}
    scores = [a.scores for a in transformer.analyse_sync([c.text for c in cases])]
    rep = bias_report(cases, scores, transformer.thresholds["hostile"])
    rep["cases"] = cases
    rep["flags"] = [s["hostile"] >= transformer.thresholds["hostile"] for s in scores]
    return rep


def test_counter_speech_is_rarely_flagged_hostile(report: dict[str, Any]) -> None:
    assert report["overall"]["fpr_counter"] < MAX_COUNTER_FPR


def test_neutral_and_positive_mentions_are_not_flagged(report: dict[str, Any]) -> None:
    assert report["overall"]["fpr_neutral"] <= MAX_NEUTRAL_POSITIVE_FPR
    assert report["overall"]["fpr_positive"] <= MAX_NEUTRAL_POSITIVE_FPR


def test_hostile_posts_are_caught(report: dict[str, Any]) -> None:
    assert report["overall"]["recall_hostile"] >= MIN_HOSTILE_RECALL


def test_no_group_is_singled_out(report: dict[str, Any]) -> None:
    for group in report["groups"]:
        benign = [
            f
            for c, f in zip(report["cases"], report["flags"], strict=True)
            if c.group == group and c.kind in BENIGN_KINDS
        ]
        assert sum(benign) / len(benign) <= MAX_GROUP_BENIGN_FPR, group
