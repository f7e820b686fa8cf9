"""Training augmentation for the fine-tuned hostile head (issue 18). Every sentence fictional."""

from __future__ import annotations

from monitor.classify import augment, fairness


def test_every_group_appears_in_every_kind_of_identity_sentence() -> None:
    examples = augment.identity_examples(13)
    kinds = {e.kind for e in examples}
    assert kinds == {"mention", "counter", "solidarity", "hostile"}
    for kind in kinds:
        texts = " ".join(e.text for e in examples if e.kind == kind)
        for group, forms in augment.IDENTITY_FORMS.items():
            assert any(f in texts for f in forms), (kind, group)
    assert all(e.hostile == (e.kind == "hostile") for e in examples)


def test_training_and_validation_shapes_are_disjoint_and_apart_from_the_test_suite() -> None:
    train = {e.text for e in augment.identity_examples(13, "train")}
    val = {e.text for e in augment.identity_examples(13, "val")}
    assert train and val and not train & val
    suite = {c.text for c in fairness.load_suite()}
    assert not (train | val) & suite


def test_counterfactual_swaps_the_group_term_and_keeps_the_label() -> None:
    texts = ["Fictional: send the immigrants home", "lovely weather today", "Women are great"]
    out = augment.counterfactual(texts, [1, 0, 0], seed=13)
    assert [e.hostile for e in out] == [1, 0]
    assert "immigrants" not in out[0].text and out[0].text.startswith("Fictional: send the ")
    assert "Women" not in out[1].text and out[1].text.endswith(" are great")


def test_obfuscated_variants_disguise_hostile_sentences_only() -> None:
    examples = augment.identity_examples(13)
    out = augment.obfuscated(examples, 13)
    assert len(out) == sum(e.hostile for e in examples)
    assert all(e.hostile == 1 and e.kind == "obfuscated" for e in out)
    originals = {e.text for e in examples}
    assert sum(e.text not in originals for e in out) > 0.9 * len(out)
