"""A rule written to be slow cannot stall the pipeline.

There are no regular expressions in the rule language, so there is nothing to backtrack.
What remains is bounded when a rule is loaded (query size, nesting, NEAR count and distance,
wildcards of at least three letters, a cap on rules that run on every post) and when it runs
(each part of a query tracks at most MAX_SPANS places in a post). These tests write the worst
rules the limits allow and run them on the worst posts; the timeout is a hang guard, not a
speed target (speed lives in benchmarks/rules.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.rules.engine import evaluate_post
from monitor.rules.loader import MAX_UNANCHORED, load_ruleset
from monitor.rules.normalise import make_doc
from monitor.rules.query import (
    DEFAULT_LIMITS,
    MAX_SPANS,
    _spans,
    compile_query,
    is_positional,
    walk,
)
from monitor.rules.schema import PackError
from tests.rules.conftest import WritePack, post, rule_yaml, rules_file


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("(a+)+$", "expected AND, OR, NOT or NEAR/n"),  # a regex is not a query
        ("^(a|aa)+$", "has no letters or digits"),
        ("a*", "at least 3 letters"),
        ("*", "has no letters"),
        ("**hotel**", "may only end a word"),
        ("(" * 20 + "hotel" + ")" * 20, "nested more than"),
        (" NEAR/30 ".join(["hot*"] * 12), "NEAR operators"),
        (" OR ".join(f"wor{i}*" for i in range(60)), "wildcards"),
    ],
)
def test_pathological_queries_are_refused_at_load(
    write_pack: WritePack, rules_dir: Path, query: str, reason: str
) -> None:
    write_pack(
        "slow",
        "rules:\n"
        + rule_yaml("slow", query.replace("'", "''"))
        .replace("\n", "\n  ")
        .replace("- id", "  - id", 1),
    )
    with pytest.raises(PackError) as info:
        load_ruleset(rules_dir)
    (problem,) = info.value.problems
    assert problem.file == "rules/slow/rules.yaml" and problem.line == 4
    assert reason in problem.message


def test_too_many_rules_that_run_on_every_post_are_refused(
    write_pack: WritePack, rules_dir: Path
) -> None:
    write_pack(
        "slow", rules_file(*(rule_yaml(f"r{i}", "NOT hotel") for i in range(MAX_UNANCHORED + 1)))
    )
    with pytest.raises(PackError) as info:
        load_ruleset(rules_dir)
    assert any("run on every post" in p.message for p in info.value.problems)


def _worst_query() -> str:
    """As many NEARs, wildcards and phrases as the limits allow, all matching everywhere."""
    side = (
        '(alp* OR alpha0* OR alpha1* OR "alpha alp*" OR "alpha alpha" '
        'OR "alpha alpha alpha alpha alpha alpha")'
    )
    return f" NEAR/{DEFAULT_LIMITS.max_near_distance} ".join([side] * (DEFAULT_LIMITS.max_near + 1))


@pytest.mark.timeout(60)
def test_the_worst_allowed_rule_on_the_worst_post_finishes() -> None:
    compiled = compile_query(_worst_query())  # within every limit, or this would raise
    assert (
        sum(1 for n in walk(compiled.ast) if n.__class__.__name__ == "Near")
        == DEFAULT_LIMITS.max_near
    )
    text = "alpha " * 1000  # longer than the longest post kept (5,000 characters)
    doc = make_doc(text)
    assert compiled.test(doc) is True
    for node in walk(compiled.ast):
        if is_positional(node):
            assert len(_spans(node)(doc)) <= MAX_SPANS


@pytest.mark.timeout(60)
def test_a_pack_of_worst_rules_on_adversarial_posts_finishes(
    write_pack: WritePack, rules_dir: Path
) -> None:
    query = _worst_query().replace("'", "''")
    write_pack("slow", rules_file(*(rule_yaml(f"r{i}", query) for i in range(20))))
    ruleset = load_ruleset(rules_dir)
    for text in ("alpha " * 1000, "a a " * 1300, "alpha" * 1000, "a l p h a " * 500):
        evaluate_post(ruleset, post(text), {})


@pytest.mark.timeout(30)
def test_yaml_bombs_are_refused_quickly(write_pack: WritePack, rules_dir: Path) -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for i in range(1, 12):
        bomb += f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]\n"
    write_pack("slow", bomb)
    with pytest.raises(PackError, match="anchors and aliases"):
        load_ruleset(rules_dir)


def test_deeply_nested_files_are_refused_with_their_line(
    write_pack: WritePack, rules_dir: Path
) -> None:
    write_pack("slow", "rules:\n  - " + "[" * 900 + "]" * 900 + "\n")
    with pytest.raises(PackError, match=r"rules.yaml:2: error: nested more than \d+ levels deep"):
        load_ruleset(rules_dir)


def test_windows_longer_than_time_can_hold_are_refused_with_their_line(
    write_pack: WritePack, rules_dir: Path
) -> None:
    for window in (
        "{per: ward, within: 99999999999999999999h, count: '>= 3'}",
        "{per: ward, within: 1h, rise: '>= 3x', baseline: 99999999999999999999d}",
    ):
        write_pack("slow", rules_file(rule_yaml("long", "apparently", extra=f"window: {window}")))
        with pytest.raises(PackError, match="longer than any window can be"):
            load_ruleset(rules_dir)


def test_huge_files_are_refused(write_pack: WritePack, rules_dir: Path) -> None:
    write_pack("slow", "rules: []\n" + "#" * 1_100_000 + "\n")
    with pytest.raises(PackError, match="larger than"):
        load_ruleset(rules_dir)
