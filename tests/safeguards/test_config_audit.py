"""Edits to rule packs and the routing file are recorded in the audit log when they take
effect, with the file's hash (to tie them to the commit that made them)."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.config import Settings
from monitor.safeguards import audit, config_audit
from monitor.store.tables import audit_events
from tests.privacy.helpers import db_path, engine

__all__ = ["db_path", "engine"]  # fixtures

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


async def _events(engine: AsyncEngine) -> list[dict[str, object]]:
    async with engine.connect() as conn:
        assert await audit.verify(conn) == []
        rows = await conn.execute(
            select(audit_events.c.detail).where(audit_events.c.action == "config_changed")
        )
        return [r[0] for r in rows.all()]


async def test_rule_and_routing_edits_are_audited_once_each(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(ROOT / "rules", home / "rules")
    shutil.copytree(ROOT / "alerts", home / "alerts")
    files = config_audit.watched_files(Settings(home=str(home)), home)
    assert {"rules/tension/gathering.yaml", "alerts/routing.yaml"} <= set(files)

    async with engine.begin() as conn:
        first = await config_audit.record_changes(conn, files, NOW)
    async with engine.begin() as conn:
        again = await config_audit.record_changes(conn, files, NOW + timedelta(minutes=1))
    assert len(first) == len(files) and again == []

    gathering = home / "rules" / "tension" / "gathering.yaml"
    gathering.write_text(gathering.read_text() + "\n# edited\n", encoding="utf-8")
    (home / "alerts" / "routing.yaml").unlink()
    async with engine.begin() as conn:
        changed = await config_audit.record_changes(conn, files, NOW + timedelta(minutes=2))
    assert changed == ["alerts/routing.yaml", "rules/tension/gathering.yaml"]
    events = await _events(engine)
    edit = events[-1]
    assert edit["kind"] == "rules" and edit["file"] == "rules/tension/gathering.yaml"
    assert edit["sha256"] == hashlib.sha256(gathering.read_bytes()).hexdigest()
    assert edit["previous"] != edit["sha256"]
    assert events[-2] == {
        "file": "alerts/routing.yaml", "kind": "routing", "sha256": "missing",
        "previous": hashlib.sha256((ROOT / "alerts" / "routing.yaml").read_bytes()).hexdigest(),
    }  # fmt: skip
