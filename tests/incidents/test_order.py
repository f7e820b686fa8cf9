"""Order independence: the same posts give the same incidents whether they arrive in one bulk
import or paced, one post per batch (event time drives every window, never batch boundaries).
The posts are the fictional demo week's Little Horton evening, through the real pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from monitor.app import open_runtime
from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.importer import import_file
from monitor.store.tables import alerts, incident_alerts, incidents
from tests.conftest import ROOT

DEMO = ROOT / "monitor" / "data" / "demo" / "bradford-scenario.jsonl"
START, END = "2026-11-05T19", "2026-11-06T04"


def evening(path: Path) -> Path:
    lines = [
        line
        for line in DEMO.read_text(encoding="utf-8").splitlines()
        if START <= json.loads(line)["created_at"] < END
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def incidents_after(tmp: Path, source: Path, batch: int) -> set[Any]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp / f'b{batch}.db'}",
        home=str(ROOT),
        classifier="keyword",
        classifier_batch_size=batch,
        alerts_deliver=False,
    )
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        report = await import_file(source, rt.pipeline, batch_size=batch)
        await rt.pipeline.drain()
        assert not report.problems
        async with rt.engine.connect() as conn:
            rows = (await conn.execute(select(incidents))).all()
            links = (
                await conn.execute(
                    select(incident_alerts.c.incident_id, alerts.c.key).join(
                        alerts, alerts.c.id == incident_alerts.c.alert_id
                    )
                )
            ).all()
    keys: dict[int, set[str]] = {}
    for link in links:
        keys.setdefault(int(link.incident_id), set()).add(link.key)
    return {
        (
            r.family,
            r.status,
            r.headline,
            tuple(r.wards),
            tuple(r.kinds),
            r.post_count,
            frozenset(keys.get(int(r.id), ())),
        )
        for r in rows
        if r.status != "merged"
    }


@pytest.mark.skipif(not DEMO.is_file(), reason="no demo scenario")
async def test_bulk_import_and_paced_replay_give_the_same_incidents(tmp_path: Path) -> None:
    source = evening(tmp_path / "evening.jsonl")
    bulk = await incidents_after(tmp_path, source, 500)
    paced = await incidents_after(tmp_path, source, 1)
    assert any("Little Horton" in wards for _, _, _, wards, *_ in bulk)
    assert bulk == paced
