"""Order independence: the same posts give the same incidents whether they arrive in one bulk
import or paced, one post per batch (event time drives every window, never batch boundaries),
and their lifecycle events carry the same event times: an incident opens at the evidence that
took it past the gate, not at the end of the batch that noticed it. The posts are the fictional
demo week's Little Horton evening, through the real pipeline."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.ingest.importer import import_file
from monitor.runtime.app import open_runtime
from monitor.store.tables import alerts, incident_alerts, incident_events, incidents
from tests.conftest import ROOT, run_sync

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


async def incidents_after(tmp: Path, source: Path, batch: int) -> tuple[set[Any], set[Any]]:
    """(the incidents, each as what a person sees of it; each incident's state changes with
    their event times). Incidents are named by their alerts' keys, never by row ids."""
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
            events = (
                await conn.execute(
                    select(
                        incident_events.c.incident_id, incident_events.c.kind, incident_events.c.at
                    )
                )
            ).all()
    keys: dict[int, set[str]] = {}
    for link in links:
        keys.setdefault(int(link.incident_id), set()).add(link.key)
    named = {int(r.id): frozenset(keys.get(int(r.id), ())) for r in rows}
    # The changes a person acts on: when it opened, cooled, closed, reopened. (How many `grew`
    # and `held` steps it took depends on how many batches saw it grow: that is the record of
    # the regrouping, not of the story.)
    changes = {
        (named[int(e.incident_id)], e.kind, e.at.replace(tzinfo=None).isoformat())
        for e in events
        if e.kind in ("opened", "cooling", "closed", "reopened", "warmed")
        and named[int(e.incident_id)]
    }
    seen = {
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
    return seen, changes


BULK = 500  # more than the evening's posts: a bulk import delivers them in one batch


@pytest.fixture(scope="module")
def evening_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not DEMO.is_file():
        pytest.skip("no demo scenario")
    source = evening(tmp_path_factory.mktemp("evening") / "evening.jsonl")
    assert len(source.read_text(encoding="utf-8").splitlines()) < BULK
    return source


@pytest.fixture(scope="module")
def bulk(tmp_path_factory: pytest.TempPathFactory, evening_file: Path) -> tuple[set[Any], set[Any]]:
    """The whole evening imported in one batch, once for the tests that read it."""
    tmp = tmp_path_factory.mktemp("bulk")
    return run_sync(lambda: incidents_after(tmp, evening_file, BULK))


@pytest.mark.slow
async def test_bulk_import_and_paced_replay_give_the_same_incidents(
    tmp_path: Path, evening_file: Path, bulk: tuple[set[Any], set[Any]]
) -> None:
    seen, bulk_changes = bulk
    paced, paced_changes = await incidents_after(tmp_path, evening_file, 1)
    assert any("Little Horton" in wards for _, _, _, wards, *_ in seen)
    assert seen == paced
    assert any(kind == "opened" for _, kind, _ in bulk_changes)
    assert bulk_changes == paced_changes


def test_a_bulk_import_opens_the_episode_when_its_evidence_passed_the_gate(
    evening_file: Path, bulk: tuple[set[Any], set[Any]]
) -> None:
    """One batch of the whole evening (the fire is at 19:15): the Little Horton episode opens
    within the hour, at one of its own posts' times, not at the evening's last post (04:00)."""
    times = {
        datetime.fromisoformat(json.loads(line)["created_at"]).replace(tzinfo=None).isoformat()
        for line in evening_file.read_text(encoding="utf-8").splitlines()
    }
    _, changes = bulk
    opened = [
        at
        for keys, kind, at in changes
        if kind == "opened" and any("Little Horton" in k for k in keys)
    ]
    assert len(opened) == 1, changes
    assert "2026-11-05T19:15" < opened[0] < "2026-11-05T20:15"
    assert opened[0] in times
