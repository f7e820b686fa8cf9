"""Fairness, obfuscation and language suites: the metrics, the suites' coverage, and the
deobfuscation that runs before the encoder (pure; no model needed)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from monitor.classify import fairness, languages, obfuscation
from monitor.classify.deobfuscate import deobfuscate, encoder_text
from monitor.classify.fairness import FairnessCase, auc, fairness_report

GROUPS_FILE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "identity-groups.md"


def test_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(3)
    pos = rng.integers(0, 5, 40) / 4
    neg = rng.integers(0, 5, 60) / 5
    expected = roc_auc_score([1] * 40 + [0] * 60, np.concatenate([pos, neg]))
    assert auc(pos, neg) == pytest.approx(expected)
    assert auc([], [0.1]) is None


def _cases(group: str, kind: str, n: int) -> list[FairnessCase]:
    return [FairnessCase(f"{group} {kind} {i}", kind, group, "test") for i in range(n)]


def test_a_group_flagged_far_more_often_fails_the_bar_and_has_a_low_bpsn() -> None:
    cases: list[FairnessCase] = []
    scores: list[float] = []
    for g in ("a", "b", "c", "d"):
        mentions = _cases(g, "neutral", 20)
        hostile = _cases(g, "hostile", 10)
        cases += mentions + hostile
        # group "a": 5 of 20 neutral mentions over the threshold; others: none
        scores += [0.9 if (g == "a" and i < 5) else 0.1 for i in range(20)] + [0.8] * 10
    rep = fairness_report(cases, scores, threshold=0.5)
    a, b = rep["groups"]["a"], rep["groups"]["b"]
    assert a["fpr_mention"] == 0.25 and a["fpr_mention_rest"] == 0.0
    assert a["fails_fpr_bar"] and not b["fails_fpr_bar"]
    assert rep["overall"]["groups_failing_fpr_bar"] == ["a"]
    assert rep["bars"]["fpr_bar_met"] is False
    assert a["bpsn_auc"] < b["bpsn_auc"]  # a's benign posts outscore others' hostile ones
    assert a["bnsp_auc"] == 1.0


def test_a_large_ratio_of_tiny_rates_is_not_a_failure() -> None:
    """1 in 100 against 0.5 in 100 is 2x but half a point: under the 2-point bar."""
    cases = _cases("a", "neutral", 100) + _cases("b", "neutral", 200)
    scores = [0.9] + [0.1] * 99 + [0.9] + [0.1] * 199
    rep = fairness_report(cases, scores, threshold=0.5)
    assert rep["groups"]["a"]["fpr_ratio"] == 2.0
    assert not rep["groups"]["a"]["fails_fpr_bar"]


def test_counter_and_solidarity_bars() -> None:
    cases = _cases("a", "counter", 10) + _cases("a", "solidarity", 5) + _cases("a", "hashtag", 5)
    scores = [0.9] * 2 + [0.1] * 8 + [0.1] * 10
    rep = fairness_report(cases, scores, threshold=0.5)
    assert rep["overall"]["fpr_counter"] == 0.2 and not rep["bars"]["counter_fpr_met"]
    assert rep["overall"]["fpr_solidarity"] == 0.0 and rep["bars"]["solidarity_fpr_met"]


def test_identity_suite_covers_every_category_and_shape() -> None:
    cases = fairness.load_suite()
    categories = {c.category for c in cases}
    assert categories >= {
        "sexuality", "gender_identity", "religion", "ethnicity", "nationality", "status",
        "disability", "age",
    }  # fmt: skip
    kinds = {c.kind for c in cases}
    assert kinds == {*fairness.BENIGN_KINDS, fairness.HOSTILE_KIND}
    groups = {c.group for c in cases}
    # every group gets every template: same number of cases per group
    per_group = {g: sum(c.group == g for c in cases) for g in groups}
    assert len(set(per_group.values())) == 1
    assert all("{" not in c.text for c in cases)


@pytest.mark.skipif(not GROUPS_FILE.is_file(), reason="shared reference not present")
def test_identity_suite_names_the_groups_of_the_reference_list() -> None:
    text = " ".join(c.text.lower() for c in fairness.load_suite())
    for term in (
        "lesbian", "gay", "bisexual", "trans", "non-binary", "queer", "muslim", "sikh", "hindu",
        "jew", "christian", "catholic", "pentecostal", "ahmadi", "pakistani", "kashmiri",
        "mirpuri", "bangladeshi", "gujarati", "punjabi", "black british", "african",
        "caribbean", "chinese", "arab", "kurd", "afghan", "syrian", "polish", "slovak", "czech",
        "romanian", "bulgarian", "lithuanian", "roma", "gyps", "traveller", "asylum",
        "refugee", "migrant", "hotel", "international students", "deaf", "blind", "autistic",
        "wheelchair", "learning disabilities", "mental illness", "young people",
        "older people", "white working-class",
    ):  # fmt: skip
        assert term in text, term


def test_disguises() -> None:
    v = obfuscation.variants("They are [vermin] and [scum].")
    assert v["plain"] == "They are vermin and scum."
    assert v["leet"] == "They are v3rm1n and 5cum."
    assert v["spaced"] == "They are v e r m i n and s c u m."
    assert v["swap"] == "They are vremin and sucm."
    assert v["drop"] == "They are vrmin and scm."
    assert v["nospace"] == "They areverminandscum."
    cases = obfuscation.load_suite()
    assert {c.form for c in cases} == set(obfuscation.FORMS)
    assert any(c.hostile for c in cases) and any(not c.hostile for c in cases)


def test_obfuscation_report_counts_recall_per_form() -> None:
    cases = [
        obfuscation.ObfuscationCase("x", "plain", True, 0),
        obfuscation.ObfuscationCase("x", "leet", True, 0),
        obfuscation.ObfuscationCase("y", "plain", True, 1),
        obfuscation.ObfuscationCase("y", "leet", True, 1),
        obfuscation.ObfuscationCase("z", "leet", False, 2),
    ]
    rep = obfuscation.obfuscation_report(cases, [0.9, 0.2, 0.9, 0.9, 0.7], 0.5)
    assert rep["per_form"]["plain"]["recall"] == 1.0
    assert rep["per_form"]["leet"]["recall"] == 0.5
    assert rep["per_form"]["leet"]["fpr"] == 1.0
    assert rep["recall_disguised"] == 0.5


@pytest.mark.parametrize(
    ("disguised", "plain"),
    [
        ("Muslims are v3rm1n", "Muslims are vermin"),
        ("they are v e r m i n!", "they are vermin!"),
        ("k.i.l.l them all", "kill them all"),
        ("K I L L them all", "kill them all"),
        ("I h@te them!!!", "I hate them!!!"),
        ("scuuuuum", "scuum"),
        ("v\u0435rmin", "vermin"),  # Cyrillic e
    ],
)
def test_deobfuscate_undoes_disguises(disguised: str, plain: str) -> None:
    assert deobfuscate(disguised) == plain


@pytest.mark.parametrize(
    "ordinary",
    [
        "Bus 72 diverted at 7.30pm, back on the 2nd of May. £50 fine! #StandTogether",
        "@user see http and U K news, e.g. the N.H.S. Good!!",
        "Muzułmanie w Bradford, ڈیوزبری میں آج میٹنگ ہے, Ședința cu părinții",
        "Meet at 19:30 near the café, b4 the 10pm bus, 3 for 2 on 4G",
    ],
)
def test_deobfuscate_leaves_ordinary_posts_alone(ordinary: str) -> None:
    assert deobfuscate(ordinary) == ordinary


def test_encoder_text_applies_deobfuscation_only_when_asked() -> None:
    assert encoder_text("@someone  they are v3rm1n", True) == "@user they are vermin"
    assert encoder_text("@someone  they are v3rm1n", False) == "@user they are v3rm1n"


def test_language_coverage() -> None:
    covered = languages.covered_languages({"covered_languages": ["en"]})
    assert languages.is_covered("en", covered)
    assert languages.is_covered(None, covered)  # unknown language: scored (see module doc)
    assert not languages.is_covered("ur", covered)
    assert not languages.is_covered("pl", covered)
    assert languages.is_covered("pl", None)  # a classifier declaring no coverage scores all
    assert languages.covered_languages({}) == frozenset({"en"})
    with pytest.raises(ValueError, match="covered_languages"):
        languages.covered_languages({"covered_languages": "en"})


def test_language_suite_and_report() -> None:
    cases, names = languages.load_suite()
    keys = {"pl", "ur", "ur-Latn", "pa", "pa-Arab", "pa-Latn", "ar", "ro", "sk", "hi"}
    assert keys | {"en"} == set(names)
    assert all(re.search(r"\w", c.text) for c in cases)
    # Every language has every category in both splits, and held-out posts are not training
    # posts (the multilingual heads are measured on eval only).
    for key in names:
        for split in languages.SPLITS:
            mine = {c.category for c in cases if c.key == key and c.split == split}
            assert mine == set(languages.CATEGORIES), (key, split)
    train = {c.text for c in cases if c.split == "train"}
    assert not train & {c.text for c in cases if c.split == "eval"}
    assert len({c.text for c in cases}) == len(cases)
    # Training posts translate English ones: every other language pairs each English post.
    pairs = languages.translation_pairs(cases)
    english_train = [c for c in cases if c.key == "en" and c.split == "train"]
    assert len(pairs) == len(english_train) * len(keys)
    assert ("Muslims are a disease on this town.", "Muzułmanie to zaraza tego miasta.") in pairs

    scores = [0.9 if c.hostile and c.key == "pl" else 0.1 for c in cases]
    scores = [
        0.9 if c.key == "ar" and c.category == "counter" else s
        for c, s in zip(cases, scores, strict=True)
    ]
    rep = languages.language_report(
        cases, scores, 0.5, names, frozenset({"en"}), detect=lambda t: "pl"
    )
    pl, ar, en = rep["pl"], rep["ar"], rep["en"]
    assert pl["recall_hostile_if_scored"] == 1.0 and pl["if_scored"]["recall_threat"] == 1.0
    assert pl["covered"] is False and pl["scored_in_service"] == 0.0
    assert pl["not_scored_in_service"] == pl["posts"] == sum(pl["posts_by_category"].values())
    assert ar["recall_hostile_if_scored"] == 0.0 and ar["detected_as_language"] == 0.0
    assert ar["if_scored"]["fpr_counter"] == 1.0 and ar["if_scored"]["fpr_neutral"] == 0.0
    n_ar = ar["posts_by_category"]
    benign = n_ar["neutral"] + n_ar["counter"] + n_ar["rumour"]
    assert ar["fpr_if_scored"] == round(n_ar["counter"] / benign, 4)
    # English is covered, but the stub detector says Polish: counted as not scored.
    assert en["covered"] is True and en["scored_in_service"] == 0.0
    rumours = languages.rumour_figures(
        cases, [0.8 if c.rumour else 0.0 for c in cases], threshold=0.5
    )
    assert rumours == {"recall_rumour": 1.0, "fpr_rumour_flag": 0.0}


def test_language_suite_rejects_unknown_category(tmp_path: Path) -> None:
    bad = tmp_path / "languages.yaml"
    bad.write_text(
        "languages:\n  pl:\n    name: Polish\n    train: {insults: [a]}\n    eval: {}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="insults"):
        languages.load_suite(bad)
