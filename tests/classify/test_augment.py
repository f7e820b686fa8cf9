"""Training augmentation for the fine-tuned hostile head (issue 18). Every sentence fictional."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.classify import augment, fairness


def test_every_group_appears_in_every_kind_of_identity_sentence() -> None:
    examples = augment.identity_examples(13)
    kinds = {e.kind for e in examples}
    grouped = {"mention", "counter", "solidarity", "negated", "contrast", "hostile"}
    assert kinds == grouped | {"nonprotected"}
    for kind in grouped:
        texts = " ".join(e.text for e in examples if e.kind == kind)
        for group, forms in augment.IDENTITY_FORMS.items():
            assert any(f in texts for f in forms), (kind, group)
    for e in examples:
        if e.kind != "contrast":
            assert e.hostile == (e.kind == "hostile"), e


def test_contrastive_pairs_share_group_and_place_and_differ_in_label() -> None:
    pairs = [e for e in augment.identity_examples(13) if e.kind == "contrast"]
    assert len(pairs) == 2 * len(augment.CONTRAST) * len(augment.IDENTITY_FORMS)
    for benign, hostile in zip(pairs[::2], pairs[1::2], strict=True):
        assert (benign.hostile, hostile.hostile) == (0, 1)
        forms = [f for fs in augment.IDENTITY_FORMS.values() for f in fs]
        named = {f for f in forms if f.lower() in benign.text.lower()}
        assert named and all(f.lower() in hostile.text.lower() for f in named)
        places = {p for p in augment.PLACES if p in benign.text}
        assert places == {p for p in augment.PLACES if p in hostile.text}


def test_abuse_of_non_protected_targets_is_not_hostile_and_names_no_group() -> None:
    abuse = augment.non_protected_abuse(13)
    assert len(abuse) == len(augment.ABUSE) * len(augment.NON_PROTECTED)
    forms = [f.lower() for fs in augment.IDENTITY_FORMS.values() for f in fs]
    for e in abuse:
        assert e.hostile == 0 and e.kind == "nonprotected"
        assert not any(f in e.text.lower() for f in forms), e.text
    assert {e.text for e in augment.non_protected_abuse(13, "val")}.isdisjoint(
        e.text for e in abuse
    )


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


def test_several_counterfactual_copies_name_different_groups() -> None:
    texts = ["Fictional: the refugees on my street are lovely", "no group here"]
    out = augment.counterfactual(texts, [0, 0], seed=13, copies=3)
    assert len(out) == 3 and len({e.text for e in out}) == 3
    assert all(e.hostile == 0 and "refugees" not in e.text for e in out)


def test_obfuscated_variants_disguise_hostile_sentences_only() -> None:
    examples = augment.identity_examples(13)
    out = augment.obfuscated(examples, 13)
    assert len(out) == sum(e.hostile for e in examples)
    assert all(e.hostile == 1 and e.kind == "obfuscated" for e in out)
    originals = {e.text for e in examples}
    assert sum(e.text not in originals for e in out) > 0.9 * len(out)


def test_every_non_protected_insult_has_a_hostile_twin_aimed_at_each_group() -> None:
    # Without the twins the non-protected abuse taught that these frames are harmless in
    # themselves ("I hate ..., every last one of them" was missed when aimed at a group).
    twins = augment.group_abuse(13)
    assert len(twins) == len(augment.ABUSE) * len(augment.IDENTITY_FORMS)
    assert all(e.hostile == 1 and e.kind == "groupabuse" for e in twins)
    for shape in augment.GROUP_ABUSE:
        assert "{g}" in shape and "{t}" not in shape
    for group, forms in augment.IDENTITY_FORMS.items():
        named = [e for e in twins if any(f.lower() in e.text.lower() for f in forms)]
        assert len(named) >= len(augment.ABUSE), group
    targets = [t.replace("{p}", "").lower() for t in augment.NON_PROTECTED]
    assert not any(t in e.text.lower() for e in twins for t in targets)


def test_hostile_twins_repeat_no_test_suite_sentence() -> None:
    from monitor.classify import bias, obfuscation

    twins = {e.text.lower() for e in augment.group_abuse(13)}
    suites = (
        {c.text for c in fairness.load_suite()}
        | {c.text for c in obfuscation.load_suite()}
        | {c.text for c in bias.load_cases()}
    )
    assert not twins & {s.lower() for s in suites}
    # nor the obfuscation suite's first-person frame, which the non-protected shape shares
    assert not any("every last one of them" in t for t in twins)


def test_each_threat_has_a_benign_twin_and_an_everyday_post_from_the_same_slots() -> None:
    # The head caught 1 of 8 English threats; a threat head trained on a dozen fixed threat
    # sentences learnt their words (neighbours, roads, times) instead of the threat, and
    # threats with only group-naming twins flagged everyday "<place> tonight" posts. Each
    # threat here has a benign twin naming the same group and place, and an everyday
    # announcement of the same place and time naming no group.
    examples = augment.threat_contrast(13, 4)
    assert examples == augment.threat_contrast(13, 4)  # seeded: the refit is reproducible
    assert len(examples) == 3 * 4 * len(augment.IDENTITY_FORMS)
    threats, twins, everyday = examples[0::3], examples[1::3], examples[2::3]
    assert all(e.hostile == 1 and e.kind == "threat" for e in threats)
    assert all(e.hostile == 0 and e.kind == "threatcontrast" for e in twins)
    assert all(e.hostile == 0 and e.kind == "threateveryday" for e in everyday)
    forms = {f.lower() for fs in augment.IDENTITY_FORMS.values() for f in fs}
    for group, group_forms in augment.IDENTITY_FORMS.items():
        named = sum(any(f.lower() in e.text.lower() for f in group_forms) for e in threats)
        assert named >= 4, group
    for threat, twin, post in zip(threats, twins, everyday, strict=True):
        assert "{" not in threat.text + twin.text + post.text
        place = next(p for p in augment.PLACES if p in threat.text)
        assert place in twin.text and place in post.text, (threat.text, twin.text, post.text)
        assert not any(f in post.text.lower() for f in forms), post.text
    # the benign frames include reported threats (as counter-speech) and idioms
    assert any(e.text.startswith(("Police arrested", "Threatening to")) for e in twins)
    assert any("kill for a brew" in e.text or "smash it" in e.text for e in twins)


def test_functional_contrast_pairs_each_hateful_shape_with_benign_ones_about_the_same_words() -> (
    None
):
    examples = augment.functional_contrast(13, 4)
    assert examples == augment.functional_contrast(13, 4)  # seeded: the refit is reproducible
    assert augment.functional_contrast(13, 0) == []
    hateful = [e for e in examples if e.hostile == 1]
    assert {e.kind for e in hateful} == {"functional"}
    assert len(hateful) == 4 * len(augment.IDENTITY_FORMS)
    kinds = {e.kind for e in examples if e.hostile == 0}
    assert kinds == {"functionaltwin", "functionalnegated", "functionalnonprotected"}
    # Every shape is drawn; each hateful sentence is followed by its warm twin (same frame).
    frames = [
        re.compile(re.sub(r"\\\{\w+\\\}", ".+", re.escape(h)), re.IGNORECASE)
        for h, _ in augment.FUNCTION_FRAMES
    ]
    drawn = {i for e in hateful for i, f in enumerate(frames) if f.fullmatch(e.text)}
    assert drawn == set(range(len(frames)))
    for i, e in enumerate(examples):
        assert "{" not in e.text and e.text[0].isupper(), e.text
        if e.hostile:
            twin = examples[i + 1]
            assert twin.kind == "functionaltwin"
            assert e.text.split()[0] == twin.text.split()[0], (e.text, twin.text)
    # Violence wished on or promised to anyone is never a not-hostile example.
    violent = augment.FUNCTION_HARM_DONE + augment.FUNCTION_HARM_ACT
    for e in examples:
        if e.hostile == 0 and e.kind != "functionalnegated":
            assert not any(f" {v} " in f" {e.text.rstrip('.?')} " for v in violent), e.text


def test_threats_and_functional_shapes_repeat_no_test_suite_sentence() -> None:
    import yaml

    from monitor.classify import bias, functional, obfuscation

    mine = {e.text.lower() for e in augment.threat_contrast(13, 12)}
    mine |= {e.text.lower() for e in augment.functional_contrast(13, 12)}
    suites = (
        {c.text for c in fairness.load_suite()}
        | {c.text for c in functional.load_suite()}
        | {c.text for c in obfuscation.load_suite()}
        | {c.text for c in bias.load_cases()}
    )
    languages = yaml.safe_load(
        (Path(__file__).parents[1] / "fixtures" / "fairness" / "languages.yaml").read_text()
    )["languages"]["en"]
    suites |= {
        t
        for split in languages.values()
        if isinstance(split, dict)
        for ts in split.values()
        for t in ts
    }
    assert not mine & {s.lower() for s in suites}
