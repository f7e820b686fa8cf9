"""Admin Sources: add, edit, pause and test-fetch sources in the browser. The settings file
stays the record: the collectors' loader checks every change, the rest of the file is kept
byte for byte, secrets are only named, and each change is audited."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from monitor.collectors.config import load_sources
from monitor.config import Settings
from monitor.runtime.state import Runtime
from monitor.safeguards import audit
from monitor.web.accounts import Passwords
from monitor.web.server import create_app
from tests.web.conftest import Client, Clock, sign_in

FEED = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>Exampletown Gazette (fictional)</title>
<link>http://gazette.example/</link><description>fictional local news</description>
<item><title>(fictional) Toller library opens late on Fridays</title>
<link>http://gazette.example/1</link><guid>g1</guid>
<description>Opening hours change.</description></item>
<item><title>(fictional) Manningham park clean-up this weekend</title>
<link>http://gazette.example/2</link><guid>g2</guid>
<description>Volunteers wanted.</description></item>
</channel></rss>"""

SETTINGS_FILE = """# Exampletown council's monitor (fictional)
retention_days = 30

# the council's own feed
[[sources]]
kind = "rss"
name = "council"   # keep this name: the cursor is stored under it
feeds = ["https://council.example/news.rss"]
"""


async def feed_server(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
) -> TestServer:
    async def rss(request: web.Request) -> web.Response:
        return web.Response(text=FEED, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/feed.rss", rss)
    return await aiohttp_server(app)


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(SETTINGS_FILE, encoding="utf-8")
    return path


@pytest.fixture
def app(
    settings: Settings, runtime: Runtime, passwords: Passwords, clock: Clock, settings_file: Path
) -> web.Application:
    return create_app(
        settings, runtime, passwords=passwords, clock=clock, sources_file=settings_file
    )


async def test_admin_adds_tests_edits_and_pauses_an_rss_source(
    client: Client,
    users: dict[str, str],
    runtime: Runtime,
    settings_file: Path,
    aiohttp_server: Any,
) -> None:
    server = await feed_server(aiohttp_server)
    feed_url = str(server.make_url("/feed.rss"))
    csrf = await sign_in(client, "admin")
    listing = html.unescape(await (await client.get("/sources")).text())
    assert "council" in listing and "1 feed(s)" in listing
    assert 'action="/admin/sources/council/test"' in listing  # each source's own buttons

    form = await client.get("/admin/sources/new?kind=rss")
    assert form.status == 200 and 'name="feeds"' in await form.text()
    saved = await client.post(
        "/admin/sources",
        data={
            "csrf_token": csrf,
            "kind": "rss",
            "name": "gazette",
            "feeds": feed_url,
            "places": "Toller\nManningham",
            "enabled": "1",
            "poll_interval_seconds": "900",  # the default: not written
            "reason": "(fictional) local paper agreed to be read",
        },
        allow_redirects=False,
    )
    assert saved.status == 303, await saved.text()
    text = settings_file.read_text(encoding="utf-8")
    assert text.startswith(SETTINGS_FILE), "the rest of the file is kept as it was"
    added = text[len(SETTINGS_FILE) :]
    assert 'name = "gazette"' in added and "poll_interval_seconds" not in added
    assert "enabled" not in added  # the default is not written either
    assert [c.name for c in load_sources(settings_file)] == ["council", "gazette"]

    tested = await client.post(
        "/admin/sources/gazette/test", data={"csrf_token": csrf}, allow_redirects=False
    )
    body = html.unescape(await tested.text())
    assert tested.status == 200
    assert "Test fetch of gazette: ok" in " ".join(body.split()).replace("<strong>", "").replace(
        "</strong>", ""
    )
    assert "Exampletown Gazette (fictional): 2 items, 2 kept" in body

    paused = await client.post(
        "/admin/sources/gazette/pause", data={"csrf_token": csrf}, allow_redirects=False
    )
    assert paused.status == 303
    (gazette,) = [c for c in load_sources(settings_file) if c.name == "gazette"]
    assert gazette.enabled is False
    assert "# keep this name: the cursor is stored under it" in settings_file.read_text()

    edit = await client.get("/admin/sources/gazette")
    assert edit.status == 200 and "Toller\nManningham" in html.unescape(await edit.text())

    async with runtime.engine.connect() as conn:
        events = await audit.recent(conn, limit=10, actor="admin")
    actions = [e.action for e in events]
    assert actions[:3] == ["source.changed", "source.test", "source.added"]
    assert events[2].purpose == "(fictional) local paper agreed to be read"


async def test_a_refused_change_leaves_the_file_alone_and_says_why(
    client: Client, users: dict[str, str], settings_file: Path
) -> None:
    csrf = await sign_in(client, "admin")
    before = settings_file.read_bytes()
    bad = await client.post(
        "/admin/sources",
        data={
            "csrf_token": csrf,
            "kind": "rss",
            "name": "council",
            "feeds": "ftp://council.example/news",
            "reason": "(fictional) trying a duplicate",
        },
    )
    text = html.unescape(await bad.text())
    assert bad.status == 400
    assert "feeds: 'ftp://council.example/news' is not an http(s) URL" in text
    assert settings_file.read_bytes() == before
    duplicate = await client.post(
        "/admin/sources",
        data={
            "csrf_token": csrf,
            "kind": "rss",
            "name": "council",
            "feeds": "https://council.example/other.rss",
            "reason": "(fictional) trying a duplicate",
        },
    )
    assert duplicate.status == 400
    assert "name: already used by [[sources]] #1" in html.unescape(await duplicate.text())

    secret = await client.post(
        "/api/v1/admin/sources",
        json={
            "source": {
                "kind": "mastodon",
                "name": "toot",
                "servers": ["mastodon.example"],
                "hashtags": ["Exampletown"],
                "token_env": "abc-def-the-token-itself",
            },
            "reason": "(fictional) a token pasted by mistake",
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert secret.status == 400
    assert "token_env: must name an environment variable" in (await secret.json())["error"]
    watch = await client.post(
        "/api/v1/admin/sources",
        json={
            "source": {
                "kind": "rss",
                "name": "x",
                "feeds": ["https://a.example/"],
                "accounts": ["someone"],
            },
            "reason": "(fictional) watching people is refused",
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert watch.status == 400
    assert settings_file.read_bytes() == before


async def test_the_api_lists_pauses_and_tests(
    client: Client, users: dict[str, str], settings_file: Path, aiohttp_server: Any
) -> None:
    server = await feed_server(aiohttp_server)
    csrf = await sign_in(client, "admin")
    headers = {"X-CSRF-Token": csrf}
    made = await client.post(
        "/api/v1/admin/sources",
        json={
            "source": {
                "kind": "rss",
                "name": "gazette",
                "feeds": [str(server.make_url("/feed.rss"))],
            },
            "reason": "(fictional) added through the API",
        },
        headers=headers,
    )
    assert made.status == 201, await made.text()
    listed = await (await client.get("/api/v1/admin/sources")).json()
    assert [s["name"] for s in listed["sources"]] == ["council", "gazette"]
    check = await client.post("/api/v1/admin/sources/gazette/test", json={}, headers=headers)
    assert (await check.json())["ok"] is True
    paused = await client.post(
        "/api/v1/admin/sources/council/pause", json={"enabled": False}, headers=headers
    )
    assert paused.status == 200
    assert [c.enabled for c in load_sources(settings_file)] == [False, True]
    again = await client.post(  # the file now holds enabled = false, a plain bool to tomlkit
        "/api/v1/admin/sources/council/pause", json={"enabled": False}, headers=headers
    )
    assert again.status == 200, await again.text()
    assert [c.enabled for c in load_sources(settings_file)] == [False, True]
    analyst = await client.get("/api/v1/admin/sources")
    assert analyst.status == 200  # still the admin's session
