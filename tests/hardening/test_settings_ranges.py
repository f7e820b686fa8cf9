"""Finding 18: settings have ranges and choices, checked at load with a one-line error."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import ConfigError, Settings, load_settings, setting_allowed, setting_fields


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [
        ("MONITOR_SIGNALS_SIMHASH_DISTANCE", "99", "0 to 7"),
        ("MONITOR_WEB_PORT", "-5", "1 to 65535"),
        ("MONITOR_CLASSIFIER", "bogus", "auto, transformer or keyword"),
        ("MONITOR_CLASSIFIER_DEVICE", "tpu", "auto, cpu or cuda"),
        ("MONITOR_SIGNALS_CLAIM_MATCH", "nan", "0 to 1"),
        ("MONITOR_RETENTION_DAYS", "0", "1 to 3650"),
        ("MONITOR_LOG_LEVEL", "LOUD", "DEBUG, INFO, WARNING or ERROR"),
    ],
)
def test_a_value_out_of_range_is_refused_at_load_naming_setting_value_and_allowed(
    variable: str, value: str, allowed: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={variable: value})
    message = str(caught.value)
    assert "\n" not in message
    assert variable in message and repr(value) in message and allowed in message


def test_a_file_value_out_of_range_names_the_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "monitor.toml"
    path.write_text("[monitor]\nweb_port = 70000\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"monitor.toml: setting web_port must be 1 to 65535"):
        load_settings(path, environ={})


def test_an_alert_level_not_on_the_scale_is_refused_at_load() -> None:
    with pytest.raises(ConfigError, match="serious"):
        load_settings(environ={"MONITOR_SIGNALS_ALERT_LEVEL": "serious"})


def test_values_at_the_edges_of_a_range_and_any_case_of_a_choice_load() -> None:
    s = load_settings(
        environ={
            "MONITOR_WEB_PORT": "65535",
            "MONITOR_SIGNALS_SIMHASH_DISTANCE": "0",
            "MONITOR_CLASSIFIER": "Keyword",
            "MONITOR_LOG_LEVEL": "debug",
        }
    )
    assert (s.web_port, s.signals_simhash_distance) == (65535, 0)


def test_every_default_is_within_its_own_range() -> None:
    load_settings(environ={})  # raises if a default broke its own rule
    assert Settings().web_port == 8080


def test_config_show_and_run_refuse_bad_values_in_one_line_not_a_traceback() -> None:
    runner = CliRunner()
    for args in (["config", "show"], ["run"]):
        result = runner.invoke(cli, args, env={"MONITOR_WEB_PORT": "-5"})
        assert result.exit_code != 0
        assert "Traceback" not in result.output
        assert "setting web_port must be 1 to 65535, got '-5'" in result.output


def test_config_help_lists_what_each_setting_allows() -> None:
    out = CliRunner().invoke(cli, ["config", "help"]).output
    for f in setting_fields():
        if setting_allowed(f):
            assert f"Allowed: {setting_allowed(f)}." in out


@pytest.mark.timeout(60)  # before the fix `run` started on the keyword classifier and kept running
def test_a_home_without_models_refuses_auto_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    (home / "rules").mkdir(parents=True)
    result = CliRunner().invoke(
        cli,
        ["run", "--role", "worker"],
        env={
            "MONITOR_HOME": str(home),
            "MONITOR_CLASSIFIER": "auto",
            "MONITOR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'm.db'}",
        },
    )
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    assert "no trained classifier" in result.output and "classifier = keyword" in result.output


def test_a_count_has_a_floor_but_no_ceiling_and_zero_only_where_it_turns_a_condition_off() -> None:
    # The same kind of number (posts, authors, places a condition needs) once had ceilings of
    # 100, 1,000, 10,000 or 1,000,000 by row; a large count is a strict setting, not an error.
    s = load_settings(
        environ={
            "MONITOR_INCIDENTS_MIN_POSTS": "250000",
            "MONITOR_SIGNALS_SPREAD_PLACES": "5000",
            "MONITOR_SIGNALS_SPREAD_EARLY_POSTS": "0",
        }
    )
    assert (s.incidents_min_posts, s.signals_spread_places, s.signals_spread_early_posts) == (
        250_000,
        5000,
        0,
    )
    with pytest.raises(ConfigError, match="MONITOR_INCIDENTS_MIN_POSTS.*1 or more"):
        load_settings(environ={"MONITOR_INCIDENTS_MIN_POSTS": "0"})
    with pytest.raises(ConfigError, match="MONITOR_SIGNALS_SPREAD_EARLY_POSTS.*0 or more"):
        load_settings(environ={"MONITOR_SIGNALS_SPREAD_EARLY_POSTS": "-1"})


def test_unreadable_files_and_settings_in_two_places_are_refused_in_one_line(  # type: ignore[no-untyped-def]
    tmp_path,
) -> None:
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    with pytest.raises(ConfigError, match=r"dir.toml: cannot read"):
        load_settings(folder, {})
    latin = tmp_path / "latin.toml"
    latin.write_bytes('home = "Caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin.toml: not UTF-8"):
        load_settings(latin, {})
    loop = tmp_path / "loop.toml"
    loop.symlink_to(loop)
    with pytest.raises(ConfigError, match=r"loop.toml: cannot read"):
        load_settings(loop, {})
    # A [monitor] table beside top-level settings hid the top level (its database_url too).
    both = tmp_path / "both.toml"
    both.write_text(
        'database_url = "sqlite+aiosqlite:///elsewhere.db"\n[monitor]\nlog_level = "WARNING"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"both at the top level \(database_url\)"):
        load_settings(both, {})
    table = tmp_path / "table.toml"
    table.write_text('[monitor]\nlog_level = "WARNING"\n', encoding="utf-8")
    assert load_settings(table, {}).log_level == "WARNING"
    typo = tmp_path / "typo.toml"
    typo.write_text('[[sourcs]]\nkind = "rss"\nname = "gazette"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown table \[sourcs\]"):
        load_settings(typo, {})
    odd = tmp_path / "odd.toml"
    odd.write_text('monitor = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'monitor' must be a table"):
        load_settings(odd, {})


def test_numbers_that_are_not_numbers_are_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for name, value in (
        ("MONITOR_WEB_PORT", "true"),
        ("MONITOR_DEMO_SPEED", "nan"),
        ("MONITOR_DEMO_SPEED", "1e400"),
        ("MONITOR_SIGNALS_LEVEL_RISE", "nan,nan,nan"),
        ("MONITOR_SIGNALS_LEVEL_AUTHORS", "-3,-2,-1"),
        ("MONITOR_SIGNALS_KIND_WEIGHTS", "threat=nan"),
    ):
        setting = name.removeprefix("MONITOR_").lower()
        with pytest.raises(ConfigError, match=setting):
            load_settings(None, {name: value})
    toml = tmp_path / "port.toml"
    toml.write_text("web_port = true\n", encoding="utf-8")  # TOML's true is not port 1
    with pytest.raises(ConfigError, match="web_port must be int"):
        load_settings(toml, {})


# A file that is not a database used to be opened, and aiosqlite's worker thread then
# reported to an event loop already closed: refused before opening, nothing is left running.
@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_store_url_with_another_driver_or_no_store_behind_it_is_one_line(  # type: ignore[no-untyped-def]
    tmp_path,
) -> None:
    for url in ("bogus://x", "", "%%%", "sqlite:///sync.db"):
        with pytest.raises(ConfigError, match="database_url: .* must start with"):
            load_settings(None, {"MONITOR_DATABASE_URL": url})
    runner = CliRunner()
    folder = tmp_path / "folder.db"
    folder.mkdir()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database " * 100)
    posts = tmp_path / "posts.jsonl"
    posts.write_text("", encoding="utf-8")
    for url in (
        f"sqlite+aiosqlite:///{folder}",
        f"sqlite+aiosqlite:///{junk}",
        "postgresql+asyncpg://nobody:secret@127.0.0.1:1/none",  # no server on port 1
    ):
        env = {"MONITOR_DATABASE_URL": url, "MONITOR_HOME": str(tmp_path)}
        commands = [["audit", "head"], ["db", "upgrade"]]
        if url.startswith("sqlite"):  # refused before the home or the runtime is read
            commands.append(["import", str(posts)])
        for args in commands:
            done = runner.invoke(cli, args, env=env)
            assert done.exit_code == 1, (url, args, done.output)
            said = done.output
            assert "cannot open the store" in said or "no store at" in said, (url, args, said)
            assert isinstance(done.exception, SystemExit), said  # a message, not a traceback
            assert "secret" not in done.output  # the password is masked


def test_arguments_and_variables_that_are_not_utf8_are_refused_by_name(  # type: ignore[no-untyped-def]
    tmp_path,
) -> None:
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "MONITOR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'm.db'}",
        "MONITOR_CLASSIFIER": "keyword",
    }
    argv = [sys.executable, "-m", "monitor", "erase", "--reason", "test", b"bluesky:\xff"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "is not UTF-8 text" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    with pytest.raises(ConfigError, match=r"\$MONITOR_LOG_LEVEL: not UTF-8"):
        load_settings(None, {"MONITOR_LOG_LEVEL": "INFO\udcff"})
