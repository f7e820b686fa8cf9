"""`monitor rules check | test | explain | scan` as an analyst uses them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from tests.rules.conftest import WritePack

RULES = """\
rules:
  - id: hotel_claim
    description: claim about a hotel
    query: apparently AND hotel*
    labels: {kind: rumour, topic: hotel, severity: medium}
    examples:
      match: ["Apparently the Greyfield Hotel is full"]
      no_match: ["The Greyfield Hotel does a good carvery"]
  - id: hostile_hotel
    description: hostile posts about a hotel
    query: hotel*
    scores: ["hostile >= 0.8"]
    labels: {kind: hostility, topic: hotel, severity: high}
    examples:
      match: [{text: "that hotel lot", scores: {hostile: 0.9}}]
      no_match: [{text: "that hotel lot", scores: {hostile: 0.2}}]
"""


Run = Callable[..., tuple[int, str]]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rules_dir: Path) -> Run:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MONITOR_CONFIG", raising=False)
    monkeypatch.setenv("MONITOR_CLASSIFIER", "keyword")

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["rules", *args, "--rules-dir", str(rules_dir)])
        return result.exit_code, result.output

    return invoke


def test_check_summarises_good_packs(write_pack: WritePack, run: Run) -> None:
    write_pack("demo", RULES)
    code, out = run("check")
    assert code == 0, out
    assert "demo 1: 2 rules (0 windowed, 0 disabled)" in out
    assert "ok: 2 rules in force" in out


def test_check_refuses_a_bad_rule_with_file_line_and_reason(
    write_pack: WritePack, run: Run
) -> None:
    write_pack("demo", RULES.replace("severity: medium", "severity: urgent"))
    code, out = run("check")
    assert code == 1
    assert "rules/demo/rules.yaml:5: error: severity must be one of" in out
    assert "the rule packs were refused" in out


def test_check_strict_fails_on_warnings(write_pack: WritePack, rules_dir: Path, run: Run) -> None:
    d = write_pack("demo", RULES)
    text = (d / "pack.yaml").read_text().replace("2099-01-01", "2001-01-01")
    (d / "pack.yaml").write_text(text)
    code, out = run("check")
    assert code == 0 and "review date 2001-01-01 has passed" in out
    code, out = run("check", "--strict")
    assert code == 1


def test_test_runs_every_example(write_pack: WritePack, run: Run) -> None:
    write_pack("demo", RULES)
    code, out = run("test", "-v")
    assert code == 0, out
    assert "4 examples of 2 rules and exclusions: 0 failed" in out
    assert "ok   rules/demo/rules.yaml:7: demo.hotel_claim: expected match, matched" in out


def test_test_shows_why_an_example_failed(write_pack: WritePack, run: Run) -> None:
    write_pack("demo", RULES.replace("Apparently the Greyfield", "Allegedly the Greyfield"))
    code, out = run("test")
    assert code == 1
    assert "FAIL rules/demo/rules.yaml:7: demo.hotel_claim: expected match, did not match" in out
    assert "[no ] apparently" in out and "[yes] hotel*  <- 'hotel'" in out
    assert "4 examples of 2 rules and exclusions: 1 failed" in out


def test_test_without_a_classifier_says_score_conditions_are_unmet(
    write_pack: WritePack,
    run: Run,
) -> None:
    write_pack(
        "demo",
        RULES.replace('{text: "that hotel lot", scores: {hostile: 0.9}}', '"that hotel lot"'),
    )
    code, out = run("test", "--no-classifier")
    assert code == 1
    assert "no classifier available, so this counts as unmet" in out


def test_explain_shows_which_rules_fire_and_why(write_pack: WritePack, run: Run) -> None:
    write_pack("demo", RULES)
    code, out = run("explain", "Apparently the H0TEL is full of them", "--no-classifier")
    assert code == 0, out
    assert "words: apparently the h0tel is full of them" in out
    assert "demo.hotel_claim: FIRES  [kind=rumour topic=hotel severity=medium]" in out
    assert "[yes] hotel*  <- 'h0tel'" in out
    assert "demo.hostile_hotel: no" in out
    assert "no classifier available, so this counts as unmet" in out


def test_explain_takes_scores_places_and_the_classifier(write_pack: WritePack, run: Run) -> None:
    write_pack("demo", RULES)
    code, out = run("explain", "that hotel lot", "--score", "hostile=0.95", "--ward", "Eastbrook")
    assert code == 0, out
    assert "demo.hostile_hotel: FIRES" in out
    assert "[yes] score hostile 0.95 >= 0.8" in out
    assert "keyword" in out  # the configured (keyword) classifier scored the rest
    code, out = run("explain", "x", "--score", "hostile")
    assert code == 2 and "HEAD=VALUE" in out


def _scan(rules_dir: Path, lines: str, *args: str) -> tuple[int, list[dict[str, object]], str]:
    result = CliRunner().invoke(
        cli, ["rules", "scan", "--rules-dir", str(rules_dir), *args], input=lines
    )
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, records, result.output


def test_scan_writes_what_the_service_would_make_of_each_line(
    write_pack: WritePack, rules_dir: Path, run: Run
) -> None:
    write_pack("demo", RULES)
    lines = "Apparently the H0TEL is full of them\n\nThe carvery at the Greyfield is lovely\n"
    code, records, out = _scan(rules_dir, lines)
    assert code == 0, out
    assert len(records) == 3  # one record a line, the empty one included
    claim, empty, carvery = records
    assert [r["id"] for r in claim["rules"]] == ["demo.hotel_claim"]  # type: ignore[index]
    assert claim["rules"] == [
        {"id": "demo.hotel_claim", "kind": "rumour", "topic": "hotel", "severity": "medium"}
    ]
    assert claim["flagged"] is True and claim["scored"] is True
    assert set(claim["scores"]) >= {"hostile", "offensive", "rumour"}  # type: ignore[arg-type]
    assert "keyword" in str(claim["model"])
    assert empty == {"language": None, "scored": False, "rules": [], "flagged": False,
                     "model": claim["model"]}  # fmt: skip
    assert carvery["rules"] == [] and carvery["flagged"] is False


def test_scan_without_the_classifier_runs_the_rules_alone(
    write_pack: WritePack, rules_dir: Path, run: Run
) -> None:
    write_pack("demo", RULES)
    code, records, out = _scan(
        rules_dir, "that hotel lot\nApparently the hotel\n", "--no-classifier", "--language", "en"
    )
    assert code == 0, out
    lot, claim = records
    # No scores: the score rule cannot fire, as in service for a post nothing scored.
    assert lot == {"language": "en", "scored": False, "rules": [], "flagged": False}
    assert claim["flagged"] is True and "model" not in claim


def test_scan_says_when_the_classifier_cannot_load(
    write_pack: WritePack, rules_dir: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_pack("demo", RULES)
    monkeypatch.setenv("MONITOR_CLASSIFIER", "oracle")
    code, records, out = _scan(rules_dir, "anything\n")
    assert code == 1 and records == []
    assert "cannot load the classifier" in out and "--no-classifier" in out
