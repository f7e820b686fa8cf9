"""Pages people rely on: the areas table works with or without a map, the map carries the
licence's attribution, the live queue stream reports a change, and the users command."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from click.testing import CliRunner, Result
from sqlalchemy import event

from monitor.cli import cli
from monitor.config import Settings
from monitor.runtime.state import Runtime
from monitor.web.accounts import Passwords
from monitor.web.demo_site import serve
from monitor.web.server import create_app
from tests.web.conftest import Client, Clock, Seeded, deliver, sign_in
from tests.web.test_incidents import CALLS

ROOT = Path(__file__).resolve().parents[2]
ClientFactory = Callable[[web.Application], Awaitable[Client]]


async def test_areas_table_works_without_boundaries(
    aiohttp_client: ClientFactory,
    settings: Settings,
    runtime: Runtime,
    passwords: Passwords,
    clock: Clock,
    users: dict[str, str],
    seeded: Seeded,
    tmp_path: Path,
) -> None:
    no_map = settings.with_overrides(web_boundaries=str(tmp_path / "missing.geojson"))
    client = await aiohttp_client(create_app(no_map, runtime, passwords=passwords, clock=clock))
    await sign_in(client, "liaison")
    body = await (await client.get("/areas")).text()
    assert "cannot be read" in body and "<svg" not in body
    assert '<th scope="row">Manningham</th>' in body and '<th scope="row">Toller</th>' in body


async def test_areas_map_is_drawn_with_its_attribution(
    client: Client, users: dict[str, str], seeded: Seeded, shared_data: Path
) -> None:
    await sign_in(client, "liaison")
    body = await (await client.get("/areas?shade=flagged")).text()
    assert body.count('<path class="ward band-') == 30
    assert "Open Government Licence" in body and "bradford-wards-2013.geojson" in body
    assert "Manningham:" in body  # each ward's <title> names it and its figures


async def test_the_live_stream_reports_a_taken_alert(
    client: Client, users: dict[str, str], seeded: Seeded, runtime: Runtime, clock: Clock
) -> None:
    csrf = await sign_in(client, "analyst")
    # The seeded alerts carry the pipeline's (real) time, the take the app's clock, which
    # started before them: on a loaded machine seeding took more than the second below, the
    # stream's cursor passed the take's time on the seeded alerts, and the take never came.
    clock.now = max(clock.now, datetime.now(UTC))
    since = clock.now.isoformat()
    stream = await client.get(f"/events?since={since}")
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    clock.advance(seconds=1)
    alert = seeded.alert_ids[0]
    await client.post(f"/api/v1/alerts/{alert}/take", json={}, headers={"X-CSRF-Token": csrf})

    async def next_event() -> dict[str, object]:
        kind = ""
        while True:
            line = (await stream.content.readline()).decode()
            if line.startswith("event: "):
                kind = line[7:].strip()
            if line.startswith("data: ") and kind == "alert":
                event = json.loads(line[6:])
                if event["id"] == alert and event["owner"]:
                    return event

    event = await asyncio.wait_for(next_event(), timeout=20)
    stream.close()
    assert event["status"] == "acknowledged" and event["owner"] == "analyst"
    assert "excerpt" not in event and "text" not in event


async def test_the_live_stream_reports_a_new_incident_without_its_text(
    client: Client, users: dict[str, str], runtime: Runtime, clock: Clock
) -> None:
    await sign_in(client, "analyst")
    stream = await client.get(f"/events?since={clock.now.isoformat()}")
    clock.advance(seconds=1)
    await deliver(runtime, CALLS)

    async def next_incident() -> tuple[str, dict[str, object]]:
        kind, event_id = "", ""
        while True:
            line = (await stream.content.readline()).decode()
            if line.startswith("id: "):
                event_id = line[4:].strip()
            if line.startswith("event: "):
                kind = line[7:].strip()
            if line.startswith("data: ") and kind == "incident":
                return event_id, json.loads(line[6:])

    event_id, incident = await asyncio.wait_for(next_incident(), timeout=20)
    stream.close()
    assert incident["status"] == "open" and incident["family"] == "episode"
    assert "Little Horton" in incident["places"]  # type: ignore[operator]
    assert incident["authors"] == "fewer than 10" and incident["alert_count"]
    assert event_id == incident["updated_at"]  # a reconnect resumes after it
    # A rumour's headline is its claim as posted: no text of any post goes down the stream.
    assert not {"headline", "text", "excerpt", "summary"} & set(incident)
    assert not any(c[12:40] in json.dumps(incident) for c in CALLS)


async def _open_stream(http: aiohttp.ClientSession) -> aiohttp.ClientResponse:
    await sign_in(http, "analyst")
    stream = await http.get("/events")
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert await stream.content.readline() == b"retry: 3000\n"
    return stream


async def test_stopping_the_server_ends_an_open_live_stream(
    settings: Settings, runtime: Runtime, passwords: Passwords, users: dict[str, str]
) -> None:
    """A service stopping while someone has the queue open: the stream ends at once (the page
    reconnects to the next server), instead of holding the stop for aiohttp's whole 60 s
    graceful shutdown. Served as `monitor run` serves it (an AppRunner, defaults kept)."""
    app = create_app(settings, runtime, passwords=passwords)
    server = contextlib.AsyncExitStack()
    url = await server.enter_async_context(serve(app))
    async with aiohttp.ClientSession(
        base_url=url, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as http:
        stream = await _open_stream(http)
        try:
            await asyncio.wait_for(server.aclose(), timeout=10)
        finally:
            await server.aclose()
        rest = await asyncio.wait_for(stream.content.read(), timeout=5)
        assert stream.content.at_eof() and b"event:" not in rest


async def test_a_live_stream_stops_querying_when_its_reader_leaves(
    settings: Settings, runtime: Runtime, passwords: Passwords, users: dict[str, str]
) -> None:
    """Each page left (a navigation, a closed tab) ends its stream within a poll; aiohttp lets
    a handler run on after its client has gone, and the stream used to poll the store for a
    reader that was not there until its next keep-alive failed, 15 s later."""
    quick = settings.with_overrides(web_events_poll_seconds=0.2)
    app = create_app(quick, runtime, passwords=passwords)
    polls: list[float] = []
    loop = asyncio.get_running_loop()

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "web_sessions" in statement and "UPDATE" not in statement.upper():
            polls.append(loop.time())

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with serve(app) as url:
            async with aiohttp.ClientSession(
                base_url=url, cookie_jar=aiohttp.CookieJar(unsafe=True)
            ) as http:
                stream = await _open_stream(http)
                await asyncio.sleep(0.5)
                assert polls, "the open stream should check its session each poll"
                stream.close()
            left = loop.time()
            # Quiet for 1 s within 10 s of leaving (the old stream polled on for 15 s).
            while loop.time() - left < 10 and (not polls or loop.time() - polls[-1] < 1):
                await asyncio.sleep(0.1)
            assert loop.time() - polls[-1] >= 1, f"{len(polls)} polls, still polling"
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)


def _monitor(args: list[str], db: Path, env: dict[str, str]) -> Result:
    """`monitor users ...` in-process (click's runner: the command's own code, exit status and
    stderr, without starting an interpreter and importing the CLI again for each call)."""
    full = {"MONITOR_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "MONITOR_HOME": str(ROOT), **env}
    return CliRunner().invoke(cli, ["users", *args], env=full)


def test_users_add_list_and_refusals(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    env = {"NEW_PW": "a long enough passphrase"}
    added = _monitor(["add", "sam", "--role", "analyst", "--password-env", "NEW_PW"], db, env)
    assert added.exit_code == 0, added.stderr
    again = _monitor(["add", "sam", "--role", "comms", "--password-env", "NEW_PW"], db, env)
    assert again.exit_code != 0 and "already exists" in again.stderr
    short = _monitor(
        ["add", "kim", "--role", "comms", "--password-env", "SHORT"], db, {"SHORT": "x"}
    )
    assert short.exit_code != 0 and "at least 12 characters" in short.stderr
    role = _monitor(["add", "kim", "--role", "boss", "--password-env", "NEW_PW"], db, env)
    assert role.exit_code != 0 and "'boss'" in role.stderr  # refused for its role, not a crash
    listed = _monitor(["list"], db, env)
    assert "sam" in listed.stdout and "analyst" in listed.stdout and "kim" not in listed.stdout


async def test_sources_show_the_health_the_collectors_stored(
    client: Client, users: dict[str, str], runtime: Runtime
) -> None:
    from monitor.store.sources import record_health

    snap = {
        "name": "mastodon:bradford.example",
        "kind": "mastodon",
        "state": "refused",
        "looks_blocked": True,
        "last_success": "2026-11-03T09:00:00+00:00",
        "lag_seconds": 1800,
        "error_count": 4,
        "posts_delivered": 120,
        "last_error": "HTTP 403 from the instance",
    }
    async with runtime.engine.begin() as conn:
        await record_health(conn, [snap])
    await sign_in(client, "analyst")
    body = await (await client.get("/sources")).text()
    assert "mastodon:bradford.example" in body and "looks blocked" in body
    assert "HTTP 403 from the instance" in body and "30 min" in body


async def test_a_digest_with_excerpts_is_shown_without_them(
    client: Client, users: dict[str, str], runtime: Runtime
) -> None:
    from datetime import UTC, datetime

    from monitor.store.tables import digest_runs

    data = {
        "name": "comms-morning-brief",
        "title": "Morning rumour brief",
        "period_label": "Tue 03 Nov 07:30 – Wed 04 Nov 07:30 (UK time)",
        "sections": ["rumours"],
        "rumours": [
            {
                "rank": 1,
                "id": 5,
                "summary": "rumour r2 spreading (Toller)",
                "posts": 40,
                "authors": 31,
                "recent": 12,
                "areas": ["Toller"],
                "status": "new",
                "excerpt": "(fictional) SECRET EXCERPT the mill is for them not us",
            }
        ],
    }
    now = datetime.now(UTC)
    async with runtime.engine.begin() as conn:
        await conn.execute(
            digest_runs.insert().values(
                id=7,
                digest="comms-morning-brief",
                period="2026-11-04T07:30",
                period_start=now,
                period_end=now,
                late=False,
                claimed_by="test",
                claimed_at=now,
                subject="Morning rumour brief",
                text="SECRET EXCERPT",
                html="<p>SECRET EXCERPT</p>",
                data=data,
            )
        )
    await sign_in(client, "liaison")
    listing = await (await client.get("/digests")).text()
    assert "Morning rumour brief" in listing
    page = await (await client.get("/digests/7")).text()
    assert "rumour r2 spreading (Toller)" in page and "SECRET EXCERPT" not in page
    preview = await client.get("/digests/preview/liaison-daily?at=2026-11-04")
    assert preview.status == 200 and "preview, not sent" in await preview.text()
    for at in ("9999-12-31", "0001-01-01", "2026-13-01", "soon"):
        refused = await client.get(f"/digests/preview/liaison-daily?at={at}")
        assert refused.status == 400 and "YYYY-MM-DD" in await refused.text(), at


async def test_every_page_says_when_it_is_a_replay_and_of_which_week(
    aiohttp_client: ClientFactory,
    settings: Settings,
    runtime: Runtime,
    passwords: Passwords,
    clock: Clock,
    users: dict[str, str],
) -> None:
    from datetime import UTC, datetime

    from monitor.demo.clock import ReplayClock

    client = await aiohttp_client(create_app(settings, runtime, passwords=passwords, clock=clock))
    await sign_in(client, "liaison")
    assert "Demo replay" not in await (await client.get("/areas")).text()
    replay = ReplayClock(
        datetime(2026, 11, 2, 0, 1, tzinfo=UTC), datetime(2026, 11, 6, 23, 59, tzinfo=UTC)
    )
    replay.close(datetime(2026, 11, 5, 19, 45, tzinfo=UTC))
    runtime.replay = replay
    for path in ("/areas", "/digests"):
        body = await (await client.get(path)).text()
        assert "Demo replay" in body and "Mon 02 Nov – Fri 06 Nov 2026" in body, path
        assert "Thu 05 Nov 2026 19:45" in body, path
    # The digests page offers a preview of the replayed day, not of today.
    assert 'value="2026-11-05"' in await (await client.get("/digests")).text()
