"""A bad rule is refused with file, line and reason — every mistake at once, not one per try."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from monitor.rules.loader import load_ruleset
from monitor.rules.schema import PackError, Problem
from tests.rules.conftest import WritePack, rule_yaml


def problems(rules_dir: Path, **kwargs: object) -> list[Problem]:
    with pytest.raises(PackError) as info:
        load_ruleset(rules_dir, **kwargs)  # type: ignore[arg-type]
    return info.value.problems


def only(found: list[Problem]) -> Problem:
    errors = [p for p in found if p.level == "error"]
    assert len(errors) == 1, errors
    return errors[0]


GOOD = """\
rules:
  - id: hotel_claim
    description: claim about a hotel
    query: apparently AND hotel*
    labels: {kind: rumour, topic: hotel, severity: medium}
    examples:
      match: ["Apparently the Greyfield Hotel is full"]
      no_match: ["The Greyfield Hotel does a good carvery"]
"""


def test_a_good_pack_loads_with_ids_prefixed_by_the_pack(
    write_pack: WritePack, rules_dir: Path
) -> None:
    write_pack("demo", GOOD)
    ruleset = load_ruleset(rules_dir)
    (rule,) = ruleset.rules
    assert rule.id == "demo.hotel_claim"
    assert (rule.file, rule.line) == ("rules/demo/rules.yaml", 2)
    assert rule.labels == {"kind": "rumour", "topic": "hotel", "severity": "medium"}


def test_places_folder_and_loose_files_are_not_packs(
    write_pack: WritePack, rules_dir: Path
) -> None:
    write_pack("demo", GOOD)
    (rules_dir / "places").mkdir()
    (rules_dir / "places" / "towns.yaml").write_text("not: a pack\n")
    (rules_dir / "public-accounts.yaml").write_text("accounts: []\n")
    assert [p.id for p in load_ruleset(rules_dir).packs] == ["demo"]


@pytest.mark.parametrize(
    ("edit", "line", "message"),
    [
        (("severity: medium}", "severity: urgent}"), 5, "severity must be one of"),
        (("kind: rumour", "kind: rumor"), 5, "kind must be one of"),
        (("kind: rumour", "author: x, kind: rumour"), 5, "never target an account"),
        (("kind: rumour", "area: Eastbrook, kind: rumour"), 5, "the engine sets 'area' itself"),
        (("topic: hotel, ", ""), 5, "labels need `topic:`"),
        (("apparently AND hotel*", "apparently and hotel*"), 4, "write AND, not and (column 12)"),
        (("apparently AND hotel*", "apparently AND ho*"), 4, "at least 3 letters"),
        (("    description: claim about a hotel\n", ""), 2, "a rule needs `description:`"),
        (("    query:", "    qurey:"), 4, "unknown key 'qurey' in a rule (did you mean 'query'?)"),
        (("    labels:", "    severity: high\n    labels:"), 5, "severity is a label"),
        (
            ('      no_match: ["The Greyfield Hotel does a good carvery"]', "      no_match: []"),
            8,
            "examples.no_match must list at least one post",
        ),  # fmt: skip
        (
            (
                "    query: apparently AND hotel*\n",
                "    query: apparently AND hotel*\n    query: x\n",
            ),
            5,
            "'query' appears twice",
        ),  # fmt: skip
        (
            ("    query:", "    scores: ['hostle >= 0.8']\n    query:"),
            2,
            "no classifier score is called 'hostle'",
        ),  # fmt: skip
        (("    query:", "    scores: ['hostile >= 8']\n    query:"), 4, "scores run from 0 to 1"),
        (
            ("    query:", "    window: {per: author, within: 1h, count: 5}\n    query:"),
            4,
            "rules never target an account",
        ),  # fmt: skip
        (
            ("    query:", "    window: {per: ward, within: 1h}\n    query:"),
            4,
            "window needs at least one of",
        ),  # fmt: skip
        (
            (
                "    query:",
                "    window: {per: ward, within: 1h, rise: '>= 3x', baseline: 1h}\n    query:",
            ),
            4,
            "baseline must be at least twice",
        ),  # fmt: skip
        (
            ("    query:", "    window: {per: ward, within: soon, count: 5}\n    query:"),
            4,
            "duration like 15m",
        ),  # fmt: skip
        (("    query:", "    language: [english]\n    query:"), 4, "language codes"),
        (("    query:", "    place: {parish: Eastbrook}\n    query:"), 4, "unknown key 'parish'"),
    ],
)
def test_mistakes_are_reported_with_file_line_and_reason(
    write_pack: WritePack, rules_dir: Path, edit: tuple[str, str], line: int, message: str
) -> None:
    old, new = edit
    assert old in GOOD
    write_pack("demo", GOOD.replace(old, new, 1))
    problem = only(problems(rules_dir))
    assert problem.file == "rules/demo/rules.yaml"
    assert problem.line == line, problem
    assert message in problem.message, problem


def test_every_mistake_in_a_file_is_reported_at_once(
    write_pack: WritePack, rules_dir: Path
) -> None:
    bad = GOOD.replace("kind: rumour", "kind: rumor").replace("    query:", "    qurey:")
    bad += (
        rule_yaml("second", "hotel and asylum").replace("- id", "  - id").replace("\n  ", "\n    ")
    )
    write_pack("demo", bad)
    found = [str(p) for p in problems(rules_dir)]
    assert any("rules.yaml:4: error: unknown key 'qurey'" in p for p in found), found
    assert any("rules.yaml:5: error: kind must be one of" in p for p in found), found
    assert any(
        "rules.yaml:11: error: query: operators are written in capitals" in p for p in found
    ), found


def test_invalid_yaml_points_at_the_line(write_pack: WritePack, rules_dir: Path) -> None:
    write_pack("demo", GOOD.replace('match: ["Apparently', 'match: ["Apparently"', 1))
    problem = only(problems(rules_dir))
    assert problem.line == 7 and "not valid YAML" in problem.message


def test_yaml_aliases_are_refused(write_pack: WritePack, rules_dir: Path) -> None:
    write_pack("demo", GOOD.replace("labels: {", "labels: &l {", 1))
    problem = only(problems(rules_dir))
    assert problem.line == 5 and "anchors and aliases" in problem.message


def test_rule_ids_must_be_unique_within_a_pack(write_pack: WritePack, rules_dir: Path) -> None:
    write_pack("demo", GOOD)
    write_pack("demo", GOOD, file="more.yaml")
    problem = only(problems(rules_dir))
    assert problem.file == "rules/demo/rules.yaml" and problem.line == 2
    assert "already used at rules/demo/more.yaml:2" in problem.message


def test_a_pack_needs_its_pack_yaml(rules_dir: Path) -> None:
    (rules_dir / "demo").mkdir()
    (rules_dir / "demo" / "rules.yaml").write_text(GOOD)
    problem = only(problems(rules_dir))
    assert problem.file == "rules/demo/pack.yaml" and "needs a pack.yaml" in problem.message


def test_pack_yaml_is_checked(write_pack: WritePack, rules_dir: Path) -> None:
    d = write_pack("demo", GOOD)
    (d / "pack.yaml").write_text('id: other\nversion: "1"\nowner: x\npurpose: y\nreview_by: soon\n')
    found = problems(rules_dir)
    assert any(p.line == 5 and "review_by must be a date" in p.message for p in found), found


def test_a_passed_review_date_is_a_warning_not_an_error(
    write_pack: WritePack, rules_dir: Path
) -> None:
    write_pack("demo", GOOD)
    ruleset = load_ruleset(rules_dir, today=dt.date(2100, 1, 1))
    assert len(ruleset.rules) == 1
    (warning,) = ruleset.warnings
    assert warning.level == "warning" and "review date 2099-01-01 has passed" in warning.message


def test_only_named_packs_load(write_pack: WritePack, rules_dir: Path) -> None:
    write_pack("one", GOOD)
    write_pack("two", GOOD)
    assert [r.id for r in load_ruleset(rules_dir, only=["two"]).rules] == ["two.hotel_claim"]
    with pytest.raises(PackError, match="no pack folder named three"):
        load_ruleset(rules_dir, only=["three"])


def test_examples_may_carry_places_language_and_scores(
    write_pack: WritePack, rules_dir: Path
) -> None:
    rules = """\
    rules:
      - id: local
        description: hostile posts about Eastbrook
        scores: ["hostile >= 0.8"]
        place: {ward: [Eastbrook]}
        language: en
        labels: {kind: hostility, topic: hostile, severity: high}
        examples:
          match:
            - text: "they are all the same"
              place: {ward: Eastbrook}
              language: en
              scores: {hostile: 0.9}
          no_match:
            - {text: "they are all the same", place: {ward: Millbeck}, scores: {hostile: 0.9}}
    """
    write_pack("demo", rules)
    (rule,) = load_ruleset(rules_dir).rules
    assert rule.match[0].places[0].ward == "Eastbrook"
    assert rule.match[0].scores == {"hostile": 0.9}
    assert rule.languages == frozenset({"en"})
