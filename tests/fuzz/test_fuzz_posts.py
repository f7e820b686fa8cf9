"""Fuzz every web route that takes a POST — its forms and its JSON API bodies — as an admin
with a valid CSRF token and a stated purpose: never a 500 (issue 13). Routes are read from the
app, so one added later is fuzzed too. Bodies are hostile strings, huge numbers, far dates,
deep nesting and random JSON; the push endpoint has its own fuzz (test_fuzz_push.py), where an
accepted post must also be stored. Session-ending and long-running routes are left out."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import quote

from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.strategies import HOSTILE_STRINGS, fuzz
from tests.web.conftest import Seeded, sign_in, state_purpose

# Names the forms and JSON bodies read (a name no view reads proves little).
FIELDS = (
    "reason", "note", "owner", "status", "action", "choice", "details", "next", "text", "claim",
    "label", "labels", "ends_at", "starts_at", "matchers", "comment", "username", "role",
    "password", "name", "url", "kind", "area", "ids", "alert_ids", "rumour", "target", "query",
    "pack", "file", "content", "enabled", "purpose", "assignee", "stance", "state", "message",
)  # fmt: skip
SCALARS = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.sampled_from(["9223372036854775808", "-1", "0", "1", "0001-01-01", "9999-12-31T23:59"]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=30),
    st.booleans(),
    st.none(),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4)
    ),
    max_leaves=12,
)
# Ending the session or the account stops the rest of the run proving anything.
SKIP = re.compile(r"/(logout|login|ingest)\b|/users/.*/(disable|delete)")


def _post_routes(app: web.Application) -> list[str]:
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path")
        if route.method == "POST" and path and not SKIP.search(path):
            out.append(path)
    return sorted(set(out))


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", quote(value, safe=""), path)


def _clean(value: str) -> str:
    return value.encode("utf-8", "ignore").decode()


async def test_every_post_route_as_admin(
    aiohttp_client: Any, app: web.Application, users: dict[str, str], seeded: Seeded
) -> None:
    client = await aiohttp_client(app)
    csrf = await sign_in(client, "admin")
    await state_purpose(client, csrf)
    loop = asyncio.get_running_loop()
    routes = _post_routes(app)
    assert len(routes) >= 10, routes
    ids = st.one_of(st.sampled_from(["1", "2", "9223372036854775808", "-1"]), SCALARS.map(str))

    @fuzz
    @given(
        path=st.sampled_from(routes),
        segment=ids,
        as_json=st.booleans(),
        form=st.dictionaries(st.sampled_from(FIELDS), SCALARS.map(str), max_size=5),
        body=JSON,
        deep=st.integers(min_value=0, max_value=3),
    )
    def one(
        path: str, segment: str, as_json: bool, form: dict[str, str], body: Any, deep: int
    ) -> None:
        url = _fill(path, _clean(segment))
        for _ in range(deep * 400):  # nesting far past any real body
            body = [body]

        async def go() -> int:
            headers = {"X-CSRF-Token": csrf}
            if as_json:
                raw = json.dumps(body, default=str).encode("utf-8", "ignore")
                resp = await client.post(
                    url,
                    data=raw,
                    headers={**headers, "Content-Type": "application/json"},
                    allow_redirects=False,
                )
            else:
                data = {k: _clean(v) for k, v in form.items()}
                data["csrf_token"] = csrf
                resp = await client.post(url, data=data, headers=headers, allow_redirects=False)
            await resp.read()
            return resp.status

        status = asyncio.run_coroutine_threadsafe(go(), loop).result(timeout=60)
        seen[status] = seen.get(status, 0) + 1
        assert status < 500, f"POST {url} ({'json' if as_json else 'form'}): {status}"

    seen: dict[int, int] = {}
    await asyncio.to_thread(one)
    # Not all refused at the door: the bodies reach the views (a 403 for all would prove little).
    reached = sum(n for s, n in seen.items() if s not in (401, 403))
    assert reached > sum(seen.values()) // 2, seen
