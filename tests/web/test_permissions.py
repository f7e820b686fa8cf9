"""Every route × every role: the permission table is the only gate, and it holds.

Each route the app serves is called by each role (and by nobody signed in), with a purpose
stated where the role may give one: allowed roles get past the guard, others are refused.
Liaison officers are refused every evidence route, and no page or API answer a liaison officer
can open contains post text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import insert

from monitor.runtime.state import Runtime
from monitor.web.permissions import ROLES, ROUTES, access_for
from tests.web.conftest import (
    HOSTILE_POSTS,
    Client,
    Seeded,
    csrf_of,
    response_text,
    seed_rumour,
    sign_in,
    state_purpose,
)

PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def route_calls(app: web.Application, ids: dict[str, str]) -> list[tuple[str, str, str]]:
    """(route name, method, concrete path) for every GET and POST route; sign-out last."""
    calls = []
    for route in app.router.routes():
        if route.method not in ("GET", "POST") or route.name is None:
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        template = info.get("formatter") or info.get("path") or info.get("prefix", "")
        if route.name == "static":
            template = "/static/style.css"
        path = PARAM.sub(lambda m: ids[m.group(1)], template)
        calls.append((route.name, route.method, path))
    return sorted(calls, key=lambda c: c[0] == "logout")


async def call(client: Client, method: str, path: str, csrf: str) -> int:
    if method == "GET":
        response = await client.get(path, allow_redirects=False)
        status = response.status
        response.close()  # the event stream would otherwise run on
        return status
    headers = {"X-CSRF-Token": csrf}
    if path.startswith("/api/"):
        response = await client.post(path, json={}, headers=headers, allow_redirects=False)
    else:
        response = await client.post(
            path, data={"csrf_token": csrf}, headers=headers, allow_redirects=False
        )
    return response.status


@pytest.fixture
async def ids(runtime: Runtime, seeded: Seeded) -> dict[str, str]:
    rumour = await seed_rumour(runtime)
    return {
        "alert_id": str(seeded.alert_ids[0]),
        "incident_id": "1",
        "rumour_id": str(rumour),
        "plan_id": "1",
        "run_id": "1",
        "name": "liaison-daily",
        "entry_id": "1",
        "silence_id": "1",
        "pack": "tension",
        "file": "threats.yaml",
    }


ClientFactory = Callable[[web.Application], Awaitable[Client]]


async def signed_in(
    aiohttp_client: ClientFactory, app: web.Application, role: str | None
) -> tuple[Client, str]:
    client = await aiohttp_client(app)
    if role is None:  # the sign-in form's token: the only POST open to the signed-out
        return client, csrf_of(await (await client.get("/login")).text())
    csrf = await sign_in(client, role)
    await state_purpose(client, csrf)
    return client, csrf


@pytest.mark.parametrize("role", [None, *ROLES])
async def test_role_route_matrix(
    aiohttp_client: ClientFactory,
    app: web.Application,
    users: dict[str, str],
    ids: dict[str, str],
    role: str | None,
) -> None:
    client, csrf = await signed_in(aiohttp_client, app, role)
    wrong: list[str] = []
    for name, method, path in route_calls(app, ids):
        access = access_for(name)
        status = await call(client, method, path, csrf)
        if name == "login_submit" and status == 401:
            continue  # past the guard: the handler refused an empty password
        if access.allows(role):
            if status in (401, 403) or status >= 500:
                wrong.append(f"{method} {path} ({name}): allowed but got {status}")
        elif role is None:
            expected = (303,) if method == "GET" and not path.startswith("/api/") else (401,)
            if status not in expected:
                wrong.append(f"{method} {path} ({name}): signed out, got {status}")
        elif status != 403:
            wrong.append(f"{method} {path} ({name}): {role} must be refused, got {status}")
    assert not wrong, "\n".join(wrong)


def test_every_route_is_in_the_table_and_every_row_is_a_route(app: web.Application) -> None:
    served = {r.name for r in app.router.routes() if r.name is not None}
    assert served == set(ROUTES), served ^ set(ROUTES)
    unnamed = [r for r in app.router.routes() if r.name is None and r.method != "HEAD"]
    assert not unnamed, "every route needs a name and a row in the permission table"


def test_liaison_is_never_given_an_evidence_route() -> None:
    evidence = [name for name, a in ROUTES.items() if a.evidence]
    assert evidence, "the table must mark the routes that show post text"
    assert [n for n in evidence if "liaison" in ROUTES[n].roles] == []


async def test_nothing_a_liaison_officer_opens_contains_post_text(
    aiohttp_client: ClientFactory,
    app: web.Application,
    users: dict[str, str],
    ids: dict[str, str],
) -> None:
    client, _ = await signed_in(aiohttp_client, app, "liaison")
    opened = 0
    for name, method, path in route_calls(app, ids):
        if (
            method != "GET"
            or name in ("events", "static")
            or not access_for(name).allows("liaison")
        ):
            continue
        response = await client.get(path)
        body = await response_text(response)
        opened += response.status == 200
        for text in HOSTILE_POSTS:
            fragment = text.split(".")[0][12:40]
            assert fragment not in body, f"{path} shows post text to a liaison officer"
        assert "Apparently the old mill" not in body, f"{path} shows a rumour's claim excerpt"
    assert opened >= 8


async def test_evidence_needs_a_purpose_and_every_view_is_audited(
    aiohttp_client: ClientFactory,
    app: web.Application,
    users: dict[str, str],
    seeded: Seeded,
    runtime: Runtime,
) -> None:
    from monitor.safeguards import audit

    client = await aiohttp_client(app)
    csrf = await sign_in(client, "analyst")
    alert = seeded.alert_ids[0]
    page = await client.get(f"/alerts/{alert}", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"].startswith("/purpose?next=")
    api = await client.get(f"/api/v1/alerts/{alert}")
    assert api.status == 428
    await state_purpose(client, csrf, "triage")
    assert (await client.get(f"/alerts/{alert}")).status == 200
    assert (await client.get(f"/api/v1/alerts/{alert}")).status == 200
    export = await client.get(f"/alerts/{alert}/evidence.csv")
    assert export.status == 200
    async with runtime.engine.connect() as conn:
        events = await audit.recent(conn, limit=10, actor="analyst")
    seen: list[Any] = [(e.action, e.purpose, (e.detail or {}).get("alert_id")) for e in events]
    purpose = "Triage of an alert in the review queue: test"
    assert ("view_evidence", purpose, alert) in seen
    assert ("export", purpose, alert) in seen
    assert sum(1 for s in seen if s[0] == "view_evidence") == 2


# --- what each role reads inside the pages it may open (finding 10 of issue 13) ---------------

THREAT_SUBJECT = "(fictional) Threat in Manningham: 1 post"
RUMOUR_SUBJECT = "(fictional) Rumour r900 spreading in Toller"
THREAT_EXCERPT = "(fictional) threat excerpt that comms must not read"
JUSTIFICATION = "(fictional) analyst2 needs these posts to finish the weekly tension summary"


def alert_message(kind: str, subject: str, excerpt: str) -> Any:
    """A rendered alert message as monitor/alerts/render.py builds one (data shape included)."""
    from monitor.alerts.render import Message

    alert = {"id": 1, "summary": subject, "labels": {"kind": kind}, "excerpts": [excerpt]}
    data = {"type": "alert", "title": subject, "group": {"kind": kind}, "alerts": [alert]}
    return Message(subject=subject, text=f"{subject}\n\n{excerpt}", html="<p></p>", data=data)


async def seed_mailboxes(runtime: Runtime) -> None:
    """A threat alert in the communities team's box (and a copy in comms's), a rumour alert in
    comms's, and a colleague's justification in the senior responsible officer's box."""
    from monitor.alerts.notifiers.local import LocalNotifier
    from monitor.safeguards.viewguard import GuardDecision, GuardPolicy, record_justification

    now = datetime.now(UTC)
    local = LocalNotifier(runtime.engine)
    threat = alert_message("threat", THREAT_SUBJECT, THREAT_EXCERPT)
    rumour = alert_message("rumour_spreading", RUMOUR_SUBJECT, "(fictional) the old mill")
    assert (await local.send(threat, "communities-team", "k1", now)).ok
    assert (await local.send(threat, "comms", "k2", now)).ok  # a routing slip
    assert (await local.send(rumour, "comms", "k3", now)).ok
    decision = GuardDecision(allowed=False, context="alert:1", authors=("a1b2",), contexts=4)
    async with runtime.engine.begin() as conn:
        await record_justification(
            conn, "analyst2", decision, JUSTIFICATION, now, GuardPolicy(sro_mailbox="sro")
        )


# role -> what it must find and must not find in the mailbox, whatever box it asks for
MAILBOX_SEES = {
    "admin": ({THREAT_EXCERPT, RUMOUR_SUBJECT, JUSTIFICATION}, set()),
    "analyst": ({THREAT_EXCERPT, RUMOUR_SUBJECT}, {JUSTIFICATION}),
    "comms": ({RUMOUR_SUBJECT}, {THREAT_EXCERPT, THREAT_SUBJECT, JUSTIFICATION}),
}


@pytest.mark.parametrize("role", sorted(MAILBOX_SEES))
async def test_the_mailbox_shows_a_role_only_what_the_alerts_it_carries_allow(
    aiohttp_client: ClientFactory,
    app: web.Application,
    users: dict[str, str],
    runtime: Runtime,
    role: str,
) -> None:
    await seed_mailboxes(runtime)
    client, _ = await signed_in(aiohttp_client, app, role)
    must, never = MAILBOX_SEES[role]
    found: set[str] = set()
    for box in ("", "?box=communities-team", "?box=comms", "?box=sro"):
        response = await client.get(f"/mailbox{box}")
        assert response.status == 200, box
        body = html.unescape(await response.text())
        found |= {t for t in must | never if t in body}
        leaked = [t for t in never if t in body]
        assert not leaked, f"{role} reads {leaked} at /mailbox{box}"
    assert must <= found, f"{role} cannot read {must - found}"


async def test_small_author_counts_read_fewer_than_k_on_every_page_liaison_opens(
    aiohttp_client: ClientFactory, app: web.Application, users: dict[str, str], runtime: Runtime
) -> None:
    from monitor.signals.levels import Measures, explain
    from monitor.store.tables import level_changes

    at = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
    m = Measures(at, 60, posts=12, flagged=6, weighted=5.0, authors=3, expected=0.5, rise=6.0)
    async with runtime.engine.begin() as conn:
        await conn.execute(
            insert(level_changes).values(
                area="ward:Toller",
                area_kind="ward",
                name="Toller",
                at=at,
                from_level="normal",
                to_level="high",
                measures=m.as_dict(),
                top_labels=[],
                reason=explain("ward:Toller", "normal", "high", m, "rise"),
                recorded_at=at,
            )
        )
    client, _ = await signed_in(aiohttp_client, app, "liaison")
    body = await (await client.get("/areas")).text()
    assert "fewer than 10 distinct authors" in body
    assert "3 distinct authors" not in body
    api = await (await client.get("/api/v1/areas")).json()
    (change,) = api["changes"]
    assert change["measures"]["authors"] == "<10"
    assert "3 distinct authors" not in change["reason"]
