"""Emoji that stand in for a group, a slur or a weapon are read as words before the encoder
(issue 18: abuse that swaps a word for an emoji went unseen, as the encoder has no emoji)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.classify.deobfuscate import FORMS, cache_texts, emoji_words, encoder_text
from monitor.classify.disk_cache import prepared_forms
from monitor.classify.emoji import EMOJI_READINGS, read_emoji
from monitor.classify.emoji_suite import emoji_report, load_suite
from monitor.classify.sentences import split_sentences


@pytest.mark.parametrize(
    ("post", "read"),
    [
        ("Fictional: refugees are 🐀 in that hotel", "Fictional: refugees are rat in that hotel"),
        ("Fictional: I hate ☪️ and all they do", "Fictional: I hate muslims and all they do"),
        ("Fictional: 🏳️‍🌈 parade in Keighley", "Fictional: gay parade in Keighley"),
        ("Fictional: get the 🏳️‍⚧️ lot out", "Fictional: get the trans lot out"),
        ("Fictional: 🏳🌈 people", "Fictional: gay people"),  # typed without the joiner
        ("Fictional: I'll 🔪 the lot of them", "Fictional: I'll knife the lot of them"),
        ("Fictional: Pakistanis in town 🐀🐀🐀", "Fictional: Pakistanis in town rat rat rat"),
        ("Fictional: ✡ and ✡️ alike", "Fictional: jews and jews alike"),
    ],
)  # fmt: skip
def test_stand_in_emoji_are_read_as_their_words(post: str, read: str) -> None:
    assert read_emoji(post) == read


@pytest.mark.parametrize(
    "post",
    [
        "Fictional: see you at the library at 7pm",
        "Fictional: what a match 😂😂 🎉 ❤️ 👍",
        "Fictional: Monday again 🤢",  # faces are not read (they mean too many things)
        "Fictional: 🇵🇱 and 🇬🇧 fans together",
        "Fictional: rainbow 🌈 over Ilkley Moor",  # a rainbow alone is weather, not a flag
    ],
)
def test_other_posts_are_left_exactly_as_they_were(post: str) -> None:
    assert read_emoji(post) is post


def test_every_reading_is_one_plain_word_and_no_face_is_read() -> None:
    assert all(w.isalpha() and w.islower() for w in EMOJI_READINGS.values())
    assert not set(EMOJI_READINGS) & {"🤮", "🤢", "💩", "🤡", "😂", "❤️"}


def test_encoder_text_reads_emoji_only_when_asked() -> None:
    post = "@someone  they are 🐀 and v3rm1n"
    assert encoder_text(post, FORMS) == "@user they are 🐀 and vermin"
    assert encoder_text(post, FORMS, emoji=True) == "@user they are rat and vermin"
    ordinary = "Fictional: lovely day 😊"
    assert cache_texts([ordinary, post], FORMS, emoji=True) == [
        ordinary,
        "@user they are rat and vermin",
    ]


@pytest.mark.parametrize(
    ("manifest", "reads"),
    [({}, False), ({"emoji_words": False}, False), ({"emoji_words": True}, True)],
)
def test_manifest_says_whether_emoji_are_read(manifest: dict[str, object], reads: bool) -> None:
    assert emoji_words(manifest) is reads


@pytest.mark.parametrize("value", [1, "true", None, [True]])
def test_a_manifest_value_other_than_a_bool_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="emoji_words"):
        emoji_words({"emoji_words": value})


def test_erasure_finds_the_rows_stored_under_the_emoji_reading() -> None:
    # A purged post's cached encodings are found by the texts it may be stored under: a model
    # that reads emoji stores it under the read text, which must be among them.
    post = "Fictional: they are 🐀 on Idle Road"
    assert encoder_text(post, FORMS, emoji=True) in prepared_forms(post)
    assert encoder_text(post, FORMS) in prepared_forms(post)
    two = "Fictional: first sentence here. They are 🐀 on Idle Road."
    parts = split_sentences(two)
    assert len(parts) > 1
    for part in parts:  # a model with a sentence rule encodes each sentence alone
        assert encoder_text(part, FORMS, emoji=True) in prepared_forms(two)


def test_the_suite_loads_and_refuses_unknown_categories(tmp_path: Path) -> None:
    cases = load_suite()
    assert {c.category for c in cases if c.hateful} == {
        "identity_swap", "descriptor_swap", "verb_swap", "reaction",
    }  # fmt: skip
    swaps = [c for c in cases if c.category.endswith("_swap")]
    assert swaps and all(read_emoji(c.text) != c.text for c in swaps)
    bad = tmp_path / "emoji.yaml"
    bad.write_text("hateful:\n  identity_swapp:\n    - 'x'\n", encoding="utf-8")
    with pytest.raises(ValueError, match="identity_swapp"):
        load_suite(bad)


def test_report_counts_right_answers_per_category() -> None:
    from monitor.classify.emoji_suite import EmojiCase

    cases = [
        EmojiCase("a", "descriptor_swap", True),
        EmojiCase("b", "descriptor_swap", True),
        EmojiCase("c", "literal", False),
        EmojiCase("d", "counter", False),
    ]
    report = emoji_report(cases, [0.9, 0.1, 0.8, 0.2], 0.5)
    assert report["per_category"]["descriptor_swap"]["share_right"] == 0.5
    assert report["per_category"]["literal"]["share_right"] == 0.0
    assert report["recall_hateful"] == 0.5 and report["fpr_benign"] == 0.5
    with pytest.raises(ValueError):
        emoji_report(cases, [0.1], 0.5)


def test_a_model_folder_with_a_bad_emoji_setting_is_refused_at_load(tmp_path: Path) -> None:
    import json

    import numpy as np

    from monitor.classify.heads import Head, HeadSet
    from monitor.classify.manifest import ModelError, load_model_dir

    from .conftest import write_model_dir

    head = Head(
        name="hostile", kind="binary", outputs=("hostile",), layers=(6,), lexical=False,
        mean=np.zeros(384, np.float32), scale=np.ones(384, np.float32),
        weight=np.zeros((384, 1), np.float32), bias=np.zeros(1, np.float32),
        calib_scale=np.ones(1, np.float32), calib_shift=np.zeros(1, np.float32),
    )  # fmt: skip
    folder = write_model_dir(tmp_path, HeadSet([head]), "fictional", {"hostile": 0.5})
    assert load_model_dir(folder, check_base=False).manifest.get("emoji_words") is None
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["emoji_words"] = "yes"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="emoji_words"):
        load_model_dir(folder, check_base=False)
