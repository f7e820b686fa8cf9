"""Packs reload without a restart; a broken edit is refused with file, line and reason, and
the running service keeps its last good set."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import pytest

from monitor.config import Settings
from monitor.rules.loader import RuleSetHolder, load_ruleset
from monitor.rules.schema import PackError
from monitor.rules.service import RuleService, load_rule_evaluator
from tests.rules.conftest import T0, WritePack, post

V1 = """\
rules:
  - id: hotel_claim
    description: claim about a hotel
    query: apparently AND hotel*
    labels: {kind: rumour, topic: hotel, severity: medium}
    examples: {match: [x], no_match: [y]}
"""
V2 = (
    V1
    + """\
  - id: school_claim
    description: claim about a school
    query: apparently AND school*
    labels: {kind: rumour, topic: school, severity: medium}
    examples: {match: [x], no_match: [y]}
"""
)
BROKEN = V2.replace("apparently AND school*", "apparently and school*")


def touch_later(path: Path) -> None:
    """Make sure the edit is seen even on filesystems with coarse timestamps."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def ids(holder: RuleSetHolder) -> list[str]:
    return [r.id for r in holder.current.rules]


def test_edits_load_without_a_restart(write_pack: WritePack, rules_dir: Path) -> None:
    d = write_pack("demo", V1)
    holder = RuleSetHolder(rules_dir)
    assert ids(holder) == ["demo.hotel_claim"]
    assert holder.reload_if_changed() is False  # nothing changed
    (d / "rules.yaml").write_text(V2)
    touch_later(d / "rules.yaml")
    assert holder.reload_if_changed() is True
    assert ids(holder) == ["demo.hotel_claim", "demo.school_claim"]


def test_a_broken_edit_keeps_the_last_good_set(
    write_pack: WritePack, rules_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    d = write_pack("demo", V1)
    holder = RuleSetHolder(rules_dir)
    good = holder.current
    (d / "rules.yaml").write_text(BROKEN)
    touch_later(d / "rules.yaml")
    with caplog.at_level(logging.ERROR, logger="monitor.rules.loader"):
        assert holder.reload_if_changed() is False
    assert holder.current is good  # still serving the last good set
    assert "rules/demo/rules.yaml:9: error: query: operators are written in capitals" in caplog.text
    assert "keeping the last good set" in caplog.text
    assert [str(p) for p in holder.problems if p.level == "error"] == [
        "rules/demo/rules.yaml:9: error: query: operators are written in capitals: write AND, "
        "not and (column 12)"
    ]
    # reported once, not on every poll
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="monitor.rules.loader"):
        assert holder.reload_if_changed() is False
    assert caplog.text == ""
    # the fix is picked up
    (d / "rules.yaml").write_text(V2)
    touch_later(d / "rules.yaml")
    assert holder.reload_if_changed() is True
    assert ids(holder) == ["demo.hotel_claim", "demo.school_claim"]


def test_a_deleted_or_unreadable_pack_file_is_also_refused(
    write_pack: WritePack, rules_dir: Path
) -> None:
    d = write_pack("demo", V1)
    holder = RuleSetHolder(rules_dir)
    good = holder.current
    (d / "pack.yaml").unlink()
    assert holder.reload_if_changed() is False
    assert holder.current is good
    (d / "pack.yaml").write_bytes(b"\xff\xfe not utf-8")
    assert holder.reload_if_changed() is False
    assert holder.current is good
    assert any("not UTF-8" in p.message for p in holder.problems)


def test_start_up_with_broken_packs_fails_with_the_reasons(
    write_pack: WritePack, rules_dir: Path
) -> None:
    write_pack("demo", BROKEN)
    with pytest.raises(PackError, match=r"rules/demo/rules.yaml:9"):
        RuleSetHolder(rules_dir).load()


def test_the_service_checks_for_edits_on_its_own_schedule(
    write_pack: WritePack, rules_dir: Path
) -> None:
    d = write_pack("demo", V1)
    clock = [0.0]
    service = RuleService(RuleSetHolder(rules_dir), reload_every=5.0, monotonic=lambda: clock[0])
    school = post("apparently the school is closing")
    assert service.evaluate(school, {}, T0) == []
    (d / "rules.yaml").write_text(V2)
    touch_later(d / "rules.yaml")
    clock[0] = 4.0
    assert service.evaluate(school, {}, T0) == []  # not yet time to look
    clock[0] = 6.0
    (hit,) = service.evaluate(school, {}, T0)
    assert hit.rule_id == "demo.school_claim"


WINDOWED = """\
rules:
  - id: surge
    description: claims piling up in a ward
    query: apparently
    window: {per: ward, within: 1h, count: ">= 3"}
    labels: {kind: rumour, topic: surge, severity: high}
    examples: {match: [x], no_match: [y]}
"""


def test_the_service_runs_windows_on_post_time_and_keeps_them_across_reloads(
    write_pack: WritePack, rules_dir: Path
) -> None:
    d = write_pack("demo", WINDOWED)
    clock = [0.0]
    service = RuleService(RuleSetHolder(rules_dir), reload_every=1.0, monotonic=lambda: clock[0])
    now = T0 + dt.timedelta(days=1)  # processing much later, e.g. a replay

    def send(minute: int, author: str) -> list[str]:
        p = post("apparently", ward="Eastbrook", author=author,
                 when=T0 + dt.timedelta(minutes=minute))  # fmt: skip
        return [h.rule_id for h in service.evaluate(p, {}, now)]

    assert send(0, "a") == []
    assert send(90, "b") == []  # 90 minutes later by the posts' own clock: a new window
    # an unrelated edit to the pack; the windowed rule itself is unchanged
    (d / "more.yaml").write_text(V1)
    clock[0] = 2.0
    assert send(100, "c") == []
    assert send(110, "d") == ["demo.surge"]  # 90, 100, 110: counts survived the reload
    assert len(service.ruleset.rules) == 2


def test_load_rule_evaluator_reads_the_settings(write_pack: WritePack, rules_dir: Path) -> None:
    write_pack("one", V1)
    write_pack("two", V1)
    settings = Settings(home=str(rules_dir.parent), rules_packs="two", rules_reload_seconds=0)
    service = load_rule_evaluator(settings, rules_dir.parent)
    assert [r.id for r in service.ruleset.rules] == ["two.hotel_claim"]
    assert service.maybe_reload() is False  # 0 switches reloading off


# --- parsed files are kept for the process, by content ---------------------------------------


def test_a_file_rewritten_with_the_same_size_and_time_is_read_anew(
    write_pack: WritePack, rules_dir: Path
) -> None:
    """Parsed rule files are kept by their bytes, not by name, size or time: a second runtime
    (or a reload) never gets rules the file no longer holds."""
    d = write_pack("demo", V1)
    path = d / "rules.yaml"
    assert [r.id for r in load_ruleset(rules_dir).rules] == ["demo.hotel_claim"]
    before = path.stat()
    path.write_text(V1.replace("hotel_claim", "motel_claim"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert [r.id for r in load_ruleset(rules_dir).rules] == ["demo.motel_claim"]


def test_a_review_date_passing_warns_on_the_next_load_of_the_same_files(
    write_pack: WritePack, rules_dir: Path
) -> None:
    write_pack("demo", V1)
    due = dt.date(2099, 1, 1)  # the test pack's review_by
    assert load_ruleset(rules_dir, today=due).warnings == ()
    (warning,) = load_ruleset(rules_dir, today=due + dt.timedelta(days=1)).warnings
    assert "review date 2099-01-01 has passed" in warning.message


def test_runtimes_loading_the_same_files_share_rules_none_of_them_can_change(
    write_pack: WritePack, rules_dir: Path
) -> None:
    write_pack("demo", V1)
    first, second = RuleSetHolder(rules_dir).current, RuleSetHolder(rules_dir).current
    assert first.rules[0] is second.rules[0]  # parsed and compiled once
    with pytest.raises(TypeError):
        first.rules[0].labels["severity"] = "low"  # type: ignore[index]
    assert second.rules[0].labels["severity"] == "medium"
