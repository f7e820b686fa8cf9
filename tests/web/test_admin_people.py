"""Admin pages for governance approvals and staff accounts: the same operations as the
`monitor governance` and `monitor users` commands, audited, and an admin cannot lock
themselves out."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable

from aiohttp import web

from monitor.runtime.state import Runtime
from monitor.safeguards import audit, governance
from monitor.web import accounts
from tests.web.conftest import Client, sign_in

ClientFactory = Callable[[web.Application], Awaitable[Client]]
STRONG = "(fictional) orchard kettle lantern 42"


async def test_admin_approves_a_rule_pack_until_its_next_review(
    client: Client, users: dict[str, str], runtime: Runtime
) -> None:
    csrf = await sign_in(client, "admin")
    page = html.unescape(await (await client.get("/admin/governance")).text())
    assert "pack:tension" in page and "public_safety_liaison" in page
    done = await client.post(
        "/admin/governance",
        data={
            "csrf_token": csrf,
            "subject": "pack:tension",
            "purpose": "community_tension",
            "owner": "(fictional) Communities team lead",
            "days": "30",
            "note": "DPIA v3 reviewed",
        },
        allow_redirects=False,
    )
    assert done.status == 303, await done.text()
    async with runtime.engine.connect() as conn:
        approval = (await governance.load_register(conn))["pack:tension"]
        events = await audit.recent(conn, limit=3, action="governance_approve")
    assert approval.approved_by == "admin" and approval.owner.startswith("(fictional)")
    assert (approval.review_by - approval.approved_at).days == 30
    assert events[0].actor == "admin" and events[0].purpose == "community_tension"
    if runtime.governance is not None:
        assert runtime.governance.approvals["pack:tension"].approved_by == "admin"

    bad = await client.post(
        "/api/v1/governance/approve",
        json={"subject": "pack:tension", "purpose": "watching_protests", "owner": "x"},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad.status == 400 and "not on the list" in (await bad.json())["error"]
    for days in ("1e400", "-1e400"):
        endless = await client.post(
            "/api/v1/governance/approve",
            data=(
                '{"subject": "pack:tension", "purpose": "community_tension", "owner": "x", '
                f'"days": {days}}}'
            ),
            headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
        )
        assert endless.status == 400, days
    listed = await (await client.get("/api/v1/governance")).json()
    assert any(s["subject"] == "pack:tension" for s in listed["subjects"])


async def test_admin_adds_changes_and_disables_accounts(
    client: Client, users: dict[str, str], runtime: Runtime
) -> None:
    csrf = await sign_in(client, "admin")
    weak = await client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "action": "add",
            "username": "newcomer",
            "role": "liaison",
            "password": "password1234",
        },
    )
    assert weak.status == 400 and "Not changed: password" in html.unescape(await weak.text())
    added = await client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "action": "add",
            "username": "newcomer",
            "role": "liaison",
            "password": STRONG,
        },
        allow_redirects=False,
    )
    assert added.status == 303, await added.text()
    long_phrase = "(fictional) " + "correct horse battery staple " * 3  # 99 characters
    longer = await client.post(
        "/api/v1/users",
        json={"action": "add", "username": "phrase", "role": "analyst", "password": long_phrase},
        headers={"X-CSRF-Token": csrf},
    )
    assert longer.status in (200, 201), await longer.text()
    role = await client.post(
        "/admin/users",
        data={"csrf_token": csrf, "action": "role", "username": "newcomer", "role": "analyst"},
        allow_redirects=False,
    )
    assert role.status == 303
    off = await client.post(
        "/api/v1/users",
        json={"action": "disable", "username": "newcomer"},
        headers={"X-CSRF-Token": csrf},
    )
    assert off.status == 200
    async with runtime.engine.connect() as conn:
        user = await accounts.get_user(conn, "newcomer")
        events = await audit.recent(conn, limit=3, actor="admin")
    assert user == accounts.User("newcomer", "analyst", disabled=True)
    assert [e.action for e in events] == ["user_disabled", "user_role_set", "user_added"]

    self_demote = await client.post(
        "/api/v1/users",
        json={"action": "role", "username": "admin", "role": "liaison"},
        headers={"X-CSRF-Token": csrf},
    )
    assert self_demote.status == 400 and "your own account" in (await self_demote.json())["error"]
    listed = await (await client.get("/api/v1/users")).json()
    assert {"username": "admin", "role": "admin", "disabled": False} in listed["users"]


async def test_a_role_change_ends_the_accounts_sessions(
    client: Client,
    users: dict[str, str],
    runtime: Runtime,
    aiohttp_client: ClientFactory,
    app: web.Application,
) -> None:
    other = await aiohttp_client(app)
    await sign_in(other, "analyst2")
    assert (await other.get("/queue", allow_redirects=False)).status == 200
    csrf = await sign_in(client, "admin")
    done = await client.post(
        "/api/v1/users",
        json={"action": "role", "username": "analyst2", "role": "liaison"},
        headers={"X-CSRF-Token": csrf},
    )
    assert (await done.json())["done"] == "user_role_set"
    assert (await other.get("/queue", allow_redirects=False)).status == 303  # signed out
