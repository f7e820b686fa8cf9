"""The repeated-viewing guard in the web UI: the third alert in a week containing posts by the
same person needs a recorded justification before it opens, and the SRO is told."""

from __future__ import annotations

from sqlalchemy import func, select

from monitor.runtime.state import Runtime
from monitor.store.tables import alerts, audit_events, incident_alerts, mailbox
from monitor.types import RawPost
from tests.web.conftest import (
    T0,
    Client,
    app,
    client,
    clock,
    csrf_of,
    passwords,
    runtime,
    sign_in,
    state_purpose,
    users,
)

__all__ = ["app", "client", "clock", "passwords", "runtime", "users"]  # fixtures

WARDS = ("Manningham", "Toller", "Little Horton", "Keighley Central")


async def _same_author_in_four_alerts(rt: Runtime) -> list[int]:
    posts = [
        RawPost(
            platform="mastodon",
            native_id=f"https://social.example/users/fictional_repeat/statuses/{900 + i}",
            text=f"(fictional) Send them back, simple as. Not welcome here in {ward}",
            created_at=T0,
            author_id="https://social.example/users/fictional_repeat",
            source="test",
            language="en",
        )
        for i, ward in enumerate(WARDS)
    ]
    await rt.pipeline.deliver("test", posts, None)
    await rt.pipeline.drain()
    async with rt.engine.connect() as conn:  # one alert per story: the guard counts stories
        ids = list(
            (
                await conn.execute(
                    select(func.min(alerts.c.id))
                    .select_from(alerts.outerjoin(incident_alerts))
                    .group_by(func.coalesce(incident_alerts.c.incident_id, -alerts.c.id))
                    .order_by(func.min(alerts.c.id))
                )
            ).scalars()
        )
    assert len(ids) >= 3, "each ward's post should open its own incident"
    return ids


async def test_third_alert_with_the_same_author_needs_a_justification(
    runtime: Runtime, client: Client, users: dict[str, str]
) -> None:
    ids = await _same_author_in_four_alerts(runtime)
    csrf = await sign_in(client, "analyst")
    await state_purpose(client, csrf)
    for alert_id in ids[:2]:
        assert (await client.get(f"/alerts/{alert_id}")).status == 200
    again = await client.get(f"/alerts/{ids[0]}")
    assert again.status == 200  # reopening the same alert is not following anyone
    third = await client.get(f"/alerts/{ids[2]}", allow_redirects=False)
    assert third.status == 303 and third.headers["Location"].startswith("/justify?context=alert")
    api = await client.get(f"/api/v1/alerts/{ids[2]}")
    assert api.status == 428 and "justification" in (await api.json())["error"]

    form = await client.get(third.headers["Location"])
    body = await form.text()
    assert form.status == 200 and "3 different stories" in body and "fictional_repeat" not in body
    token = csrf_of(body)
    short = await client.post(
        "/justify", data={"csrf_token": token, "context": f"alert:{ids[2]}", "next": "/",
                          "justification": "need it"},
    )  # fmt: skip
    assert short.status == 400
    done = await client.post(
        "/justify",
        data={"csrf_token": token, "context": f"alert:{ids[2]}", "next": f"/alerts/{ids[2]}",
              "justification": "Weekly tension summary: reviewing every hostility alert this week"},
        allow_redirects=False,
    )  # fmt: skip
    assert done.status == 303 and done.headers["Location"] == f"/alerts/{ids[2]}"
    assert (await client.get(f"/alerts/{ids[2]}")).status == 200

    async with runtime.engine.connect() as conn:
        notices = (
            await conn.execute(
                select(mailbox.c.kind, mailbox.c.text).where(mailbox.c.mailbox == "sro")
            )
        ).all()
        actions = list((await conn.execute(select(audit_events.c.action))).scalars())
    assert [n.kind for n in notices] == ["privacy"] and "analyst" in notices[0].text
    assert "view_justified" in actions

    # Another analyst starts from nothing.
    client.session.cookie_jar.clear()
    csrf2 = await sign_in(client, "analyst2")
    await state_purpose(client, csrf2)
    assert (await client.get(f"/alerts/{ids[2]}")).status == 200
