"""The store skips Alembic when it is already at the migrations' head, which it reads from the
migration files itself: that reading must name the head Alembic would, or a store one
migration behind would be left unmigrated."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from monitor.store import db
from monitor.store.db import alembic_config, head_revision


def test_the_head_read_from_the_files_is_alembics_head() -> None:
    alembic_head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert alembic_head is not None
    assert head_revision() == alembic_head


def test_a_branch_in_the_migrations_leaves_the_decision_to_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text('revision = "a"\ndown_revision = None\n', encoding="utf-8")
    (versions / "b.py").write_text('revision = "b"\ndown_revision = "a"\n', encoding="utf-8")
    (versions / "c.py").write_text('revision = "c"\ndown_revision = "a"\n', encoding="utf-8")
    monkeypatch.setattr(db, "MIGRATIONS", tmp_path)
    head_revision.cache_clear()
    try:
        assert head_revision() is None  # two heads: not a plain chain
        (versions / "c.py").unlink()
        head_revision.cache_clear()
        assert head_revision() == "b"
    finally:
        head_revision.cache_clear()
