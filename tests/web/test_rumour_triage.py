"""Comms staff triage rumours in the browser's pages and the API: status, verdict with the facts
it rests on, who is on it, merging two rumours that are one claim, and registering a known claim;
each change is audited and reaches the signals stage through the rumour's revision. The
rumour's timeline shows stance over time on a time axis."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update

from monitor.runtime.state import Runtime
from monitor.safeguards import audit
from monitor.store import signals as signal_store
from monitor.store.tables import posts, rumour_claims, rumour_posts, rumours
from tests.web.conftest import T0, Client, Seeded, seed_rumour, sign_in, state_purpose


async def _second_rumour(rt: Runtime) -> int:
    """r901, another cluster of the same claim, holding the stored posts r900 does not."""
    now = datetime.now(UTC)
    async with rt.engine.begin() as conn:
        await conn.execute(
            insert(rumours).values(
                id=901, status="watching", registered=False, claim_text=None,
                representative="(fictional) I heard the old mill is going to be flats",
                first_seen=T0, last_seen=T0 + timedelta(hours=5), post_count=1, author_count=1,
                places={"Toller": 1}, stance={"query": 1}, velocity=0.0, acceleration=0.0,
                spreading=False, centroid_count=0, revision=0, created_at=now, updated_at=now,
            )
        )  # fmt: skip
        taken = select(rumour_posts.c.post_id).where(rumour_posts.c.rumour_id == 900)
        rows = (
            await conn.execute(
                select(posts.c.id, posts.c.created_at).where(posts.c.id.not_in(taken))
            )
        ).all()
        for r in rows:
            await conn.execute(
                insert(rumour_posts).values(
                    rumour_id=901, post_id=r.id, created_at=r.created_at + timedelta(hours=2),
                    how="similar", similarity=0.7, stance="query", place="Toller",
                    state="member", added_at=now,
                )
            )  # fmt: skip
    return 901


async def test_comms_triages_and_merges_two_rumours(
    client: Client, users: dict[str, str], seeded: Seeded, runtime: Runtime
) -> None:
    from monitor.store.tables import posts as posts_table

    async with runtime.engine.connect() as conn:
        texts = [r[0] for r in (await conn.execute(select(posts_table.c.text))).all()]
    await seed_rumour(runtime, tuple(texts[:2]))
    await _second_rumour(runtime)
    csrf = await sign_in(client, "comms")
    await state_purpose(client, csrf)
    page = await (await client.get("/rumours/901")).text()
    assert 'action="/rumours/901/merge"' in page and "r900:" in page

    def post(path: str, **data: str) -> object:
        return client.post(path, data={"csrf_token": csrf, **data}, allow_redirects=False)

    done = await post("/rumours/901/triage", verdict="false", verdict_note="")
    assert "problem=" in done.headers["Location"]  # a verdict needs its facts
    done = await post(
        "/rumours/901/triage",
        verdict="false",
        verdict_note="Planning decision 24/05678 (fictional): flats for sale",
        assignee="comms",
    )
    assert done.headers["Location"] == "/rumours/901?done=triaged"
    bad = await post("/rumours/901/triage", assignee="analyst")
    assert "problem=" in bad.headers["Location"]  # only comms and admin accounts
    shown = html.unescape(await (await client.get(bad.headers["Location"])).text())
    assert 'role="alert"' in shown
    # Anyone can write a link with ?problem=: only the session's own form's message is shown.
    forged = await client.get("/rumours/901?problem=Your+account+is+locked%2C+call+0800+000")
    assert "account is locked" not in await forged.text()
    tampered = bad.headers["Location"].replace("problem=", "problem=Call+0800+000.+")
    assert "Call 0800 000." not in html.unescape(await (await client.get(tampered)).text())
    done = await post("/rumours/901/status", status="countering")
    assert done.headers["Location"] == "/rumours/901?done=status"
    done = await post("/rumours/901/merge", into="900", reason="same claim, other words")
    assert done.headers["Location"] == "/rumours/900?done=merged"

    async with runtime.engine.connect() as conn:
        src = await signal_store.rumour(conn, 901)
        dst = await signal_store.rumour(conn, 900)
        members = (
            (
                await conn.execute(
                    select(rumour_posts.c.rumour_id).where(rumour_posts.c.rumour_id.in_((900, 901)))
                )
            )
            .scalars()
            .all()
        )
        events = [e.action for e in await audit.recent(conn, limit=20, actor="comms")]
    assert src is not None and dst is not None
    assert (src["status"], src["merged_into"]) == ("closed", 900)
    assert (src["verdict"], src["assignee"]) == ("false", "comms")
    assert set(members) == {900} and dst["post_count"] == len(members) == len(texts)
    assert dst["stance"] == {"support": 2, "query": len(texts) - 2}
    assert dst["revision"] >= 1 and src["revision"] == 3
    assert {"rumour_triage", "rumour_status", "rumour_merge"} <= set(events)
    merged = await (await client.get("/rumours/901")).text()
    assert "merged into" in merged and 'action="/rumours/901/triage"' not in merged

    # The stage cannot undo a person's merge: its copy carries an older revision.
    async with runtime.engine.begin() as conn:
        stale = {**dict(await _stage_row(conn, 901)), "merged_into": None, "status": "watching"}
        await signal_store.save_rumours(conn, [{**stale, "revision": 0}])
        again = await signal_store.rumour(conn, 901)
    assert again is not None and (again["merged_into"], again["status"]) == (900, "closed")


async def _stage_row(conn: object, rumour_id: int) -> dict[str, object]:
    """A rumour row as the stage writes one (without the people's columns)."""
    from sqlalchemy.ext.asyncio import AsyncConnection

    assert isinstance(conn, AsyncConnection)
    row = (await conn.execute(select(rumours).where(rumours.c.id == rumour_id))).mappings().one()
    people = {"assignee", "verdict", "verdict_note"}
    return {k: v for k, v in row.items() if k not in people}


async def test_register_a_claim_and_the_timeline_has_a_time_axis_and_stances(
    client: Client, users: dict[str, str], seeded: Seeded, runtime: Runtime
) -> None:
    await seed_rumour(runtime)
    async with runtime.engine.begin() as conn:
        await conn.execute(
            update(rumour_posts).where(rumour_posts.c.rumour_id == 900).values(stance="deny")
        )
    csrf = await sign_in(client, "comms")
    headers = {"X-CSRF-Token": csrf}
    short = await client.post("/api/v1/rumours/claims", json={"claim": "mill"}, headers=headers)
    assert short.status == 409
    ok = await client.post(
        "/api/v1/rumours/claims",
        json={"claim": "(fictional) the old mill is being given away"},
        headers=headers,
    )
    assert ok.status == 200 and (await ok.json())["code"] == "registered"
    async with runtime.engine.connect() as conn:
        claims = (await conn.execute(select(rumour_claims.c.created_by))).scalars().all()
    assert claims == ["comms"]
    await state_purpose(client, csrf)
    page = await (await client.get("/rumours/900")).text()
    assert 'class="st-deny"' in page and 'class="tick"' in page and 'class="axis"' in page
    assert "Posts per hour by stance" in page

    client.session.cookie_jar.clear()
    csrf = await sign_in(client, "analyst")
    refused = await client.post(
        "/api/v1/rumours/900/status", json={"status": "closed"}, headers={"X-CSRF-Token": csrf}
    )
    assert refused.status == 403
