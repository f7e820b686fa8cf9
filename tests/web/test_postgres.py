"""The web UI on PostgreSQL: every page and API answer without a server error, and the review
flow, areas and audit work there too (the other web tests run on SQLite)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web

from monitor.config import Settings
from monitor.runtime.state import Runtime
from tests.conftest import ROOT
from tests.web.conftest import Client, Seeded, seed_rumour, sign_in, state_purpose
from tests.web.test_permissions import route_calls

pytestmark = pytest.mark.postgres
ClientFactory = Callable[[web.Application], Awaitable[Client]]


@pytest.fixture
def settings(migrated_pg_url: str) -> Settings:
    return Settings(database_url=migrated_pg_url, home=str(ROOT), classifier="keyword")


async def test_every_page_answers_on_postgresql(
    aiohttp_client: ClientFactory,
    app: web.Application,
    users: dict[str, str],
    seeded: Seeded,
    runtime: Runtime,
) -> None:
    rumour = await seed_rumour(runtime)
    client = await aiohttp_client(app)
    csrf = await sign_in(client, "admin")
    await state_purpose(client, csrf)
    ids = {
        "alert_id": str(seeded.alert_ids[0]),
        "incident_id": "1",
        "entry_id": "1",
        "rumour_id": str(rumour),
        "plan_id": "1",
        "run_id": "1",
        "name": "liaison-daily",
        "silence_id": "1",
        "pack": "tension",
        "file": "threats.yaml",
    }
    failed = []
    for name, method, path in route_calls(app, ids):
        if method != "GET" or name == "events":
            continue
        response = await client.get(path)
        if response.status >= 500:
            failed.append(f"{path}: {response.status}")
    areas = await (await client.get("/areas")).text()
    assert '<th scope="row">Manningham</th>' in areas
    assert not failed, failed


async def test_review_flow_on_postgresql(
    client: Client, users: dict[str, str], seeded: Seeded
) -> None:
    csrf = await sign_in(client, "analyst")
    alert = seeded.alert_ids[0]
    headers = {"X-CSRF-Token": csrf}
    taken = await client.post(f"/api/v1/alerts/{alert}/take", json={}, headers=headers)
    assert (await taken.json())["code"] == "taken"
    queue = await (await client.get("/queue")).text()
    assert "Locked: analyst" in queue
    done = await client.post(
        f"/api/v1/alerts/{alert}/dismiss", json={"reason": "duplicate"}, headers=headers
    )
    assert (await done.json())["code"] == "dismissed"
    await client.post("/logout", data={"csrf_token": csrf})
    csrf = await sign_in(client, "admin")
    audit = await (await client.get("/audit?verify=1")).text()
    assert "every event is intact and in order" in audit and "alert_dismiss" in audit
