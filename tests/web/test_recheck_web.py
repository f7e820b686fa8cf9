"""The alert page re-checks its old posts on their platform first (issue 13, finding 9): a toot
the server answers 404 for is purged before the page renders, and its text is not shown. The
fictional posts were delivered through the real pipeline; the Mastodon server is an aiohttp
test server answering `GET /api/v1/statuses/:id`."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import select

from monitor.runtime.state import Runtime
from monitor.safeguards.recheck import MastodonChecker, Rechecker
from monitor.store.tables import posts
from tests.web.conftest import Client, Seeded, seed_rumour, sign_in, state_purpose

ClientFactory = Callable[[web.Application], Awaitable[Client]]


async def test_the_alert_page_purges_and_hides_a_post_deleted_on_its_server(
    aiohttp_client: ClientFactory,
    aiohttp_server: Callable[..., Any],
    app: web.Application,
    users: dict[str, str],
    seeded: Seeded,
    runtime: Runtime,
) -> None:
    kept = {"1000"}  # status ids the server still has; the other fictional posts were deleted
    asked: list[str] = []

    async def get_status(request: web.Request) -> web.Response:
        asked.append(request.match_info["id"])
        if request.match_info["id"] in kept:
            return web.json_response({"id": "1000", "visibility": "public", "content": "<p>x</p>"})
        return web.json_response({"error": "Record not found"}, status=404)

    server_app = web.Application()
    server_app.router.add_get("/api/v1/statuses/{id}", get_status)
    server = await aiohttp_server(server_app)
    async with aiohttp.ClientSession() as session:
        checker = MastodonChecker(
            session, timeout=1.0, servers={"https://social.example": str(server.make_url(""))}
        )
        runtime.recheck = Rechecker(
            runtime.engine, {"mastodon": checker}, after=timedelta(hours=24), timeout=2.0
        )
        client = await aiohttp_client(app)
        csrf = await sign_in(client, "analyst")
        await state_purpose(client, csrf)
        bodies = []
        for alert_id in seeded.alert_ids:
            response = await client.get(f"/alerts/{alert_id}")
            assert response.status == 200
            bodies.append(await response.text())
    assert asked, "the page asked the platform nothing"
    page = html.unescape("\n".join(bodies))
    assert "Send them back, simple as" in page  # status 1000: still on its server, shown
    assert "kick them out of Manningham" not in page  # 1001 and 1002: deleted there
    assert "Get them out of Toller" not in page
    async with runtime.engine.connect() as conn:
        texts = dict((await conn.execute(select(posts.c.id, posts.c.text))).all())
    gone = [i for i, t in texts.items() if t is None]
    ids = await runtime.pipeline.ingestor.ids()  # stored ids are keyed platform ids
    assert sorted(gone) == sorted(
        ids.key(f"mastodon:https://social.example/users/fictional{i}/statuses/{1000 + i}")
        for i in (1, 2)
    )
    assert runtime.recheck.stats.purged == 2


async def test_the_rumour_page_rechecks_the_posts_it_quotes(
    aiohttp_client: ClientFactory,
    aiohttp_server: Callable[..., Any],
    app: web.Application,
    users: dict[str, str],
    seeded: Seeded,
    runtime: Runtime,
) -> None:
    rumour_id = await seed_rumour(runtime)  # the seeded posts are its members

    async def get_status(request: web.Request) -> web.Response:
        if request.match_info["id"] == "1000":
            return web.json_response({"id": "1000", "visibility": "public", "content": "<p>x</p>"})
        return web.json_response({"error": "Record not found"}, status=404)

    server_app = web.Application()
    server_app.router.add_get("/api/v1/statuses/{id}", get_status)
    server = await aiohttp_server(server_app)
    async with aiohttp.ClientSession() as session:
        checker = MastodonChecker(
            session, timeout=1.0, servers={"https://social.example": str(server.make_url(""))}
        )
        runtime.recheck = Rechecker(
            runtime.engine, {"mastodon": checker}, after=timedelta(hours=24), timeout=2.0
        )
        client = await aiohttp_client(app)
        csrf = await sign_in(client, "comms")
        await state_purpose(client, csrf)
        response = await client.get(f"/rumours/{rumour_id}")
        assert response.status == 200
        page = html.unescape(await response.text())
    assert "Send them back, simple as" in page  # still on its server
    assert "kick them out of Manningham" not in page and "Get them out of Toller" not in page
    assert runtime.recheck.stats.purged == 2
