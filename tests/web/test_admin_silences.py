"""Admin pages: silences made from an alert or an incident, listed and expired, each change
audited; routing answers as `monitor alerts route` does, and says which silence mutes it."""

from __future__ import annotations

import html

from monitor.alerts.silence_store import load_silences
from monitor.runtime.state import Runtime
from monitor.safeguards import audit
from tests.web.conftest import Client, Clock, Seeded, sign_in


async def test_admin_silences_an_alert_from_its_labels_and_expires_it(
    client: Client, users: dict[str, str], seeded: Seeded, runtime: Runtime, clock: Clock
) -> None:
    csrf = await sign_in(client, "admin")
    alert = seeded.alert_ids[0]
    form = await client.get(f"/admin/silences?alert={alert}")
    body = html.unescape(await form.text())
    assert form.status == 200
    assert 'kind="' in body and 'area="' in body  # the alert's labels are offered

    refused = await client.post(
        "/admin/silences",
        data={"csrf_token": csrf, "matchers": "area=Toller", "reason": "short", "duration": "4h"},
    )
    assert refused.status == 400
    assert "at least 10 characters" in await refused.text()
    endless = await client.post(
        "/admin/silences",
        data={
            "csrf_token": csrf,
            "matchers": "area=Toller",
            "reason": "(fictional) planned community event, already briefed",
            "duration": "999999999999d",
        },
    )
    assert endless.status == 400  # past the calendar's end: refused, not a 500
    assert "is longer than 36500 days" in html.unescape(await endless.text())

    done = await client.post(
        "/admin/silences",
        data={
            "csrf_token": csrf,
            "matchers": 'area="Toller"\nkind="tension"',
            "reason": "(fictional) planned community event, already briefed",
            "duration": "4h",
        },
        allow_redirects=False,
    )
    assert done.status == 303, await done.text()
    silence_id = int(done.headers["Location"].split("done=")[1])
    async with runtime.engine.connect() as conn:
        (silence,) = await load_silences(conn, clock())
        events = await audit.recent(conn, limit=5, actor="admin")
    assert silence.id == silence_id and silence.created_by == "admin"
    assert {str(m) for m in silence.matchers} == {'area="Toller"', 'kind="tension"'}
    assert (silence.ends_at - silence.starts_at).total_seconds() == 4 * 3600
    assert any(e.action == "silence.add" and e.purpose.startswith("(fictional)") for e in events)

    route = await client.get("/admin/routing", params={"labels": "area=Toller\nkind=tension"})
    assert route.status == 200
    assert f'Silenced now by silence <a href="/admin/silences#silence-{silence_id}"' in (
        await route.text()
    )

    gone = await client.post(
        f"/admin/silences/{silence_id}/expire",
        data={"csrf_token": csrf, "reason": "event over"},
        allow_redirects=False,
    )
    assert gone.status == 303
    async with runtime.engine.connect() as conn:
        assert await load_silences(conn, clock()) == []
        events = await audit.recent(conn, limit=5, actor="admin")
    assert events[0].action == "silence.expire" and events[0].detail == {"silence": silence_id}
    again = await client.post(
        f"/admin/silences/{silence_id}/expire", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert again.status == 409


async def test_the_api_silences_an_incident_by_its_label(
    client: Client, users: dict[str, str], seeded: Seeded, runtime: Runtime, clock: Clock
) -> None:
    from sqlalchemy import select

    from monitor.store.tables import incidents

    csrf = await sign_in(client, "admin")
    async with runtime.engine.connect() as conn:
        incident = (await conn.execute(select(incidents.c.id).limit(1))).scalar()
    assert incident is not None, "the seeded alerts should form an incident"
    made = await client.post(
        "/api/v1/silences",
        json={
            "incident": incident,
            "reason": "(fictional) handled by the neighbourhood team",
            "duration": "1d",
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert made.status == 201, await made.text()
    body = await made.json()
    assert body["matchers"] == [f"incident={incident}"]
    listed = await (await client.get("/api/v1/silences")).json()
    assert [s["id"] for s in listed["silences"]] == [body["id"]]
    assert listed["silences"][0]["state"] == "active"
    no_csrf = await client.post(f"/api/v1/silences/{body['id']}/expire", json={})
    assert no_csrf.status == 403
    ended = await client.post(
        f"/api/v1/silences/{body['id']}/expire", json={}, headers={"X-CSRF-Token": csrf}
    )
    assert ended.status == 200
    assert (await (await client.get("/api/v1/silences")).json())["silences"] == []


async def test_routing_answers_as_the_command_does(
    client: Client, users: dict[str, str], runtime: Runtime
) -> None:
    from monitor.alerts.config import load_config
    from monitor.config import alerts_routing_file

    await sign_in(client, "admin")
    labels = {"kind": "threat", "area": "Manningham", "severity": "critical"}
    config = load_config(alerts_routing_file(runtime.settings, runtime.home))
    expected = [r.options.receiver for r in config.match(labels)]
    assert expected, "the shipped routing sends threats somewhere"
    api = await client.get(
        "/api/v1/routing", params=[("label", f"{k}={v}") for k, v in labels.items()]
    )
    assert api.status == 200
    assert [r["receiver"] for r in (await api.json())["routes"]] == expected
    page = await client.get(
        "/admin/routing", params={"labels": "\n".join(f"{k}={v}" for k, v in labels.items())}
    )
    text = await page.text()
    for receiver in expected:
        assert f'<th scope="row">{receiver}' in text
    bad = await client.get("/api/v1/routing", params={"label": "no-equals-sign"})
    assert bad.status == 400


async def test_other_roles_cannot_silence(
    client: Client, users: dict[str, str], seeded: Seeded
) -> None:
    csrf = await sign_in(client, "analyst")
    refused = await client.post(
        "/api/v1/silences",
        json={
            "matchers": ["area=Toller"],
            "reason": "(fictional) not mine to do",
            "duration": "1h",
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status == 403
