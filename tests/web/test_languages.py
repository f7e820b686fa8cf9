"""Posts in languages the classifier does not cover: stored unscored, counted, and shown
("1 Urdu post not scored by the classifier; rules still apply") on the overview, areas, incident
and alert pages, digests and /metrics,
while the rules still run on them. Real pipeline, keyword classifier (English only)."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from monitor.runtime.state import Runtime
from monitor.store.tables import alert_posts, incidents, posts
from tests.web.conftest import Client, raw, seed_rumour, sign_in, state_purpose

# Fictional. The same words the English lexicon flags, but tagged as Urdu by the platform:
# a score here would be the English model reading a language it was not trained on.
URDU_TAGGED = "(fictional) yeh log vermin hain, these people are vermin in Manningham"
ENGLISH = "(fictional) Kick them out of Toller, they are not welcome here"


async def _deliver(rt: Runtime) -> None:
    await rt.pipeline.deliver(
        "test", [raw(1, ENGLISH), replace(raw(2, URDU_TAGGED), language="ur")], None
    )
    await rt.pipeline.drain()


async def test_uncovered_language_is_unscored_but_ruled_counted_and_shown(
    client: Client, runtime: Runtime, users: dict[str, str]
) -> None:
    await _deliver(runtime)
    async with runtime.engine.connect() as conn:
        rows = {
            r.text: r
            for r in (await conn.execute(select(posts.c.text, posts.c.language, posts.c.scores,
                                                posts.c.flags)))
        }  # fmt: skip
    urdu, english = rows[URDU_TAGGED], rows[ENGLISH]
    assert urdu.language == "ur"
    assert english.scores and english.scores.get("hostile", 0) > 0
    assert not urdu.scores  # no misleading scores
    assert "hostile" not in (urdu.flags or [])
    assert runtime.pipeline.stats.not_scored == {"ur": 1}

    metrics = await (await client.get("/metrics")).text()
    assert 'monitor_posts_not_scored_total{language="ur"} 1.0' in metrics

    async with runtime.engine.connect() as conn:
        ruled = {r[0] for r in await conn.execute(select(alert_posts.c.post_id))}
    urdu_id = (await runtime.pipeline.ingestor.ids()).key(raw(2, URDU_TAGGED).post_id)
    assert urdu_id in ruled, "the rules should still see the post"

    await sign_in(client, "liaison")
    home = await (await client.get("/")).text()
    assert "1 Urdu post not scored by the classifier; rules still apply" in home


async def test_rumour_pages_say_the_classifier_detects_claims_not_falsehood(
    client: Client, runtime: Runtime, users: dict[str, str]
) -> None:
    await runtime.pipeline.deliver(
        "test", [raw(1, "(fictional) apparently the old mill is being turned into flats")], None
    )
    await runtime.pipeline.drain()
    rumour = await seed_rumour(runtime)
    await state_purpose(client, await sign_in(client, "comms"), "counter")
    for path in ("/rumours", f"/rumours/{rumour}"):
        body = await (await client.get(path)).text()
        assert "not a finding that it is false" in body, path
        assert "true, false and unverified claims score alike" in body, path


async def test_areas_digests_and_incidents_count_the_unscored_posts(
    client: Client, runtime: Runtime, users: dict[str, str]
) -> None:
    await _deliver(runtime)
    note = "1 Urdu post not scored by the classifier; rules still apply"
    await sign_in(client, "liaison")
    areas = await (await client.get("/areas")).text()
    assert note in areas
    row = areas[areas.find('<th scope="row">Manningham</th>') :]
    assert "1 Urdu" in row[: row.find("</tr>")]

    digest = await (await client.get("/digests/preview/liaison-daily?at=2026-11-04")).text()
    assert note in digest
    earlier = await (await client.get("/digests/preview/liaison-daily?at=2026-11-02")).text()
    assert "not scored by the classifier" not in earlier  # outside that digest's period

    async with runtime.engine.connect() as conn:
        ids = [r[0] for r in await conn.execute(select(incidents.c.id, incidents.c.wards))
               if "Manningham" in (r[1] or [])]  # fmt: skip
    assert ids, "the Urdu post's rule alert should make an incident in Manningham"
    await state_purpose(client, await sign_in(client, "analyst"))
    page = await (await client.get(f"/incidents/{ids[0]}")).text()
    assert f'In its places and time: <span class="not-scored">{note}</span>' in page

    urdu_id = (await runtime.pipeline.ingestor.ids()).key(raw(2, URDU_TAGGED).post_id)
    async with runtime.engine.connect() as conn:
        alert_id = (
            await conn.execute(
                select(alert_posts.c.alert_id).where(alert_posts.c.post_id == urdu_id)
            )
        ).scalar_one()
    evidence = await (await client.get(f"/alerts/{alert_id}")).text()
    assert "No classifier scores: the classifier does not cover this post" in evidence
    assert "language (ur); rules still apply" in evidence
