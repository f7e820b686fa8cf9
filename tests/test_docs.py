"""Documentation cannot drift: every setting is in the README's settings table with its help."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.config import setting_allowed, setting_default, setting_fields, setting_help

README = Path(__file__).resolve().parent.parent / "README.md"


def _settings_rows() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Settings", 1)[1]
    section = re.split(r"\n## ", section, maxsplit=1)[0]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"\|\s*`([a-z_]+)`\s*\|(.*)\|\s*$", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


def test_every_setting_is_documented_in_the_readme() -> None:
    rows = _settings_rows()
    missing = [f.name for f in setting_fields() if f.name not in rows]
    assert not missing, f"settings missing from README.md's settings table: {missing}"


def test_readme_documents_no_setting_that_does_not_exist() -> None:
    names = {f.name for f in setting_fields()}
    assert set(_settings_rows()) <= names


def test_readme_defaults_and_help_match_the_table() -> None:
    rows = _settings_rows()
    for f in setting_fields():
        row = rows.get(f.name, "")
        assert f"`{setting_default(f)}`" in row, f"{f.name}: README default differs"
        assert setting_help(f)[:40] in row, f"{f.name}: README help differs from the table"


def test_readme_states_each_settings_allowed_values() -> None:
    rows = _settings_rows()
    for f in setting_fields():
        allowed = setting_allowed(f)
        if allowed:
            assert allowed in rows.get(f.name, ""), f"{f.name}: README lacks 'allowed: {allowed}'"
