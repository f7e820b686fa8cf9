"""Finding 17 (web): huge ids, malformed JSON, the event stream after sign-out, the banner."""

from __future__ import annotations

import asyncio
import re

import pytest
from aiohttp import web

from tests.web.conftest import Client, Seeded, sign_in, state_purpose

HUGE = ("9223372036854775808", "18446744073709551616", "99999999999999999999999", "2147483648")


def _parametrised_routes(app: web.Application) -> list[tuple[str, str]]:
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        formatter = info.get("formatter")
        if formatter and "{" in formatter and route.method in ("GET", "POST"):
            out.append((route.method, formatter))
    return out


@pytest.mark.parametrize("role", ["admin", "analyst", "comms", "liaison"])
async def test_ids_past_any_integer_column_are_404_not_500_on_every_route(
    client: Client, app: web.Application, users: dict[str, str], seeded: Seeded, role: str
) -> None:
    csrf = await sign_in(client, role)
    if role != "liaison":
        await state_purpose(client, csrf)
    routes = _parametrised_routes(app)
    assert len(routes) >= 10  # the finding's ten routes and the rest
    for method, formatter in routes:
        for number in HUGE:
            path = re.sub(r"\{[^}]+\}", number, formatter)
            if method == "GET":
                r = await client.get(path, allow_redirects=False)
            else:
                r = await client.post(
                    path, json={}, headers={"X-CSRF-Token": csrf}, allow_redirects=False
                )
            assert r.status < 500, f"{method} {path} as {role}: {r.status}"
    for query in ("/audit?before=", "/api/v1/audit?before="):
        if role == "admin":
            assert (await client.get(query + HUGE[0])).status == 200


async def test_malformed_json_to_dismiss_and_purpose_is_400(
    client: Client, users: dict[str, str], seeded: Seeded
) -> None:
    csrf = await sign_in(client, "analyst")
    alert = seeded.alert_ids[0]
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    await client.post(f"/api/v1/alerts/{alert}/take", json={}, headers=headers)
    for body in (b"{not json", b"\xff", b"[" * 50_000, b'{"reason": '):
        for path in (f"/api/v1/alerts/{alert}/dismiss", "/api/v1/purpose"):
            r = await client.post(path, data=body, headers=headers)
            assert r.status == 400, (path, body[:10], r.status)
            assert "error" in await r.json()


async def test_the_event_stream_ends_promptly_after_sign_out(
    client: Client, users: dict[str, str]
) -> None:
    csrf = await sign_in(client, "analyst")
    stream = await client.get("/events")
    assert stream.status == 200
    assert (await stream.content.readline()).startswith(b"retry:")
    out = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert out.status == 303
    # The stream used to run on for up to 300 s; it must end within a poll or two.
    rest = await asyncio.wait_for(stream.content.read(), timeout=10)
    assert b"event: signed-out" in rest


async def test_the_server_header_names_no_versions(client: Client) -> None:
    for path in ("/login", "/static/style.css", "/no-such-page"):
        r = await client.get(path)
        server = r.headers.get("Server", "")
        assert "Python" not in server and "aiohttp" not in server, server
