"""A sent digest (the weekly Community Tension Summary) downloads as a Word document: the same
sentences as its page, no post text, and the download is an audited export."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from docx import Document
from sqlalchemy import insert

from monitor.runtime.state import Runtime
from monitor.safeguards import audit
from monitor.store.tables import digest_runs
from tests.web.conftest import Client, sign_in, state_purpose

VIEW = {
    "name": "tension-weekly",
    "title": "Weekly community tension summary",
    "period_label": "Mon 02 Nov 2026 to Mon 09 Nov 2026",
    "sections": ["incidents"],
    "summary": {
        "overall": "Overall level: critical.",
        "drivers": ["(fictional) A fire in Little Horton and posts blaming newcomers."],
        "events": ["A gathering at Centenary Square, Friday 19:00."],
        "reassurance": ["(fictional) Faith leaders appealed for calm."],
        "actions": ["Consider patrols near Centenary Square on Friday evening."],
        "by_area": [{"area": "Little Horton", "items": ["Tension after the fire: critical"]}],
    },
    "incidents": [
        {
            "headline": "Tension after the fire in Little Horton",
            "sentences": {
                "where": "Where: Little Horton.",
                "when": "When: Thu 05 Nov 19:00 to 23:00.",
                "level": "Level: critical.",
                "change": "New since the last digest.",
                "next": "Expected next: a gathering at Centenary Square, Friday 19:00.",
                "action": "Recommended action: consider patrols.",
            },
            "excerpts": ["(fictional) post text that must never reach the document"],
        }
    ],
}


async def test_the_weekly_summary_downloads_as_a_word_document(
    client: Client, users: dict[str, str], runtime: Runtime
) -> None:
    now = datetime(2026, 11, 9, 8, tzinfo=UTC)
    async with runtime.engine.begin() as conn:
        run = (
            await conn.execute(
                insert(digest_runs)
                .values(
                    digest="tension-weekly", period="2026-11-09T08:00",
                    period_start=datetime(2026, 11, 2, tzinfo=UTC), period_end=now, late=False,
                    claimed_by="test", claimed_at=now, subject="Weekly summary", text="",
                    html="", data=VIEW,
                )
                .returning(digest_runs.c.id)
            )
        ).scalar_one()  # fmt: skip
    csrf = await sign_in(client, "liaison")
    page = await (await client.get(f"/digests/{run}")).text()
    assert f'href="/digests/{run}.docx"' in page
    first = await client.get(f"/digests/{run}.docx", allow_redirects=False)
    assert first.status == 303 and "/purpose" in first.headers["Location"]  # an export
    await state_purpose(client, csrf)
    got = await client.get(f"/digests/{run}.docx")
    assert got.status == 200 and got.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert "tension-weekly-2026-11-02.docx" in got.headers["Content-Disposition"]
    doc = Document(io.BytesIO(await got.read()))
    text = "\n".join(p.text for p in doc.paragraphs)
    for line in (
        "Community tension summary",
        "Overall level: critical.",
        "A gathering at Centenary Square, Friday 19:00.",
        "Expected next: a gathering at Centenary Square, Friday 19:00.",
        "Little Horton: Tension after the fire: critical",
    ):
        assert line in text, line
    assert "must never reach" not in text
    async with runtime.engine.connect() as conn:
        events = await audit.recent(conn, limit=5, actor="liaison")
    assert any(e.action == "export" and (e.detail or {}).get("digest_run") == run for e in events)
