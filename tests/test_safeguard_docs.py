"""The safeguard documents exist and say what the code does: the DPIA's table of shipped
settings equals the defaults, and every test it cites exists."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.config import setting_default, setting_fields

DOCS = Path(__file__).resolve().parent.parent / "docs"
ROOT = DOCS.parent


def test_the_four_safeguard_documents_exist() -> None:
    for name in ("dpia.md", "privacy-notice.md", "isa-police-liaison.md", "atrs-classifier.md"):
        text = (DOCS / name).read_text(encoding="utf-8")
        assert len(text) > 3000, name


def test_the_dpia_settings_table_matches_the_defaults() -> None:
    text = (DOCS / "dpia.md").read_text(encoding="utf-8")
    table = text.split("Settings as shipped", 1)[1]
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| ([^|]+?) \|$", table, flags=re.M))
    defaults = {f.name: setting_default(f) for f in setting_fields()}
    assert len(rows) >= 10
    for name, value in rows.items():
        assert str(defaults[name]) == value, (
            f"{name}: the DPIA says {value}, the code {defaults[name]}"
        )


def test_every_test_the_dpia_cites_exists() -> None:
    text = (DOCS / "dpia.md").read_text(encoding="utf-8")
    cited = set(re.findall(r"`(tests/[\w/]+(?:\.py)?)`", text))
    assert len(cited) >= 8
    missing = [c for c in cited if not (ROOT / c).exists()]
    assert not missing, missing
