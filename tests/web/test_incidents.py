"""The review queue of incidents: a story from fictional posts through the real pipeline,
its page with the alerts one click inside, an analyst's split and merge over the API, the
author count under the privacy threshold, and liaison officers kept out."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from monitor.runtime.state import Runtime
from tests.web.conftest import Client, deliver, sign_in, state_purpose

CALLS = [
    "(fictional) Everyone get down to Centenary Square at 7pm Friday. Enough is enough in "
    "Little Horton, show them they're not welcome",
    "(fictional) Centenary Square 7pm Friday, bring your mates, time to take back our streets "
    "after what happened in Little Horton",
    "(fictional) ALL OUT Friday 7pm, meet at Centenary Square, let them know what we think "
    "about Little Horton",
    "(fictional) Right lads, let's go down to Little Horton and sort them out ourselves",
    "(fictional) Time to pay them a visit in Little Horton and show them who lives here",
    "(fictional) We should go round Little Horton and have a word, police won't do anything",
]


async def signed(aiohttp_client: Any, app: web.Application, role: str) -> tuple[Client, str]:
    client = await aiohttp_client(app)
    csrf = await sign_in(client, role)
    await state_purpose(client, csrf)
    return client, csrf


async def test_a_story_is_one_incident_with_its_alerts_inside(
    aiohttp_client: Any, app: web.Application, runtime: Runtime, users: dict[str, str]
) -> None:
    await deliver(runtime, CALLS)
    client, csrf = await signed(aiohttp_client, app, "analyst")
    listed = await (await client.get("/api/v1/incidents")).json()
    assert len(listed["incidents"]) == 1, listed
    incident = listed["incidents"][0]
    assert incident["status"] == "open"
    assert "Little Horton" in incident["places"] and "unplaced" not in incident["places"]
    assert incident["alert_count"] >= 2
    assert incident["authors"] == "fewer than 10"  # six fictional authors
    assert "author_count" not in incident
    assert incident["gathering_text"] == "Centenary Square, Friday 19:00"

    page = await (await client.get("/incidents")).text()
    assert f'href="/incidents/{incident["id"]}"' in page
    detail = await (await client.get(f"/incidents/{incident['id']}")).text()
    one = await (await client.get(f"/api/v1/incidents/{incident['id']}")).json()
    assert all(f'href="/alerts/{a["id"]}"' in detail for a in one["alerts"])
    assert [e["kind"] for e in one["timeline"]][0] == "opened"

    # Split one alert off, then merge it back, each with its reason on the timeline
    moving = one["alerts"][-1]["id"]
    headers = {"X-CSRF-Token": csrf}
    split = await client.post(
        f"/api/v1/incidents/{incident['id']}/split",
        json={"alerts": [moving], "reason": "a separate matter"},
        headers=headers,
    )
    assert split.status == 200, await split.text()
    new_id = (await split.json())["incident"]
    assert new_id != incident["id"]
    both = await (await client.get("/api/v1/incidents")).json()
    assert sorted(i["id"] for i in both["incidents"]) == sorted([incident["id"], new_id])
    merged = await client.post(
        f"/api/v1/incidents/{incident['id']}/merge",
        json={"incidents": [new_id], "reason": "one story after all"},
        headers=headers,
    )
    assert merged.status == 200, await merged.text()
    after = await (await client.get(f"/api/v1/incidents/{incident['id']}")).json()
    assert after["alert_count"] == incident["alert_count"]
    reasons = [(e["kind"], e["actor"]) for e in after["timeline"]]
    assert ("split", "analyst") in reasons and ("merged", "analyst") in reasons
    refused = await client.post(
        f"/api/v1/incidents/{incident['id']}/merge",
        json={"incidents": [new_id], "reason": "again"},
        headers=headers,
    )
    assert refused.status == 409
    assert "already merged" in (await refused.json())["message"]


async def test_a_few_classifier_flagged_posts_open_no_incident(
    aiohttp_client: Any, app: web.Application, runtime: Runtime, users: dict[str, str]
) -> None:
    await deliver(
        runtime,
        [
            "(fictional) Send them back, simple as. Not welcome here in Manningham",
            "(fictional) They don't belong here, kick them out of Manningham",
        ],
    )
    client, _ = await signed(aiohttp_client, app, "analyst")
    shown = await (await client.get("/api/v1/incidents")).json()
    assert shown["incidents"] == []
    held = await (await client.get("/api/v1/incidents?status=held")).json()
    assert held["incidents"] and all(i["gate"] for i in held["incidents"])


async def test_liaison_officers_see_no_incident_pages(
    aiohttp_client: Any, app: web.Application, runtime: Runtime, users: dict[str, str]
) -> None:
    await deliver(runtime, CALLS)
    client = await aiohttp_client(app)
    await sign_in(client, "liaison")
    for path in ("/incidents", "/incidents/1", "/api/v1/incidents", "/api/v1/incidents/1"):
        assert (await client.get(path, allow_redirects=False)).status == 403


async def test_the_overview_counts_open_incidents_for_every_role(
    aiohttp_client: Any, app: web.Application, runtime: Runtime, users: dict[str, str]
) -> None:
    await deliver(runtime, CALLS)
    client = await aiohttp_client(app)
    await sign_in(client, "liaison")
    overview = await (await client.get("/api/v1/overview")).json()
    assert overview["open_incidents"] == 1  # a count only: no headline reaches liaison
    page = await (await client.get("/")).text()
    assert "Open incidents" in page and 'href="/incidents"' not in page


async def test_the_incident_page_lists_its_posts_escaped_with_page_local_authors(
    aiohttp_client: Any, app: web.Application, runtime: Runtime, users: dict[str, str]
) -> None:
    from markupsafe import escape
    from sqlalchemy import select

    from monitor.store.tables import audit_events, posts

    await deliver(runtime, CALLS)
    client, _ = await signed(aiohttp_client, app, "analyst")
    (incident,) = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    detail = await (await client.get(f"/incidents/{incident['id']}")).text()
    assert 'id="incident-posts"' in detail
    # Every post is there, as text (escaped: "they're" comes out as "they&#39;re")...
    async with runtime.engine.connect() as conn:
        stored = (await conn.execute(select(posts.c.id, posts.c.text, posts.c.author_ref))).all()
    shown = [r for r in stored if str(escape(r.text)) in detail]
    assert len(shown) >= 5, detail
    assert any("&#39;" in str(escape(r.text)) for r in shown)
    # ... its authors numbered on this page only: never their pseudonym or platform id.
    assert "author 1" in detail and "author 2" in detail
    assert not any(r.author_ref in detail or r.id in detail for r in stored)
    async with runtime.engine.connect() as conn:
        last = (
            await conn.execute(select(audit_events.c.detail).order_by(audit_events.c.id.desc()))
        ).first()
    assert last is not None and "posts_shown" in str(last.detail)


async def test_comms_staff_see_a_rumours_posts_but_not_an_episodes(
    aiohttp_client: Any, app: web.Application, runtime: Runtime, users: dict[str, str]
) -> None:
    await deliver(runtime, CALLS)
    client, _ = await signed(aiohttp_client, app, "comms")
    (incident,) = (await (await client.get("/api/v1/incidents")).json())["incidents"]
    assert incident["family"] == "episode"
    detail = await (await client.get(f"/incidents/{incident['id']}")).text()
    assert 'id="incident-posts"' not in detail and "Centenary Square 7pm" not in detail


async def test_only_web_addresses_become_counter_message_links_and_bad_bodies_are_400(
    aiohttp_client: Any, app: web.Application, runtime: Runtime, users: dict[str, str]
) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import insert, update

    from monitor.store.tables import counter_messages, incidents
    from tests.web.conftest import seed_rumour

    await deliver(runtime, CALLS)
    rumour = await seed_rumour(runtime)
    now = datetime.now(UTC)
    async with runtime.engine.begin() as conn:
        await conn.execute(update(incidents).values(cluster=rumour))
        for channel, url in (("web", "https://council.example/facts"), ("x", "javascript:x()")):
            await conn.execute(
                insert(counter_messages).values(
                    rumour_id=rumour,
                    published_at=now,
                    channel=channel,
                    url=url,
                    created_by="comms",
                    created_at=now,
                )
            )
    client, csrf = await signed(aiohttp_client, app, "analyst")
    incident = (await (await client.get("/api/v1/incidents")).json())["incidents"][0]
    detail = await (await client.get(f"/incidents/{incident['id']}")).text()
    assert 'href="https://council.example/facts"' in detail
    # the claim cluster's own size, which a rumour that never spread may hold far more of than
    # its alerts: 3 posts from fewer than 10 accounts (the privacy threshold's words)
    assert (
        "r900 on the rumour board</a>, whose claim cluster holds 3 posts "
        "from fewer than 10 accounts" in detail
    )
    assert "javascript:" not in detail  # a row written before the scheme was checked

    deep = '{"reason": "same story", "incidents": ' + "[" * 100_000 + "]" * 100_000 + "}"
    nested = await client.post(
        f"/api/v1/incidents/{incident['id']}/merge",
        data=deep,
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
    )
    assert nested.status == 400 and "nested too deeply" in await nested.text()
