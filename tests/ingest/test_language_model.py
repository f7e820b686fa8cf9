"""The language-id model kept unpacked in the cache folder answers exactly as py3langid's own
load of its packed file, and a missing, damaged or unwritable copy only costs time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from monitor.ingest.language_model import load_identifier

# Fictional sentences in the scripts and languages posts come in, and text with no language.
TEXTS = [
    "Anyone know why the road is closed near the park this morning?",
    "Dzisiaj w centrum była policja, czy ktoś wie co się stało?",
    "کیا کسی کو معلوم ہے کہ آج شہر میں کیا ہوا؟",
    "کل رات لجٹ گرین وچ پولیس آئی سی، کسے نوں پتا اے کیہ ہویا؟",
    "Kal raat Manningham mein police aayi thi, kisi ko pata hai kya hua?",
    "আজ সকালে বাজারে অনেক ভিড় ছিল, কেউ জানেন কেন?",
    "Astăzi drumul spre centru a fost închis, știe cineva de ce?",
    "Bugün pazarda çok kalabalık vardı, neden bilen var mı?",
    "ਅੱਜ ਗੁਰਦੁਆਰੇ ਵਿੱਚ ਬਹੁਤ ਲੋਕ ਸਨ",
    "bonjour tout le monde",
    "12:30 !!! ???",
    "",
]


@pytest.fixture(scope="module")
def shipped() -> Any:
    """py3langid's identifier as py3langid loads it (unpacking its file)."""
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def answers(identifier: Any) -> list[list[tuple[str, float]]]:
    return [identifier.rank(text) for text in TEXTS]


def copy_of(cache: Path) -> Path:
    (folder,) = [p for p in cache.iterdir() if p.name.startswith("langid-")]
    return folder


def test_the_kept_copy_answers_as_py3langid_does(shipped: Any, tmp_path: Path) -> None:
    first = load_identifier(tmp_path)  # unpacks and keeps the copy
    folder = copy_of(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == [
        "classes.npy",
        "nextmove.npy",
        "nextmove_row.npy",
        "out_feat.npy",
        "pc.npy",
        "ptc.npy",
    ]
    again = load_identifier(tmp_path)  # read from the copy
    assert answers(first) == answers(shipped)
    assert answers(again) == answers(shipped)
    assert again.labels == shipped.labels


def test_a_damaged_copy_is_unpacked_again_and_replaced(
    shipped: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    load_identifier(tmp_path)
    table = copy_of(tmp_path) / "ptc.npy"
    size = table.stat().st_size
    with table.open("r+b") as fh:  # a torn file: the header promises more than is there
        fh.truncate(size // 2)
    identifier = load_identifier(tmp_path)
    assert "ignoring the copy" in caplog.text
    assert answers(identifier) == answers(shipped)
    assert table.stat().st_size == size
    assert answers(load_identifier(tmp_path)) == answers(shipped)


def test_no_cache_folder_or_an_unwritable_one_still_loads(shipped: Any, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    assert answers(load_identifier(blocked)) == answers(shipped)
    assert answers(load_identifier(None)) == answers(shipped)
    assert blocked.read_text() == "a file where the cache folder would be"
