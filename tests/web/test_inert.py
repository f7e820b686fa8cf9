"""A post whose text is a script or HTML payload renders inert on every page: escaped by the
templates, never in an href, and (belt and braces) stopped by the Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from monitor.runtime.state import Runtime
from tests.web.conftest import Client, raw, seed_rumour, sign_in, state_purpose
from tests.web.test_permissions import route_calls

ClientFactory = Callable[[web.Application], Awaitable[Client]]
PAYLOAD = (
    "(fictional) send them back, Toller scum <script>alert('x')</script>"
    '<img src=x onerror=alert(1)><a href="javascript:alert(2)">click</a>'
)
RAW_MARKERS = ("<script>alert", "<img src=x", '<a href="javascript:', 'href="javascript:')


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


async def test_a_script_payload_is_inert_on_every_page(
    aiohttp_client: ClientFactory, app: web.Application, users: dict[str, str], runtime: Runtime
) -> None:
    post = raw(77, PAYLOAD, url="javascript:alert(3)")
    await runtime.pipeline.deliver("test", [post], None)
    await runtime.pipeline.drain()
    rumour = await seed_rumour(runtime)
    client = await aiohttp_client(app)
    csrf = await sign_in(client, "admin")
    await state_purpose(client, csrf)
    alerts = await (await client.get("/api/v1/alerts")).json()
    assert alerts["alerts"], "the payload post should have opened an alert"
    ids = {
        "alert_id": str(alerts["alerts"][0]["id"]),
        "incident_id": "1",
        "entry_id": "1",
        "rumour_id": str(rumour),
        "plan_id": "1",
        "run_id": "1",
        "name": "comms-morning-brief",
        "silence_id": "1",
        "pack": "tension",
        "file": "threats.yaml",
    }
    extra = ["/rules/try?query=scum", "/rules/try?query=send+NEAR/3+back"]
    paths = [p for n, m, p in route_calls(app, ids) if m == "GET" and n not in ("events",)]
    shown_escaped = 0
    for path in paths + extra:
        response = await client.get(path)
        if response.content_type == DOCX:  # a Word export: a download, never a page to run
            assert response.headers["Content-Disposition"].startswith("attachment")
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            continue
        body = await response.text()
        if response.content_type != "text/html":
            # JSON and CSV carry the text as data, never as markup a browser would run.
            assert response.content_type in (
                "application/json",
                "text/csv",
                "text/css",
                "text/plain",
            )
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            continue
        for marker in RAW_MARKERS:
            assert marker not in body, f"{path} renders {marker!r} unescaped"
        assert "javascript:alert(3)" not in body, f"{path} puts the post's URL in a link"
        shown_escaped += "&lt;script&gt;alert(" in body
    assert shown_escaped >= 3, "the payload should be shown (escaped) on the evidence pages"
