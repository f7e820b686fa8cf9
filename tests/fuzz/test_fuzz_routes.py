"""Fuzz every web route's path and query parameters, as each role and signed out: never a 500.

Routes are read from the app itself, so a route added later is fuzzed without editing this
file. Path segments and query values come from hostile strings, huge numbers, dates far out of
range and random text; the app must answer with a page, a redirect or a 4xx."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import quote

from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from monitor.web.permissions import ROLES
from tests.fuzz.strategies import HOSTILE_STRINGS, fuzz
from tests.web.conftest import Client, Seeded, sign_in, state_purpose

# The query names the views read (a value for a name no view reads proves little).
QUERY_NAMES = (
    "next", "before", "since", "status", "box", "at", "scan", "rule", "query", "context",
    "actor", "action", "verify", "place", "kind", "level", "ward", "done", "alert", "error",
    "plan", "page", "format", "q", "from", "to", "days", "hours",
)  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.sampled_from(["9223372036854775808", "-1", "0", "1", "0001-01-01", "9999-12-31T23:59"]),
    st.integers().map(str),
    st.text(max_size=20),
)
SKIP = {"events", "static", "logout"}  # the event stream is long-lived; logout ends the session


def _get_routes(app: web.Application) -> list[str]:
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path")
        if route.method == "GET" and path and route.name not in SKIP:
            out.append(path)
    return sorted(set(out))


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", quote(value, safe=""), path)


async def _fuzz_as(client: Client, app: web.Application) -> None:
    loop = asyncio.get_running_loop()
    routes = _get_routes(app)
    assert len(routes) >= 15

    @fuzz
    @given(
        path=st.sampled_from(routes),
        segment=VALUES,
        query=st.dictionaries(st.sampled_from(QUERY_NAMES), VALUES, max_size=3),
    )
    def one(path: str, segment: str, query: dict[str, str]) -> None:
        clean = {k: v.encode("utf-8", "ignore").decode() for k, v in query.items()}
        url = _fill(path, segment.encode("utf-8", "ignore").decode())

        async def go() -> int:
            resp = await client.get(url, params=clean, allow_redirects=False)
            await resp.read()
            return resp.status

        status = asyncio.run_coroutine_threadsafe(go(), loop).result(timeout=60)
        assert status < 500, f"GET {url} {clean}: {status}"

    await asyncio.to_thread(one)


async def test_every_route_signed_out(client: Client, app: web.Application) -> None:
    await _fuzz_as(client, app)


async def test_every_route_as_each_role(
    aiohttp_client: Any, app: web.Application, users: dict[str, str], seeded: Seeded
) -> None:
    for role in ROLES:
        client = await aiohttp_client(app)
        csrf = await sign_in(client, role)
        if role != "liaison":
            await state_purpose(client, csrf)
        await _fuzz_as(client, app)
