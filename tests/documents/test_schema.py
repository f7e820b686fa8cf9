"""The one line-aware YAML reader and the declarative schemas: every problem at its line, in
words (fictional files)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from pydantic import AfterValidator, StringConstraints

from monitor.documents.lines import MAX_BYTES, MAX_DEPTH
from monitor.documents.schema import Document, DocumentError, Schema, path_text, validate

Text = Annotated[str, StringConstraints(min_length=1)]


def _even(n: int) -> int:
    if n % 2:
        raise ValueError(f"{n} is odd; give an even number")
    return n


class Ward(Schema):
    name: Text
    aliases: list[str] = []
    size: Annotated[int, AfterValidator(_even)] = 2
    watched: bool = True


class Gazetteer(Schema):
    district: Text
    wards: list[Ward]


GOOD = """\
district: Exampletown   # fictional
wards:
  - name: Northfield
    aliases: [North Field]
  - name: Southmoor
    size: 4
"""


def errors(text: str) -> list[str]:
    with pytest.raises(DocumentError) as info:
        validate(Gazetteer, Document.parse(text, "places/example.yaml"))
    return [str(p) for p in info.value.problems]


def test_a_good_file_becomes_the_model() -> None:
    g = validate(Gazetteer, Document.parse(GOOD, "places/example.yaml"))
    assert [w.name for w in g.wards] == ["Northfield", "Southmoor"]
    assert g.wards[0].aliases == ["North Field"] and g.wards[1].size == 4


def test_every_problem_is_reported_at_its_line_in_words() -> None:
    text = """\
district: Exampletown
wards:
  - name: Northfield
    alias: [North Field]
  - name: ""
    size: 3
  - size: two
    watched: maybe
"""
    assert errors(text) == [
        "places/example.yaml:4: wards[0]: unknown key 'alias' (did you mean 'aliases'?)",
        "places/example.yaml:5: wards[1].name: must not be empty",
        "places/example.yaml:6: wards[1].size: 3 is odd; give an even number",
        "places/example.yaml:7: wards[2]: 'name' is required",
        "places/example.yaml:7: wards[2].size: must be a whole number",
        "places/example.yaml:8: wards[2].watched: must be true or false",
    ]


def test_a_missing_top_level_key_and_a_wrong_shape() -> None:
    assert errors("wards: []\n") == ["places/example.yaml:1: 'district' is required"]
    assert errors("district: X\nwards: {name: A}\n") == [
        "places/example.yaml:2: wards: must be a list"
    ]
    assert errors("- a\n- b\n") == [
        "places/example.yaml:1: expected a mapping (key: value lines), got a list"
    ]


def test_yaml_mistakes_anchors_and_duplicate_keys_are_problems_with_lines() -> None:
    assert errors("district: X\nwards: [\n")[0].startswith("places/example.yaml:3: not valid YAML")
    assert errors("district: &d X\nwards: []\n") == [
        "places/example.yaml:1: anchors and aliases (& and *) are not allowed here"
    ]
    assert errors("district: X\ndistrict: Y\nwards: []\n") == [
        "places/example.yaml:2: 'district' given twice"
    ]


def test_lists_nested_too_deep_are_a_problem_at_their_line_not_a_crash() -> None:
    # About 900 levels pass libyaml's own limit and would exhaust Python's stack while read.
    for depth in (MAX_DEPTH + 1, 900, 5000):
        nested = "district: X\nwards:\n  " + "[" * depth + "]" * depth + "\n"
        problems = errors(nested)
        assert len(problems) == 1 and problems[0].startswith("places/example.yaml:3:"), problems
    assert errors("district: X\nwards:\n  " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)) == [
        f"places/example.yaml:3: nested more than {MAX_DEPTH} levels deep"
    ]
    within = "wards: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    Document.parse(within, "places/example.yaml")  # read; the schema would refuse the shape


def test_files_missing_too_large_or_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="gazetteer file not found"):
        Document.read(tmp_path / "nope.yaml", what="gazetteer file")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (MAX_BYTES + 1))
    with pytest.raises(DocumentError, match="larger than"):
        Document.read(big)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("district: Caf\xe9\n".encode("latin-1"))
    with pytest.raises(DocumentError, match=r"latin.yaml: not UTF-8 text"):
        Document.read(latin)
    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    assert validate(Gazetteer, Document.read(good, "shown-name.yaml")).district == "Exampletown"


def test_plain_values_without_lines_still_say_where() -> None:
    with pytest.raises(DocumentError) as info:
        validate(Gazetteer, Document("given", {"district": "X", "wards": [{"name": 3}]}))
    assert str(info.value) == "given: wards[0].name: must be text"


def test_a_check_beyond_the_schema_points_at_its_item() -> None:
    doc = Document.parse(GOOD, "places/example.yaml")
    assert str(doc.problem(("wards", 1, "name"), "named twice")) == (
        "places/example.yaml:5: wards[1].name: named twice"
    )
    assert path_text(("wards", 0, "aliases", 2)) == "wards[0].aliases[2]"
