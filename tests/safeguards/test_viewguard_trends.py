"""The posts behind a trend bar of an incident or a rumour are that story's evidence: the
repeated-viewing guard counts and stops them as it does the story's own page. Found by opening
two stories' alerts with one (fictional) author in each, then the third story's posts from
Trends: they opened with no justification asked, and the view was not counted either."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from sqlalchemy import select

from monitor.runtime.state import Runtime
from monitor.store.tables import incident_alerts
from tests.safeguards.test_viewguard_web import _same_author_in_four_alerts
from tests.web.conftest import (
    T0,
    Client,
    app,
    client,
    clock,
    passwords,
    runtime,
    sign_in,
    state_purpose,
    users,
)

__all__ = ["app", "client", "clock", "passwords", "runtime", "users"]  # fixtures

BAR = {"start": (T0 - timedelta(hours=1)).isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()}


async def _incidents(rt: Runtime, alert_ids: list[int]) -> list[int]:
    async with rt.engine.connect() as conn:
        found = dict(
            (
                await conn.execute(
                    select(incident_alerts.c.alert_id, incident_alerts.c.incident_id).where(
                        incident_alerts.c.alert_id.in_(alert_ids)
                    )
                )
            ).all()
        )
    assert all(a in found for a in alert_ids), "each story should be an incident"
    return [int(found[a]) for a in alert_ids]


async def test_a_third_storys_posts_from_trends_need_a_justification(
    runtime: Runtime, client: Client, users: dict[str, str]
) -> None:
    ids = await _same_author_in_four_alerts(runtime)
    stories = await _incidents(runtime, ids[:3])
    csrf = await sign_in(client, "analyst")
    await state_purpose(client, csrf)
    for alert_id in ids[:2]:
        assert (await client.get(f"/alerts/{alert_id}")).status == 200
    path = "/trends/posts?" + urlencode({"incident": stories[2], **BAR})
    third = await client.get(path, allow_redirects=False)
    assert third.status == 303, "the third story's posts opened without a justification"
    assert third.headers["Location"].startswith(f"/justify?context=incident:{stories[2]}&")


async def test_posts_seen_from_trends_count_toward_the_guard(
    runtime: Runtime, client: Client, users: dict[str, str]
) -> None:
    ids = await _same_author_in_four_alerts(runtime)
    stories = await _incidents(runtime, ids[:3])
    csrf = await sign_in(client, "analyst")
    await state_purpose(client, csrf)
    for story in stories[:2]:
        path = "/trends/posts?" + urlencode({"incident": story, **BAR})
        shown = await client.get(path)
        assert shown.status == 200 and "Send them back" in await shown.text()
    third = await client.get(f"/alerts/{ids[2]}", allow_redirects=False)
    assert third.status == 303 and third.headers["Location"].startswith("/justify?")
