"""A MONITOR_* variable that is not a setting is reported, not silently ignored.

A council operator who wrote MONITOR_RETENTION_DAY=30 (no S) got the default without a word,
while the same typo in the settings file is refused. The prefix is this service's, so such a
variable is a mistake unless the project reads it itself or it holds a secret that a setting
or a file names; it is a warning (an environment is shared with other programs), naming the
variable and the closest setting, never the value (it may be a secret).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from monitor.config import ENV_PREFIX, OTHER_VARIABLES, load_settings, setting_fields

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_settings_file_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # ./monitor.toml would be read


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "monitor.config" and r.levelno == logging.WARNING
    ]


def test_a_misspelt_variable_is_named_with_the_setting_it_was_meant_to_be(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = load_settings(None, {"MONITOR_RETENTION_DAY": "7"})
    assert settings.retention_days == 30  # ignored, as before: but now said
    (message,) = _warnings(caplog)
    assert "$MONITOR_RETENTION_DAY is not a setting and is ignored" in message
    assert "did you mean $MONITOR_RETENTION_DAYS (setting retention_days)?" in message
    assert "7" not in message  # never the value: it may be a secret


def test_a_variable_like_no_setting_is_named_too(caplog: pytest.LogCaptureFixture) -> None:
    load_settings(None, {"MONITOR_FROBNICATE": "s3cret", "MONITOR_WEB_PORT": "8081"})
    (message,) = _warnings(caplog)
    assert message.startswith("$MONITOR_FROBNICATE is not a setting and is ignored")
    assert "did you mean" not in message and "s3cret" not in message


def test_settings_other_programs_and_the_projects_own_variables_are_not_reported(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text(
        'retention_days = 14\n\n[[sources]]\nkind = "mastodon"\nname = "m"\n'
        'token_env = "MONITOR_MASTODON_TOKEN"\n',
        encoding="utf-8",
    )
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        "receivers:\n  - name: duty\n    email:\n      - password_env: MONITOR_MAIL_SECRET\n",
        encoding="utf-8",
    )
    load_settings(
        None,
        {
            "MONITOR_CONFIG": str(config),  # the settings file
            "MONITOR_DATA_DIR": "/data",  # read by the training commands
            "MONITOR_TEST_PG_URL": "postgresql://x@y/z",  # the test suite's
            "MONITOR_RETENTION_DAYS": "21",
            "MONITOR_ALERTS_ROUTING": str(routing),
            "MONITOR_AUDIT_KEY_ENV": "MONITOR_AUDIT_SECRET",  # a setting names a secret
            "MONITOR_AUDIT_SECRET": "x" * 40,
            "MONITOR_MASTODON_TOKEN": "t",  # named by a [[sources]] table of the file
            "MONITOR_MAIL_SECRET": "p",  # named by the routing file
            "PATH": "/usr/bin",
        },
    )
    assert _warnings(caplog) == []


def test_the_shipped_routing_files_secrets_are_not_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """alerts/routing.yaml tells operators to keep SMTP and webhook secrets in MONITOR_SMTP_*
    and the like; a service set up as it says must start without warnings about them."""
    shipped = (ROOT / "alerts" / "routing.yaml").read_text(encoding="utf-8")
    named = set(re.findall(r"_env:\s*(MONITOR_[A-Z0-9_]+)", shipped))
    assert named, "the shipped routing file no longer names MONITOR_ variables"
    load_settings(None, {"MONITOR_HOME": str(ROOT), **dict.fromkeys(named, "x")})
    assert _warnings(caplog) == []


# How the project reads a variable itself: os.environ.get("X"), os.environ["X"], getenv("X"),
# and ${X} or ${X:-...} in a shell script.
_READS = re.compile(
    r"""(?:environ(?:\.get|\.setdefault)?\(?\[?|getenv\()\s*["'](MONITOR_[A-Z0-9_]+)["']"""
    r"""|\$\{(MONITOR_[A-Z0-9_]+)"""
)


def test_every_variable_the_project_reads_is_a_setting_or_listed() -> None:
    """A variable read outside the settings table and not in OTHER_VARIABLES would be
    reported as unknown to the operators who set it."""
    settings = {ENV_PREFIX + f.name.upper() for f in setting_fields()}
    files = [
        *(ROOT / "monitor").rglob("*.py"),
        *(ROOT / "tests").rglob("*.py"),
        *(p for p in (ROOT / "scripts").iterdir() if p.is_file()),
    ]
    read = {
        name: path.relative_to(ROOT)
        for path in files
        for match in _READS.finditer(path.read_text(encoding="utf-8", errors="replace"))
        for name in match.groups()
        if name
    }
    assert "MONITOR_DATA_DIR" in read and "MONITOR_TEST_WORKERS" in read  # the scan works
    unlisted = {n: str(p) for n, p in read.items() if n not in settings | OTHER_VARIABLES}
    assert unlisted == {}
