"""The review queue: take an alert (a lock others can see), dismiss it with a reason, action
it; two people can never hold the same alert; the CSV export cannot smuggle formulas."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import select

from monitor.runtime.state import Runtime
from monitor.store.tables import alert_actions, alerts
from monitor.web.queries import review
from tests.web.conftest import Client, Seeded, deliver, sign_in, state_purpose

ClientFactory = Callable[[web.Application], Awaitable[Client]]


async def _status(rt: Runtime, alert_id: int) -> tuple[str, str | None, str | None]:
    async with rt.engine.connect() as conn:
        row = (
            await conn.execute(
                select(alerts.c.status, alerts.c.owner, alerts.c.dismiss_reason).where(
                    alerts.c.id == alert_id
                )
            )
        ).one()
    return row.status, row.owner, row.dismiss_reason


async def test_take_then_dismiss_with_a_reason(
    client: Client, users: dict[str, str], seeded: Seeded, runtime: Runtime
) -> None:
    alert = seeded.alert_ids[0]
    csrf = await sign_in(client, "analyst")
    queue = await client.get("/queue")
    assert f'id="alert-{alert}"' in await queue.text()
    taken = await client.post(f"/alerts/{alert}/take", data={"csrf_token": csrf})
    assert taken.status == 200 and "/purpose" in str(taken.url)  # evidence asks why first
    await state_purpose(client, csrf)
    page = await (await client.get(f"/alerts/{alert}")).text()
    assert "You hold this alert" in page and "Reason for dismissing" in page
    assert await _status(runtime, alert) == ("acknowledged", "analyst", None)

    no_reason = await client.post(
        f"/alerts/{alert}/dismiss", data={"csrf_token": csrf, "reason": ""}, allow_redirects=False
    )
    assert no_reason.headers["Location"].endswith("done=reason")
    assert (await _status(runtime, alert))[0] == "acknowledged"

    done = await client.post(
        f"/alerts/{alert}/dismiss",
        data={"csrf_token": csrf, "reason": "counter_speech", "note": "a resident rebutting it"},
    )
    assert "Dismissed" in await done.text()
    assert await _status(runtime, alert) == (
        "dismissed",
        "analyst",
        "counter_speech: a resident rebutting it",
    )
    async with runtime.engine.connect() as conn:
        actions = (
            await conn.execute(
                select(alert_actions.c.action, alert_actions.c.reason).where(
                    alert_actions.c.alert_id == alert
                )
            )
        ).all()
    assert [tuple(a) for a in actions] == [("take", None), ("dismiss", "counter_speech")]


async def test_a_taken_alert_is_locked_for_everyone_else(
    aiohttp_client: ClientFactory,
    app: web.Application,
    users: dict[str, str],
    seeded: Seeded,
    runtime: Runtime,
) -> None:
    alert = seeded.alert_ids[0]
    first = await aiohttp_client(app)
    second = await aiohttp_client(app)
    c1 = await sign_in(first, "analyst")
    c2 = await sign_in(second, "analyst2")
    r = await first.post(f"/api/v1/alerts/{alert}/take", json={}, headers={"X-CSRF-Token": c1})
    assert (await r.json())["code"] == "taken"
    refused = await second.post(
        f"/api/v1/alerts/{alert}/take", json={}, headers={"X-CSRF-Token": c2}
    )
    assert refused.status == 409 and (await refused.json())["code"] == "locked"
    queue = await (await second.get("/queue")).text()
    assert "Locked: analyst" in queue
    dismiss = await second.post(
        f"/api/v1/alerts/{alert}/dismiss",
        json={"reason": "not_relevant"},
        headers={"X-CSRF-Token": c2},
    )
    assert dismiss.status == 409
    assert await _status(runtime, alert) == ("acknowledged", "analyst", None)


async def test_simultaneous_takes_leave_exactly_one_holder(
    runtime: Runtime, seeded: Seeded
) -> None:
    alert = seeded.alert_ids[0]
    now = runtime.pipeline.clock()

    async def take(name: str) -> review.Outcome:
        async with runtime.engine.begin() as conn:
            return await review.take(conn, alert, name, now)

    outcomes = await asyncio.gather(*(take(f"analyst{i}") for i in range(6)))
    assert sum(o.ok for o in outcomes) == 1
    assert {o.code for o in outcomes if not o.ok} == {"locked"}


async def test_release_action_and_admin_take_over(
    aiohttp_client: ClientFactory,
    app: web.Application,
    users: dict[str, str],
    seeded: Seeded,
    runtime: Runtime,
) -> None:
    alert = seeded.alert_ids[0]
    analyst = await aiohttp_client(app)
    admin = await aiohttp_client(app)
    ca = await sign_in(analyst, "analyst")
    cb = await sign_in(admin, "admin")
    await analyst.post(f"/api/v1/alerts/{alert}/take", json={}, headers={"X-CSRF-Token": ca})
    over = await admin.post(
        f"/api/v1/alerts/{alert}/take", json={"force": "1"}, headers={"X-CSRF-Token": cb}
    )
    assert (await over.json())["code"] == "taken"
    assert (await _status(runtime, alert))[1] == "admin"
    release = await admin.post(
        f"/api/v1/alerts/{alert}/release", json={}, headers={"X-CSRF-Token": cb}
    )
    assert (await release.json())["code"] == "released"
    assert await _status(runtime, alert) == ("new", None, None)
    await analyst.post(f"/api/v1/alerts/{alert}/take", json={}, headers={"X-CSRF-Token": ca})
    empty = await analyst.post(
        f"/api/v1/alerts/{alert}/action", json={"note": " "}, headers={"X-CSRF-Token": ca}
    )
    assert (await empty.json())["code"] == "note"
    done = await analyst.post(
        f"/api/v1/alerts/{alert}/action",
        json={"note": "passed to the police liaison officer"},
        headers={"X-CSRF-Token": ca},
    )
    assert (await done.json())["code"] == "actioned"
    assert (await _status(runtime, alert))[0] == "actioned"


async def test_the_queue_filters_by_place_kind_and_level(
    client: Client, users: dict[str, str], seeded: Seeded, runtime: Runtime
) -> None:
    await sign_in(client, "analyst")
    all_open = await (await client.get("/api/v1/alerts")).json()
    areas = {a["area"] for a in all_open["alerts"]}
    assert {"Manningham", "Toller"} <= areas
    only = await (await client.get("/api/v1/alerts?area=Toller")).json()
    assert only["alerts"] and {a["area"] for a in only["alerts"]} == {"Toller"}
    none = await (await client.get("/api/v1/alerts?kind=no_such_kind")).json()
    assert none["alerts"] == []
    level = all_open["alerts"][0]["level"]
    same = await (await client.get(f"/api/v1/alerts?level={level}")).json()
    assert same["alerts"] and all(a["level"] == level for a in same["alerts"])
    assert all("excerpt" not in a for a in all_open["alerts"])  # the list never carries text


async def test_csv_export_neutralises_formulas(
    client: Client, users: dict[str, str], runtime: Runtime
) -> None:
    await deliver(runtime, ['=HYPERLINK("http://evil.example") send them back, Toller scum'], 50)
    async with runtime.engine.connect() as conn:
        alert = (await conn.execute(select(alerts.c.id))).scalars().first()
    csrf = await sign_in(client, "analyst")
    await state_purpose(client, csrf)
    body = await (await client.get(f"/alerts/{alert}/evidence.csv")).text()
    assert "'=HYPERLINK" in body and "\n=HYPERLINK" not in body and ",=HYPERLINK" not in body


async def test_odd_json_is_refused_politely(
    client: Client, users: dict[str, str], seeded: Seeded
) -> None:
    csrf = await sign_in(client, "analyst")
    alert = seeded.alert_ids[0]
    headers = {"X-CSRF-Token": csrf}
    await client.post(f"/api/v1/alerts/{alert}/take", json={}, headers=headers)
    odd = await client.post(
        f"/api/v1/alerts/{alert}/dismiss", json={"reason": 5, "note": 7}, headers=headers
    )
    assert odd.status == 409 and (await odd.json())["code"] == "reason"
    listed = await client.post(f"/api/v1/alerts/{alert}/action", json=[1], headers=headers)
    assert listed.status == 400
    purpose = await client.post("/api/v1/purpose", json=["triage"], headers=headers)
    assert purpose.status == 400
