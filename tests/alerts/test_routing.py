"""The routing tree and its file: matchers, inheritance, continue, validation with lines, and
the shipped routing for the three audiences — plus `monitor alerts route` and `check`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.alerts.config import AlertConfigError, load_config, parse_duration
from monitor.alerts.matchers import MatcherError, parse_matcher
from monitor.cli import cli

from .conftest import ROOT, config_from

TREE = """
route:
  receiver: team
  group_by: [kind, area]
  group_wait: 45s
  repeat_interval: 3h
  routes:
    - name: threats
      matchers: ['kind=~"threat|call_to_gather"']
      receiver: liaison
      group_wait: 0s
      continue: true
    - name: rumours
      matchers: [kind=rumour_spreading]
      receiver: comms
      routes:
        - name: rumours-in-manningham
          matchers: [area=Manningham]
          receiver: manningham
    - name: rest
      matchers: ['kind!=rumour_spreading', 'area!~"Test.*"']
      receiver: team
receivers:
  - name: team
    local: [{mailbox: team}]
  - name: liaison
    local: [{}]
  - name: comms
    local: [{}]
  - name: manningham
    local: [{}]
"""


def receivers(config_text: str, **labels: str) -> list[str]:
    return [r.options.receiver for r in config_from(config_text).match(labels)]


def test_first_matching_child_wins_unless_it_continues() -> None:
    assert receivers(TREE, kind="threat", area="Toller") == ["liaison", "team"]
    assert receivers(TREE, kind="rumour_spreading", area="Toller") == ["comms"]
    assert receivers(TREE, kind="rumour_spreading", area="Manningham") == ["manningham"]


def test_no_matching_child_falls_back_to_the_parent() -> None:
    # `rest` refuses areas starting with Test; nothing else matches a hostility alert there.
    assert receivers(TREE, kind="hostility", area="Test ward") == ["team"]


def test_children_inherit_what_they_do_not_set() -> None:
    config = config_from(TREE)
    (route,) = config.match({"kind": "rumour_spreading", "area": "Manningham"})
    assert route.label() == "rumours-in-manningham"
    assert route.options.group_wait == timedelta(seconds=45)  # from the root
    assert route.options.repeat_interval == timedelta(hours=3)
    assert route.options.group_by == ("kind", "area")
    threats = config.match({"kind": "threat"})[0]
    assert threats.options.group_wait == timedelta(0)  # its own


def test_matchers_follow_alertmanager() -> None:
    anchored = parse_matcher('kind=~"rumour"')
    assert anchored.matches({"kind": "rumour"})
    assert not anchored.matches({"kind": "rumour_spreading"})  # the whole value must match
    assert parse_matcher("area!=Toller").matches({})  # a missing label is ""
    assert parse_matcher('area=""').matches({"kind": "x"})
    assert not parse_matcher('kind!~"threat|rumour.*"').matches({"kind": "rumour_x"})


@pytest.mark.parametrize(
    "text",
    ['kind=~"(a+)+"', 'kind=~"(\\w*)*x"', 'kind=~"(a)\\1"', 'kind=~"(?=a)a"', "kind=~" + "a" * 300],
)
def test_regexes_that_could_run_away_are_refused(text: str) -> None:
    with pytest.raises(MatcherError):
        parse_matcher(text)


@pytest.mark.parametrize("name", ["author", "author_ref", "handle", "account"])
def test_routing_on_a_person_is_refused(name: str) -> None:
    with pytest.raises(MatcherError, match="never on an author"):
        parse_matcher(f"{name}=someone")


def problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(AlertConfigError) as info:
        config_from(text, environ)
    return info.value.problems


def test_every_mistake_is_reported_with_its_line() -> None:
    text = """route:
  receiver: team
  group_wiat: 30s
  routes:
    - matchers: [kind=threat]
      receiver: nobody
    - matchers: ['kind=~"(x+)+"']
receivers:
  - name: team
    email:
      - to: [team@council.example]
        from: monitor@council.example
        host: smtp.council.example
        password: hunter2
"""
    found = problems(text)
    assert (
        "test-routing.yaml:3: route: unknown key 'group_wiat' (did you mean 'group_wait'?)" in found
    )
    assert any(
        p.startswith("test-routing.yaml:6:") and "no receiver named 'nobody'" in p for p in found
    )
    assert any(p.startswith("test-routing.yaml:7:") and "repeats a group" in p for p in found)
    assert any(p.startswith("test-routing.yaml:14:") and "password is a secret" in p for p in found)


def test_the_root_route_needs_a_receiver_and_no_matchers() -> None:
    found = problems("route:\n  matchers: [a=b]\nreceivers:\n  - name: x\n    local: [{}]\n")
    assert any("must not have matchers" in p for p in found)
    assert any("default receiver" in p for p in found)


def test_anchors_bad_durations_and_clock_change_hours_are_refused() -> None:
    assert any(
        "anchors" in p
        for p in problems("route: &r\n  receiver: x\nreceivers:\n  - name: x\n    local: [{}]\n")
    )
    bad = """route:
  receiver: x
  group_wait: soon
receivers:
  - name: x
    local: [{}]
digests:
  - name: night
    schedule: "30 1 * * *"
    receivers: [x]
"""
    found = problems(bad)
    assert any(p.startswith("test-routing.yaml:3:") and "duration" in p for p in found)
    assert any(p.startswith("test-routing.yaml:9:") and "clocks change" in p for p in found)


def test_secrets_come_only_from_the_environment() -> None:
    text = """route: {receiver: ops}
receivers:
  - name: ops
    slack:
      - url_env: TEST_SLACK_URL
"""
    assert any("$TEST_SLACK_URL" in p for p in problems(text))
    config = config_from(text, {"TEST_SLACK_URL": "https://hooks.slack.example/T/B/x"})
    integ = config.receivers["ops"].integrations[0]
    assert integ.resolve({"TEST_SLACK_URL": "u"})["url"] == "u"
    optional = config_from(
        text.replace("url_env: TEST_SLACK_URL", "url_env: TEST_SLACK_URL\n        optional: true")
    )
    assert optional.active_integrations("ops", {}) == []
    assert "switched off until $TEST_SLACK_URL is set" in optional.warnings({})[0]


def test_a_digest_with_excerpts_needs_receivers_that_may_see_them() -> None:
    text = """route: {receiver: liaison}
receivers:
  - name: liaison
    excerpts: false
    local: [{}]
digests:
  - name: brief
    schedule: "0 7 * * *"
    receivers: [liaison]
    excerpts: true
"""
    assert any("does not take them" in p for p in problems(text))


def test_durations() -> None:
    assert parse_duration("1h30m") == timedelta(hours=1, minutes=30)
    assert parse_duration("0s") == timedelta(0)
    with pytest.raises(ValueError):
        parse_duration("90")
    assert parse_duration("36500d") == timedelta(days=36_500)
    # Past the calendar (or timedelta itself): a clear refusal, never an OverflowError.
    for endless in ("36501d", "999999999999d", "999999999w", "1d999999999w", "9" * 5000 + "s"):
        with pytest.raises(ValueError, match="longer than 36500 days"):
            parse_duration(endless)


# --- the shipped routing file ---------------------------------------------------------------


SHIPPED = ROOT / "alerts" / "routing.yaml"


def shipped_receivers(**labels: str) -> list[str]:
    return [r.options.receiver for r in load_config(SHIPPED, {}).match(labels)]


def test_shipped_routing_serves_the_three_audiences() -> None:
    assert shipped_receivers(kind="rumour_spreading", area="Manningham", cluster="c1") == [
        "comms",
        "communities-team",
    ]
    assert shipped_receivers(kind="threat", area="Toller") == ["police-liaison", "communities-team"]
    assert shipped_receivers(kind="call_to_gather", area="Toller") == [
        "police-liaison",
        "communities-team",
    ]
    assert shipped_receivers(kind="rising_tension", area="Heaton", level="critical") == [
        "police-liaison",
        "communities-team",
    ]
    assert shipped_receivers(kind="rising_tension", area="Heaton", level="high") == [
        "communities-team"
    ]
    assert shipped_receivers(kind="hostility", area="Heaton") == ["communities-team"]


def test_shipped_routing_needs_no_mail_server_and_keeps_post_text_from_liaison() -> None:
    config = load_config(SHIPPED, {})
    for name in config.receivers:
        assert [i.channel for i in config.active_integrations(name, {})] == ["local"]
    assert not config.receivers["police-liaison"].excerpts
    assert set(config.digests) == {"liaison-daily", "tension-weekly", "comms-morning-brief"}
    comms = config.match({"kind": "rumour_spreading"})[0]
    assert comms.options.active_time_intervals == ("office-hours",)


def test_route_command_prints_the_receivers(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["alerts", "route", "--label", "kind=rumour_spreading", "--label", "area=Manningham"],
        env={
            "MONITOR_HOME": str(ROOT),
            "MONITOR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db",
        },
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("comms\t(route comms-rumours")
    assert "held outside office-hours" in lines[0]
    assert lines[1].startswith("communities-team\t(route communities-queue")


def test_check_command_fails_with_the_line_of_a_mistake(tmp_path: Path) -> None:
    broken = tmp_path / "routing.yaml"
    broken.write_text(SHIPPED.read_text().replace("group_wait: 2m", "group_wait: 2 minutes"))
    env = {"MONITOR_HOME": str(ROOT)}
    ok = CliRunner().invoke(cli, ["alerts", "check"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "routing.yaml: OK" in ok.output
    bad = CliRunner().invoke(cli, ["alerts", "check", "--file", str(broken)], env=env)
    assert bad.exit_code == 1
    line = 1 + SHIPPED.read_text().splitlines().index("      group_wait: 2m")
    assert f"routing.yaml:{line}: route.routes[2].group_wait: duration '2 minutes'" in bad.output
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"route: {receiver: caf\xe9}\n")
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    for unreadable, why in ((latin, "not UTF-8 text"), (folder, "cannot read")):
        named = {**env, "MONITOR_ALERTS_ROUTING": str(unreadable)}  # as a deployment names it
        bad = CliRunner().invoke(cli, ["alerts", "check"], env=named)
        assert bad.exit_code == 1 and f"{unreadable}: {why}" in bad.output, bad.output
        assert bad.exception is None or isinstance(bad.exception, SystemExit)


def test_check_reports_a_broken_message_template_at_its_line(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(ROOT / "alerts", tmp_path / "alerts")
    (tmp_path / "rules").symlink_to(ROOT / "rules")  # a home holds rules too
    digest = tmp_path / "alerts" / "templates" / "digest.txt"
    lines = digest.read_text(encoding="utf-8").splitlines()
    lines.insert(2, "{% if %}")
    digest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "alerts" / "templates" / "alert.html").write_bytes(b"caf\xe9 {{ title }}\n")
    env = {"MONITOR_HOME": str(tmp_path)}
    bad = CliRunner().invoke(cli, ["alerts", "check"], env=env)
    assert bad.exit_code == 1, bad.output
    assert f"{digest}:3:" in bad.output and "alert.html: not UTF-8" in bad.output
    assert "message templates are not usable" in bad.output
    assert isinstance(bad.exception, SystemExit)  # words, not a traceback
