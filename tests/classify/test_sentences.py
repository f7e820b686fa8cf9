"""The hostile sentence rule (monitor.classify.sentences): splitting, the combined score, the
threshold's choice, the manifest entry and the served model. Posts are fictional."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from monitor.classify.labels import HOSTILE, RUMOUR
from monitor.classify.sentences import (
    MANIFEST_KEY,
    MAX_SENTENCES,
    SentenceRule,
    best_sentence,
    choose_sentence_threshold,
    expand,
    sentence_rule,
    split_sentences,
    with_sentence_rule,
)


def test_split_at_sentence_ends_and_line_breaks() -> None:
    assert split_sentences("Bins not collected again. Third week!! Anyone know why?") == [
        "Bins not collected again.",
        "Third week!!",
        "Anyone know why?",
    ]
    assert split_sentences("Road closed\nDivert via Manningham Lane") == [
        "Road closed",
        "Divert via Manningham Lane",
    ]
    # An emoji followed by a space ends one too (a variation selector and all).
    assert split_sentences("Back from work \U0001f602 bins still out \u2764\ufe0f Idle Road") == [
        "Back from work \U0001f602",
        "bins still out \u2764\ufe0f",
        "Idle Road",
    ]
    # A decimal point, a time or an initial with no space after it is not an end.
    assert split_sentences("Kick-off at 7.30 at St.Luke's") == ["Kick-off at 7.30 at St.Luke's"]
    # Stray one-character pieces are dropped.
    assert split_sentences("Really . . . no") == ["Really .", "no"]


def test_expand_reads_only_posts_of_two_sentences_or_more() -> None:
    parts, owner = expand(["One sentence only.", "First one. Second one.", "", "Ok. Fine"])
    assert parts == ["First one.", "Second one.", "Ok.", "Fine"]
    assert owner == [1, 1, 3, 3]
    assert best_sentence(4, owner, [0.2, 0.9, 0.4, 0.1]).tolist() == [0.0, 0.9, 0.0, 0.4]
    # A long post (a news item) is read to its first MAX_SENTENCES sentences, not all 40.
    long_post = " ".join(f"Fictional council update number {i}." for i in range(40))
    parts, owner = expand([long_post])
    assert len(parts) == MAX_SENTENCES and parts[0] == "Fictional council update number 0."


def test_a_sentence_flags_its_post_only_over_the_sentence_threshold() -> None:
    rule = SentenceRule(threshold=0.74, post_threshold=0.55)
    # Under the sentence threshold the post keeps its own score, flagged or not.
    assert rule.combine(0.30, 0.73) == 0.30
    assert rule.combine(0.60, 0.20) == 0.60
    # At or over it, the post is flagged, its score the sentence's mapped onto [0.55, 1].
    assert rule.combine(0.30, 0.74) == pytest.approx(0.55)
    assert rule.combine(0.30, 1.0) == pytest.approx(1.0)
    assert 0.55 < rule.combine(0.30, 0.87) < 1.0
    # ... and never lower than the post's own.
    assert rule.combine(0.95, 0.80) == 0.95
    scores = rng_scores(2000)
    for post, sent in scores:
        flagged = rule.combine(post, sent) >= 0.55
        assert flagged == (post >= 0.55 or sent >= 0.74)


HATEFUL = "Muslims are vermin."  # fictional


def rng_scores(n: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(7)
    return [(float(a), float(b)) for a, b in rng.random((n, 2)).round(6)]


def test_a_rule_must_sit_between_the_post_threshold_and_one() -> None:
    with pytest.raises(ValueError, match="between the post threshold"):
        SentenceRule(threshold=0.5, post_threshold=0.55)
    with pytest.raises(ValueError):
        SentenceRule(threshold=1.0, post_threshold=0.55)


def test_only_hostile_changes_and_only_where_a_sentence_clears_the_bar() -> None:
    rule = SentenceRule(threshold=0.74, post_threshold=0.55)
    scores = [
        {HOSTILE: 0.2, RUMOUR: 0.7},
        {HOSTILE: 0.3, RUMOUR: 0.1},
        {HOSTILE: 0.1, RUMOUR: 0.2},
    ]
    sentences = [{HOSTILE: 0.9, RUMOUR: 0.0}, {HOSTILE: 0.1, RUMOUR: 0.9}, {HOSTILE: 0.7}]
    out = with_sentence_rule(rule, scores, [1, 1, 2], sentences)
    assert out[0] == scores[0]
    assert out[1][RUMOUR] == 0.1 and out[1][HOSTILE] >= 0.55
    assert out[2] == scores[2]  # 0.7 is under the sentence threshold
    assert with_sentence_rule(None, scores, [1, 1, 2], sentences) == scores


def test_threshold_is_the_lowest_that_keeps_everyday_posts_under_the_cap() -> None:
    # 1,000 everyday posts, none flagged whole; sentences scoring 0.60 (30 posts), 0.70 (8)
    # and 0.80 (2): at a 1% cap 0.60 and 0.61.. flag 4% (too many), 0.61..0.70 flag 1%.
    post = np.full(1000, 0.2)
    best = np.zeros(1000)
    best[:30], best[30:38], best[38:40] = 0.60, 0.70, 0.80
    choice = choose_sentence_threshold(post, best, 0.55, max_new=0.01)
    assert choice.threshold == 0.61
    assert choice.new_everyday == 0.01
    assert choice.everyday_posts == 1000 and choice.everyday_flagged_whole == 0.0
    assert choose_sentence_threshold(post, best, 0.55, max_new=0.005).threshold == 0.71
    # A post already flagged whole is not a new flag, whatever its sentences score.
    post[:40] = 0.9
    assert choose_sentence_threshold(post, best, 0.55, max_new=0.0).threshold == 0.55
    # Nothing on the grid meets an impossible cap.
    everything = choose_sentence_threshold(np.zeros(10), np.ones(10), 0.55, max_new=0.0)
    assert everything.threshold is None


def test_manifest_entry_turns_the_rule_on_and_its_absence_off() -> None:
    manifest: dict[str, Any] = {"thresholds": {HOSTILE: 0.55}}
    assert sentence_rule(manifest) is None
    manifest[MANIFEST_KEY] = {"threshold": 0.74, "operating_point": "..."}
    assert sentence_rule(manifest) == SentenceRule(0.74, 0.55)


def test_shipped_model_records_its_sentence_operating_point() -> None:
    import json

    from .conftest import MODEL_DIR

    manifest = json.loads((MODEL_DIR / "manifest.json").read_text(encoding="utf-8"))
    entry = manifest[MANIFEST_KEY]
    rule = sentence_rule(manifest)
    assert rule is not None and rule.threshold == entry["threshold"]
    assert entry["new_everyday"] <= entry["max_new_everyday"]
    assert entry["val_macro_f1_with_sentences"] >= entry["val_macro_f1_whole"]
    assert str(entry["threshold"]) in entry["operating_point"]


@pytest.mark.model
async def test_served_model_finds_hatred_beside_an_ordinary_sentence(transformer: Any) -> None:
    """What the rule is for: an ordinary sentence beside a hateful one hides it from the whole
    post's score; with the rule on, the sentence read alone flags the post. Fictional posts."""
    from monitor.classify.transformer import TransformerClassifier

    mixed = f"{HATEFUL} It was raining earlier."
    t = transformer.thresholds[HOSTILE]
    # As served by default (classifier_sentences off): the whole post only, and it is missed.
    assert transformer.sentence_rule is None
    alone, whole = await transformer.score([HATEFUL, mixed])
    assert alone[HOSTILE] >= t
    assert whole[HOSTILE] < t
    # The same encoder and heads with the rule on.
    with_rule = TransformerClassifier(
        transformer.model, encoder=transformer.encoder, sentences=True
    )
    try:
        both, plain = await with_rule.score([mixed, "Bins were collected late. It was raining."])
    finally:
        await with_rule.close()
    assert both[HOSTILE] >= t
    assert plain[HOSTILE] < t
    assert {k: v for k, v in whole.items() if k != HOSTILE} == {
        k: v for k, v in both.items() if k != HOSTILE
    }


@pytest.mark.model
async def test_the_rule_flags_counter_speech_that_restates_the_hatred(transformer: Any) -> None:
    """Why the rule is off by default: counter-speech that restates the hatred as a sentence of
    its own and rejects it in the next is read, sentence by sentence, as hatred. Fictional."""
    from monitor.classify.transformer import TransformerClassifier

    counter = f"{HATEFUL} That is what the graffiti on our street said. Disgusting."
    t = transformer.thresholds[HOSTILE]
    (whole,) = await transformer.score([counter])
    with_rule = TransformerClassifier(
        transformer.model, encoder=transformer.encoder, sentences=True
    )
    try:
        (read_apart,) = await with_rule.score([counter])
    finally:
        await with_rule.close()
    assert whole[HOSTILE] < t
    assert read_apart[HOSTILE] >= t


@pytest.mark.model
def test_the_setting_turns_the_rule_on(tmp_path: Any, transformer: Any) -> None:
    import dataclasses

    from monitor.classify import load_classifier

    from .conftest import settings_sharing_graph

    base = settings_sharing_graph(tmp_path, transformer)
    off = load_classifier(base)  # the default
    on = load_classifier(dataclasses.replace(base, classifier_sentences=True))
    assert on.sentence_rule == sentence_rule(transformer.model.manifest) is not None  # type: ignore[attr-defined]
    assert off.sentence_rule is None  # type: ignore[attr-defined]
    mixed = f"{HATEFUL} It was raining earlier."
    t = transformer.thresholds[HOSTILE]
    assert on.analyse_sync([mixed])[0].scores[HOSTILE] >= t  # type: ignore[attr-defined]
    assert off.analyse_sync([mixed])[0].scores[HOSTILE] < t  # type: ignore[attr-defined]
