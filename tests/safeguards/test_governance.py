"""Governance: each monitored topic and place has an owner, a purpose from a closed list and a
review date; past it, the topic's rules stop firing and the place stops placing posts until
someone re-approves it, and every approval is in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.ingest.core import Ingestor
from monitor.privacy.postids import PostIds
from monitor.rules.service import load_rule_evaluator
from monitor.runtime.app import open_runtime
from monitor.safeguards import audit, governance
from monitor.store.tables import audit_events, governance_register
from monitor.types import RawPost
from tests.privacy.helpers import db_path, engine

IDS = PostIds(b"i" * 32)  # fictional post id key
__all__ = ["db_path", "engine"]  # fixtures

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
CALL = "Everyone get down to the Greyfield Hotel at 7pm tonight. Enough is enough, show them"


async def test_an_approval_needs_a_listed_purpose_an_owner_and_is_audited(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        with pytest.raises(governance.GovernanceError, match="not on the list"):
            await governance.approve(
                conn, "pack:tension", owner="Comms", purpose="watch_protesters",
                approved_by="Head of Communities", now=NOW,
            )  # fmt: skip
        with pytest.raises(governance.GovernanceError, match="owner"):
            await governance.approve(
                conn, "pack:tension", owner=" ", purpose="community_tension",
                approved_by="Head of Communities", now=NOW,
            )  # fmt: skip
        first = await governance.approve(
            conn, "pack:tension", owner="Communities team", purpose="community_tension",
            approved_by="Head of Communities", now=NOW,
        )  # fmt: skip
        again = await governance.approve(
            conn, "pack:tension", owner="Communities team", purpose="community_tension",
            approved_by="Head of Communities", now=NOW + timedelta(days=80), note="reviewed",
        )  # fmt: skip
    assert first.review_by == NOW + timedelta(days=90)
    assert again.review_by == NOW + timedelta(days=170)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(governance_register))).all()
        events = (await conn.execute(select(audit_events.c.action, audit_events.c.actor))).all()
        assert await audit.verify(conn) == []
    assert len(rows) == 1 and rows[0].review_by == again.review_by
    assert events == [("governance_approve", "Head of Communities")] * 2


def _raw(text: str) -> RawPost:
    return RawPost(
        platform="bluesky", native_id="at://did:plc:fictionalgov/app.bsky.feed.post/1",
        text=text, created_at=NOW, author_id="did:plc:fictionalgov", language="en",
    )  # fmt: skip


async def test_a_pack_past_its_review_date_stops_until_re_approved(engine: AsyncEngine) -> None:
    settings = Settings(home=str(ROOT), places="bradford")
    rules = load_rule_evaluator(settings, ROOT)
    gate = governance.GovernanceGate()
    rules.gate = gate.ruleset_for
    subjects = governance.subjects_for(settings, rules.ruleset.packs)
    await gate.refresh(engine, subjects, NOW, review_days=90)
    post = Ingestor.from_settings(settings, ROOT).ingest(_raw(CALL), b"k" * 32, NOW, ids=IDS)

    def fired(now: datetime) -> set[str]:
        return {h.rule_id for h in rules.evaluate(post, {}, now)}

    assert "tension.call_to_gather" in fired(NOW + timedelta(days=89))
    assert not any(r.startswith("tension.") for r in fired(NOW + timedelta(days=91)))
    later = NOW + timedelta(days=91)
    async with engine.begin() as conn:
        await governance.approve(
            conn, "pack:tension", owner="Communities team", purpose="community_tension",
            approved_by="Head of Communities", now=later,
        )  # fmt: skip
    await gate.refresh(engine, subjects, later, review_days=90)
    assert "tension.call_to_gather" in fired(later)


async def test_a_lapsed_gazetteer_stops_placing_and_taking_in_posts(engine: AsyncEngine) -> None:
    settings = Settings(home=str(ROOT))
    ingestor = Ingestor.from_settings(settings, ROOT)
    gate = governance.GovernanceGate()
    subjects = governance.subjects_for(settings, [])
    await gate.refresh(engine, subjects, NOW, review_days=30)
    both = ingestor.ingest(_raw("Trouble in Manningham and Dewsbury"), b"k" * 32, NOW, ids=IDS)
    bradford = ingestor.ingest(_raw("Trouble in Manningham tonight"), b"k" * 32, NOW, ids=IDS)
    nowhere = ingestor.ingest(_raw("Trouble somewhere tonight"), b"k" * 32, NOW, ids=IDS)
    async with engine.begin() as conn:  # Kirklees re-approved; Bradford left to lapse
        await governance.approve(
            conn, "places:kirklees", owner="Kirklees communities", purpose="community_tension",
            approved_by="Head of Communities", now=NOW + timedelta(days=29),
        )  # fmt: skip
    late = NOW + timedelta(days=31)
    await gate.refresh(engine, subjects, late, review_days=30)
    kept = gate.places(both, late)
    assert kept is not None and [m.district for m in kept.places] == ["Kirklees"]
    assert gate.places(bradford, late) is None
    assert gate.places(nowhere, late) is nowhere
    assert gate.places(bradford, NOW) is bradford


async def test_the_service_registers_what_it_monitors_with_a_90_day_review(
    settings: Settings,
) -> None:
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        async with rt.engine.connect() as conn:
            rows = {r.subject: r for r in (await conn.execute(select(governance_register)))}
        gate = rt.governance
        assert gate is not None
    assert {"pack:tension", "pack:rumour", "places:bradford", "places:kirklees"} <= set(rows)
    assert rows["pack:rumour"].purpose == "rumour_response"
    assert all(r.purpose in governance.PURPOSES for r in rows.values())
    for r in rows.values():
        assert timedelta(days=89) < r.review_by - r.approved_at <= timedelta(days=90)
    assert gate.allows("pack:tension", datetime.now(UTC))
