"""The fairness, functional, obfuscation, emoji and language suites on the real classifier (marked
`model`).

The issue's bars (issue 18): no identity group's mention FPR far above the rest's, and
counter-speech and solidarity left alone. The fine-tuned model of the second LoRA recipe meets
them (they were strict expected failures before it). Figures: `monitor eval --suites-only`
(and the model card).
"""

from __future__ import annotations

from typing import Any

import pytest

from monitor.classify import fairness, languages
from monitor.classify.evaluate import evaluate_suites, format_suites
from monitor.classify.features import FeatureCache
from monitor.classify.manifest import load_model_dir
from monitor.ingest.core import detect_language

from ..conftest import suite_encoding_cache
from .conftest import MODEL_DIR

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def report(transformer_cached: Any) -> dict[str, Any]:
    transformer = transformer_cached
    cases = fairness.load_suite()
    scores = [a.scores["hostile"] for a in transformer.analyse_sync([c.text for c in cases])]
    return fairness.fairness_report(cases, scores, transformer.thresholds["hostile"])


def test_disguised_words_are_read_plainly_before_scoring(transformer: Any) -> None:
    plain, leet, spaced = transformer.analyse_sync(
        [
            "Refugees are parasites living off our taxes.",
            "Refugees are p4r451t35 living off our taxes.",
            "Refugees are p a r a s i t e s living off our taxes.",
        ]
    )
    assert leet.scores["hostile"] == plain.scores["hostile"]
    assert spaced.scores["hostile"] == plain.scores["hostile"]
    assert spaced.embedding == plain.embedding
    assert plain.scores["hostile"] >= transformer.thresholds["hostile"]


def test_stand_in_emoji_are_read_as_words_before_scoring(transformer: Any) -> None:
    # The encoder has no emoji: unread, "🐀" is an unknown token and the post reads as
    # "Refugees are crawling out of that hotel".
    emoji, word = transformer.analyse_sync(
        [
            "Fictional: refugees are 🐀 crawling out of that hotel.",
            "Fictional: refugees are rat crawling out of that hotel.",
        ]
    )
    # The encoder reads the same words (the stance head's lexical features read the post as
    # written, so its scores may differ in the last digits).
    assert emoji.embedding == word.embedding
    assert emoji.scores["hostile"] == word.scores["hostile"]
    assert emoji.scores["offensive"] == word.scores["offensive"]


@pytest.mark.slow
def test_figures_are_reported_for_every_group(report: dict[str, Any]) -> None:
    for group, r in report["groups"].items():
        for key in ("subgroup_auc", "bpsn_auc", "bnsp_auc", "fpr_mention", "fpr_ratio"):
            assert key in r, (group, key)
        assert r["subgroup_auc"] is not None and r["subgroup_auc"] > 0.5, group
    assert report["overall"]["auc"] > 0.85
    assert report["overall"]["recall_hostile"] >= 0.6


def test_no_group_is_flagged_far_more_often_than_the_rest(report: dict[str, Any]) -> None:
    assert report["overall"]["groups_failing_fpr_bar"] == []


def test_counter_speech_is_left_alone(report: dict[str, Any]) -> None:
    assert report["overall"]["fpr_counter"] <= fairness.MAX_COUNTER_FPR


def test_solidarity_waves_are_left_alone(report: dict[str, Any]) -> None:
    assert report["overall"]["fpr_solidarity"] <= fairness.MAX_SOLIDARITY_FPR


SMALL_IDENTITY = """
groups:
  polish: {category: nationality, forms: ["Polish people"]}
  deaf: {category: disability, forms: ["deaf people"]}
places: ["Batley"]
cases:
  neutral: ["My neighbours in {place} are {group}."]
  counter: ["Saying {group} are vermin is bigotry."]
  solidarity: ["We stand with {group} in {place}."]
  hostile: ["{group} are vermin, get them out of {place}."]
"""


@pytest.fixture(scope="module")
def suites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp_path = tmp_path_factory.mktemp("suites")
    identity = tmp_path / "identity.yaml"
    identity.write_text(SMALL_IDENTITY, encoding="utf-8")
    model = load_model_dir(MODEL_DIR)
    # The suites' texts are encoded once across runs (the suite's on-disk encoding cache).
    cache = FeatureCache(
        tmp_path / "cache",
        variant="onnx",
        adapter=model.adapter,
        disk_cache=suite_encoding_cache(),
    )
    return evaluate_suites(model, cache, identity_path=identity)


def test_disguised_hostile_posts_are_mostly_caught(suites: dict[str, Any]) -> None:
    # The bar the frozen heads met; the LoRA model meets it again since its hostile head is
    # refitted with the non-protected insults' hostile twins (monitor.classify.refit).
    per_form = suites["obfuscation"]["deobfuscated"]["per_form"]
    assert per_form["leet"]["recall"] >= 0.8
    assert per_form["plain"]["recall"] >= 0.8


def test_the_functional_suite_leaves_ordinary_talk_and_counter_speech_alone(
    suites: dict[str, Any],
) -> None:
    # Written apart from the training sentences (tests/fixtures/fairness/functional.yaml):
    # neutral and warm mentions and news are not flagged, counter-speech within the issue's
    # bar, and hateful posts rank above the rest. Recall per phenomenon is the model card's.
    report = suites["functional"]
    per = report["per_functionality"]
    for name in ("neutral_identity", "positive_identity", "news_report"):
        assert per[name]["share_right"] >= 0.98, name
    counter = [per[name] for name in ("counter_quote", "counter_reference")]
    flagged = sum(r["cases"] * (1 - r["share_right"]) for r in counter)
    assert flagged / sum(r["cases"] for r in counter) <= fairness.MAX_COUNTER_FPR
    assert report["overall"]["auc"] >= 0.8
    assert "functional suite:" in format_suites(suites)


def test_emoji_stand_ins_are_caught_and_ordinary_emoji_left_alone(
    suites: dict[str, Any],
) -> None:
    # tests/fixtures/fairness/emoji.yaml: reading the stand-ins as words lifts what is caught
    # where an animal or a weapon stands in for the slur or the verb; pride, faith, animals,
    # kitchens, bonfires and counter-speech stay unflagged (figures: the model card).
    em = suites["emoji"]
    assert em["serving"] == "read"
    read, unread = em["read"]["per_category"], em["unread"]["per_category"]
    for category in ("descriptor_swap", "verb_swap"):
        assert read[category]["share_right"] >= unread[category]["share_right"] + 0.2, category
    assert em["read"]["recall_hateful"] > em["unread"]["recall_hateful"]
    assert em["read"]["fpr_benign"] <= 0.05
    assert "emoji suite" in format_suites(suites)


def test_eval_suites_report_deobfuscation_and_languages(suites: dict[str, Any]) -> None:
    out = suites
    assert set(out["fairness"]["groups"]) == {"polish", "deaf"}
    ob = out["obfuscation"]
    assert ob["serving"] == "deobfuscated"
    spaced = ob["deobfuscated"]["per_form"]["spaced"]["recall"]
    assert spaced > ob["raw"]["per_form"]["spaced"]["recall"] + 0.3
    # Deobfuscation reads leetspeak and spaced letters as the plain word: every hostile post
    # caught plain is caught in those disguises too (what is caught plain is the operating
    # point's business, in the model card).
    for form in ("leet", "spaced"):
        assert ob["deobfuscated"]["per_form"][form]["recall_kept"] == 1.0, form
    assert ob["deobfuscated"]["per_form"]["plain"]["recall"] >= 0.7
    assert ob["deobfuscated"]["per_form"]["plain"]["fpr"] == 0.0
    lang = out["languages"]
    assert lang["covered_languages"] == ["en"]
    for key in ("pl", "ur", "pa", "ar", "ro", "sk", "hi"):
        row = lang["per_language"][key]
        assert row["covered"] is False
        # ingest names these languages, so the service leaves them unscored (the Slovak
        # slogan "Imigranti von! Británia Britom!" is too short for it and gets no language)
        assert row["detected_as_language"] >= 0.98 and row["scored_in_service"] <= 0.02
    # Romanised Urdu and Punjabi, and Punjabi in Shahmukhi, which py3langid alone cannot
    # place, are named by ingest's lexicon check: nearly all are counted, not scored.
    lang_cases, _ = languages.load_suite()
    for key in ("ur-Latn", "pa-Latn", "pa-Arab"):
        row = lang["per_language"][key]
        mine = [c.text for c in lang_cases if c.key == key]
        named = sum(detect_language(t) in ("ur", "pa") for t in mine) / len(mine)
        assert named >= 0.9, key  # counted as Urdu or Punjabi, not scored as English
        assert row["scored_in_service"] <= 0.07, key
        # As the right one of the two: romanised Pothwari written apart from the lexicon's
        # training posts is read as Urdu one time in ten (model card, "Languages").
        assert row["detected_as_language"] >= (0.8 if key == "pa-Latn" else 0.9), key
    # English stays scored; uncovered languages still get figures for what using the scores
    # would do (their values are the model's, checked in the card, not here).
    assert lang["per_language"]["en"]["scored_in_service"] == 1.0
    polish_hostile = sum(1 for c in lang_cases if c.key == "pl" and c.hostile)
    assert lang["per_language"]["pl"]["if_scored"]["hostile_posts"] == polish_hostile == 149
    # The text report has a row per language with the posts the service leaves unscored.
    table = format_suites(out).split("languages (covered by this model: en)")[1]
    row = next(line for line in table.splitlines() if "Punjabi (romanised)" in line)
    posts, unscored = row.split()[3:5]
    assert int(posts) == lang["per_language"]["pa-Latn"]["posts"]
    assert int(unscored) == lang["per_language"]["pa-Latn"]["not_scored_in_service"] > 0
