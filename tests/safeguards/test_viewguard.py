"""The repeated-viewing guard: opening evidence from several alerts that contain posts by the
same pseudonymous author needs a recorded justification, and the SRO is told."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.safeguards import audit, viewguard
from monitor.safeguards.viewguard import GuardPolicy
from monitor.store.tables import alerts, audit_events, mailbox
from tests.privacy.helpers import NOW, make_post, store_posts

POLICY = GuardPolicy(contexts=3, window=timedelta(days=7), sro_mailbox="sro")


def view(refs: list[str], context: str) -> dict[str, object]:
    return {"action": "view_evidence", "detail": viewguard.audit_detail(refs, context)}


def test_the_third_alert_showing_the_same_author_needs_a_justification() -> None:
    events = [view(["a", "b"], "alert:1"), view(["a", "c"], "alert:2")]
    assert viewguard.decide(events, ["a", "d"], "alert:2", POLICY).allowed  # reopening
    third = viewguard.decide(events, ["a", "d"], "alert:3", POLICY)
    assert not third.allowed and third.contexts == 3
    assert third.authors == (viewguard.digest("a"),)
    # Different authors in different alerts do not add up to anyone.
    assert viewguard.decide(events, ["b", "c"], "alert:3", POLICY).allowed


def test_a_justification_covers_those_authors_for_that_user() -> None:
    events = [view(["a"], "alert:1"), view(["a"], "alert:2")]
    needed = viewguard.decide(events, ["a"], "alert:3", POLICY)
    justified = {"action": "view_justified", "detail": {"authors": list(needed.authors)}}
    assert viewguard.decide([*events, justified], ["a"], "alert:3", POLICY).allowed
    assert not viewguard.decide(
        [*events, justified], ["z", "y"], "alert:3", POLICY
    ).needs_justification


async def _view(engine: AsyncEngine, user: str, refs: list[str], ctx: str, days_ago: float) -> None:
    async with engine.begin() as conn:
        detail = {"route": "alert", **viewguard.audit_detail(refs, ctx)}
        await audit.record(
            conn, user, "view_evidence", "triage", detail, NOW - timedelta(days=days_ago)
        )


async def test_views_are_counted_per_user_within_the_window_and_the_sro_is_told(
    engine: AsyncEngine,
) -> None:
    await _view(engine, "analyst", ["ref-a"], "alert:1", 8)  # outside the window
    await _view(engine, "analyst", ["ref-a"], "alert:2", 2)
    await _view(engine, "analyst2", ["ref-a"], "alert:3", 1)  # another user
    async with engine.connect() as conn:
        first = await viewguard.check_repeated_viewing(
            conn, "analyst", "ref-a", NOW, context="alert:4", policy=POLICY
        )
    assert first.allowed and first.contexts == 2
    await _view(engine, "analyst", ["ref-a"], "alert:4", 0)
    async with engine.begin() as conn:
        decision = await viewguard.check_repeated_viewing(
            conn, "analyst", ["ref-a", "ref-b"], NOW, context="alert:5", policy=POLICY
        )
        assert decision.needs_justification
        with pytest.raises(viewguard.JustificationError, match="at least"):
            await viewguard.record_justification(conn, "analyst", decision, "because", NOW, POLICY)
        await viewguard.record_justification(
            conn, "analyst", decision,
            "Reviewing every gathering alert in Manningham this week for the tension summary",
            NOW, POLICY,
        )  # fmt: skip
        after = await viewguard.check_repeated_viewing(
            conn, "analyst", ["ref-a"], NOW, context="alert:5", policy=POLICY
        )
        notes = (await conn.execute(select(mailbox))).all()
        events = (await conn.execute(select(audit_events.c.action, audit_events.c.detail))).all()
        assert await audit.verify(conn) == []
    assert after.allowed
    assert [(n.mailbox, n.kind) for n in notes] == [("sro", "privacy")]
    assert "analyst" in notes[0].text and "Manningham this week" in notes[0].text
    # Neither the notice nor the audit log carries an author reference.
    for stored in (notes[0].text, notes[0].html, *(str(e.detail) for e in events)):
        assert "ref-a" not in stored
    assert events[-1].action == "view_justified"


async def test_allowlisted_organisations_are_not_counted(engine: AsyncEngine) -> None:
    person = make_post(1, "FICTION everyone to Fern Street at 7pm tonight, enough is enough")
    council = dataclasses.replace(
        make_post(2, "FICTION please do not attend Fern Street tonight, enough is enough"),
        author_name="Bradford Council (fictional account)",
    )
    await store_posts(engine, [person, council], alert=True, at=NOW)
    async with engine.connect() as conn:
        alert_id = (await conn.execute(select(alerts.c.id))).scalar_one()
        refs = await viewguard.author_refs_for_alert(conn, alert_id)
    assert refs == [person.author_ref]
