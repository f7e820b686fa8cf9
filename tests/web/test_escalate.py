"""What an analyst does from the queue besides take and dismiss: escalate an alert to the police
liaison (or another receiver) with a record of who was told and when, dismiss a selection with
one reason, and come back to the same filtered queue with the next row to focus."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import aiohttp
from sqlalchemy import delete, select

from monitor.alerts.dispatcher import Dispatcher
from monitor.alerts.service import build_notifiers
from monitor.runtime.state import Runtime
from monitor.safeguards import audit
from monitor.store.tables import (
    alert_actions,
    alerts,
    incident_alerts,
    incidents,
    mailbox,
    notifications,
)
from tests.web.conftest import Client, Clock, Seeded, sign_in, state_purpose


async def _deliver_now(rt: Runtime, clock: Clock) -> None:
    """One round of the real dispatcher (local mailboxes: no mail server in tests)."""
    assert rt.alerts is not None
    async with aiohttp.ClientSession() as session:
        d = Dispatcher(
            rt.engine,
            rt.alerts.config,
            build_notifiers(rt.alerts.config, rt.engine, session, {}),
            rt.alerts.envs,
            environ={},
            clock=clock,
        )
        await d.run_once(clock.now)


async def test_escalate_to_the_police_liaison_records_who_was_told_and_when(
    client: Client, users: dict[str, str], seeded: Seeded, runtime: Runtime, clock: Clock
) -> None:
    alert = seeded.alert_ids[0]
    csrf = await sign_in(client, "analyst")
    await state_purpose(client, csrf)
    page = await (await client.get(f"/alerts/{alert}")).text()
    assert 'id="escalate-to"' in page and 'value="police-liaison"' in page
    done = await client.post(
        f"/alerts/{alert}/escalate?area=Toller",
        data={"csrf_token": csrf, "receiver": "police-liaison", "note": "gathering planned"},
        allow_redirects=False,
    )
    assert done.status == 303
    where = urlsplit(done.headers["Location"])
    assert where.path == f"/alerts/{alert}"
    assert parse_qs(where.query) == {"area": ["Toller"], "done": ["escalated"]}

    async with runtime.engine.connect() as conn:
        held = (
            await conn.execute(select(alerts.c.status, alerts.c.owner).where(alerts.c.id == alert))
        ).one()
        history = (
            await conn.execute(
                select(alert_actions.c.action, alert_actions.c.actor, alert_actions.c.note)
                .where(alert_actions.c.alert_id == alert)
                .order_by(alert_actions.c.id)
            )
        ).all()
        told = (
            (
                await conn.execute(
                    select(notifications).where(
                        notifications.c.alert_id == alert, notifications.c.kind == "escalated"
                    )
                )
            )
            .mappings()
            .all()
        )
        events = await audit.recent(conn, limit=20, actor="analyst")
    # Taken on the way (nobody held it) and still open with the analyst.
    assert tuple(held) == ("acknowledged", "analyst")
    assert [tuple(h) for h in history] == [
        ("take", "analyst", None),
        ("escalate", "analyst", "to police-liaison: gathering planned"),
    ]
    assert told and {t["receiver"] for t in told} == {"police-liaison"}
    assert all(t["status"] == "pending" and t["not_before"] == clock.now for t in told)
    assert any(
        e.action == "alert_escalate" and (e.detail or {}).get("receiver") == "police-liaison"
        for e in events
    )

    clock.advance(seconds=5)
    await _deliver_now(runtime, clock)
    async with runtime.engine.connect() as conn:
        sent = (
            await conn.execute(
                select(notifications.c.status, notifications.c.sent_at).where(
                    notifications.c.alert_id == alert, notifications.c.kind == "escalated"
                )
            )
        ).all()
        box = (
            (
                await conn.execute(
                    select(mailbox.c.subject).where(mailbox.c.mailbox == "police-liaison")
                )
            )
            .scalars()
            .all()
        )
    assert sent and all(s.status == "sent" and s.sent_at == clock.now for s in sent)
    assert any(s.startswith("Escalated to you by the communities team") for s in box), box
    page = await (await client.get(f"/alerts/{alert}")).text()
    assert "Who was told" in page and "police-liaison" in page


async def test_escalation_goes_even_when_the_alert_is_held_and_refuses_unknown_receivers(
    client: Client, users: dict[str, str], seeded: Seeded, runtime: Runtime, clock: Clock
) -> None:
    alert = seeded.alert_ids[0]
    csrf = await sign_in(client, "analyst")
    headers = {"X-CSRF-Token": csrf}
    bad = await client.post(
        f"/api/v1/alerts/{alert}/escalate", json={"receiver": "nobody"}, headers=headers
    )
    assert bad.status == 409 and (await bad.json())["code"] == "receiver"
    ok = await client.post(
        f"/api/v1/alerts/{alert}/escalate", json={"receiver": "communities-leads"}, headers=headers
    )
    assert ok.status == 200 and (await ok.json())["code"] == "escalated"
    # A reminder would now be cancelled (the alert is acknowledged); a person's escalation is not.
    clock.advance(seconds=5)
    await _deliver_now(runtime, clock)
    async with runtime.engine.connect() as conn:
        statuses = (
            (
                await conn.execute(
                    select(notifications.c.status).where(notifications.c.kind == "escalated")
                )
            )
            .scalars()
            .all()
        )
    assert statuses and set(statuses) == {"sent"}

    client.session.cookie_jar.clear()
    csrf2 = await sign_in(client, "analyst2")
    other = await client.post(
        f"/api/v1/alerts/{alert}/escalate",
        json={"receiver": "police-liaison"},
        headers={"X-CSRF-Token": csrf2},
    )
    assert other.status == 409 and (await other.json())["code"] == "locked"


async def test_bulk_dismiss_with_one_reason_keeps_the_filters_and_skips_others_alerts(
    client: Client, users: dict[str, str], seeded: Seeded, runtime: Runtime
) -> None:
    assert len(seeded.alert_ids) >= 2
    first, second = seeded.alert_ids[:2]
    others = seeded.alert_ids[2:]
    csrf2 = await sign_in(client, "analyst2")
    if others:  # someone else holds a third: it is left alone
        await client.post(
            f"/api/v1/alerts/{others[0]}/take", json={}, headers={"X-CSRF-Token": csrf2}
        )
    client.session.cookie_jar.clear()
    csrf = await sign_in(client, "analyst")
    selection = [first, second, *others[:1]]
    queue = await (await client.get("/queue?kind=hostility&focus=7")).text()
    assert 'action="/queue/dismiss?kind=hostility&amp;focus=7"' in queue
    done = await client.post(
        "/queue/dismiss?kind=hostility&focus=7",
        data=[("csrf_token", csrf), ("reason", "not_relevant"), ("note", "")]
        + [("alerts", str(i)) for i in selection],
        allow_redirects=False,
    )
    where = urlsplit(done.headers["Location"])
    assert where.path == "/queue"
    query = parse_qs(where.query)
    assert query["kind"] == ["hostility"] and query["focus"] == ["7"]
    assert query["done"] == (["bulk_some"] if others else ["bulk"])
    async with runtime.engine.connect() as conn:
        rows = dict(
            (
                await conn.execute(
                    select(alerts.c.id, alerts.c.dismiss_reason).where(alerts.c.id.in_(selection))
                )
            ).all()
        )
    assert rows[first] == rows[second] == "not_relevant"
    if others:
        assert rows[others[0]] is None

    api = await client.post(
        "/api/v1/alerts/dismiss",
        json={"alerts": [first], "reason": "other"},
        headers={"X-CSRF-Token": csrf},
    )
    body = await api.json()
    assert body["dismissed"] == 0 and body["results"][0]["code"] == "reason"


async def test_row_take_stays_on_the_filtered_queue_and_closed_alerts_are_not_locked(
    client: Client, users: dict[str, str], seeded: Seeded, runtime: Runtime
) -> None:
    alert = seeded.alert_ids[0]
    csrf = await sign_in(client, "analyst")
    taken = await client.post(
        f"/alerts/{alert}/take?from=queue&area=Toller&focus=99",
        data={"csrf_token": csrf},
        allow_redirects=False,
    )
    query = parse_qs(urlsplit(taken.headers["Location"]).query)
    assert query["area"] == ["Toller"] and query["focus"] == [str(alert)]  # the same row
    await client.post(
        f"/api/v1/alerts/{alert}/dismiss",
        json={"reason": "duplicate"},
        headers={"X-CSRF-Token": csrf},
    )
    closed = await (await client.get("/queue?status=closed")).text()
    row = closed[closed.index(f'id="alert-{alert}"') :].split("</tr>")[0]
    assert "Locked" not in row and "dismissed by analyst" in row
    await state_purpose(client, csrf)
    page = await (await client.get(f"/alerts/{alert}")).text()
    assert "Locked" not in page.split("Who is working on it")[1].split("</section>")[0], page
    assert "closed: dismissed by analyst" in page


async def test_the_repeated_viewing_guard_counts_a_story_once(
    client: Client, users: dict[str, str], runtime: Runtime, clock: Clock
) -> None:
    """Four alerts with posts by one author: as four stories the third needs a justification
    (tests/safeguards/test_viewguard_web.py); as the alerts of one incident, none does."""
    from monitor.safeguards import viewguard
    from tests.safeguards.test_viewguard_web import _same_author_in_four_alerts

    ids = await _same_author_in_four_alerts(runtime)
    now = clock.now
    async with runtime.engine.begin() as conn:
        for number, merged_into in ((70, None), (71, 70)):
            await conn.execute(
                incidents.insert().values(
                    id=number, family="episode", status="open" if merged_into is None else "merged",
                    headline="(fictional) one episode", kinds=[], wards=[], localities=[],
                    level="high", first_seen=now, last_seen=now, created_at=now, updated_at=now,
                    merged_into=merged_into,
                )
            )  # fmt: skip
        await conn.execute(delete(incident_alerts).where(incident_alerts.c.alert_id.in_(ids)))
        for i, alert_id in enumerate(ids):
            await conn.execute(
                incident_alerts.insert().values(
                    alert_id=alert_id, incident_id=70 if i % 2 else 71, added_at=now
                )
            )
        assert await viewguard.story_context(conn, f"alert:{ids[0]}") == "incident:70"
        assert await viewguard.story_context(conn, "alert:999999") == "alert:999999"
    csrf = await sign_in(client, "analyst")
    await state_purpose(client, csrf)
    for alert_id in ids:
        opened = await client.get(f"/alerts/{alert_id}", allow_redirects=False)
        assert opened.status == 200, opened.headers.get("Location")
