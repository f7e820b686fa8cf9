"""Server-sent events: the review queue's live feed of new and changed alerts and incidents.

The stream polls the store every few seconds (simple, and the same with several web
processes) and sends each changed alert's labels, counts and lock (`event: alert`) and each
changed incident's status, level, trend, counts and places (`event: incident`; held ones are
nobody's business yet), never post text (a rumour incident's headline is its claim, so it is
not sent: the page links to the incident). A stream
ends after a few minutes; the browser's EventSource reconnects by itself, passing the last
event id, so the guard checks the session again and nothing is missed. Each poll also checks
that the session is still alive: signing out, expiry or a disabled account ends the stream
within one poll, not when the stream's few minutes are up.

A stream also ends when its reader has gone (within one poll: aiohttp lets a handler run on
after its client disconnects, and this one would query the store until its next keep-alive
failed) and at once when the server stops: aiohttp's graceful stop waits for every running
handler, so an open queue page held a service's stop for its whole shutdown timeout (60 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.incidents import queries as incident_queries
from monitor.runtime.state import RUNTIME
from monitor.web import sessions
from monitor.web.queries import alerts as alert_queries
from monitor.web.state import WEB, require_session

routes = web.RouteTableDef()

STREAM_SECONDS = 300
KEEPALIVE_SECONDS = 15.0
FIELDS = ("id", "summary", "area", "kind", "level", "status", "owner", "post_count")
INCIDENT_FIELDS = (
    "id", "family", "status", "level", "trend", "post_count", "authors", "response_count",
    "alert_count", "places", "merged_into",
)  # fmt: skip


def _since(request: web.Request, now: datetime) -> datetime:
    for raw in (request.headers.get("Last-Event-ID"), request.query.get("since")):
        if raw:
            try:
                value = datetime.fromisoformat(raw)
            except ValueError:
                continue
            if value.tzinfo is not None:
                return max(value, now - timedelta(hours=1))
    return now


def encode(alert: dict[str, object]) -> bytes:
    """One SSE message. JSON never contains a raw newline, so one `data:` line is enough."""
    payload = {k: alert.get(k) for k in FIELDS}
    updated = alert["updated_at"]
    assert isinstance(updated, datetime)
    payload["updated_at"] = updated.isoformat()
    data = json.dumps(payload, ensure_ascii=False)
    return f"id: {updated.isoformat()}\nevent: alert\ndata: {data}\n\n".encode()


def encode_incident(incident: dict[str, object]) -> bytes:
    """One incident as an SSE message (its id is the change time, as for alerts)."""
    payload: dict[str, object] = {k: incident.get(k) for k in INCIDENT_FIELDS}
    for key in ("first_seen", "last_seen", "updated_at"):
        value = incident.get(key)
        payload[key] = value.isoformat() if isinstance(value, datetime) else None
    updated = incident["updated_at"]
    assert isinstance(updated, datetime)
    data = json.dumps(payload, ensure_ascii=False)
    return f"id: {updated.isoformat()}\nevent: incident\ndata: {data}\n\n".encode()


async def changes(
    engine: AsyncEngine, since: datetime, k: int, limit: int = 200
) -> list[tuple[datetime, bytes]]:
    """Alerts' and incidents' changes after `since`, oldest first, as SSE messages. When
    either side filled its page, the later changes of the other wait for the next poll, so
    the cursor (the last message's time) never passes a change not yet sent."""
    async with engine.connect() as conn:
        changed = await alert_queries.changed_since(conn, since, limit)
        stories = await incident_queries.changed_since(conn, since, k=k, limit=limit)
    out = [(a["updated_at"], 0, encode(a)) for a in changed]
    out += [(i["updated_at"], 1, encode_incident(i)) for i in stories]
    out.sort(key=lambda m: (m[0], m[1]))
    cut = [side[-1]["updated_at"] for side in (changed, stories) if len(side) >= limit]
    if cut:
        out = [m for m in out if m[0] <= min(cut)]
    return [(at, message) for at, _, message in out]


@routes.get("/events", name="events")
async def events(request: web.Request) -> web.StreamResponse:
    state = request.app[WEB]
    engine = request.app[RUNTIME].engine
    poll = max(0.2, state.settings.web_events_poll_seconds)
    since = _since(request, state.clock())
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    session = require_session(request)

    async def signed_in() -> bool:
        async with engine.connect() as conn:
            return await sessions.alive(conn, session.id, state.clock(), state.session_idle)

    def reader_gone() -> bool:
        transport = request.transport
        return transport is None or transport.is_closing()

    await response.prepare(request)
    try:
        await response.write(b"retry: 3000\n\n")
        k = request.app[RUNTIME].settings.privacy_min_count
        await _stream(response, engine, since, poll, signed_in, k, state.stopping, reader_gone)
    except ConnectionResetError:  # the browser went away: nothing to clean up
        pass
    return response


async def end_streams(app: web.Application) -> None:
    """On shutdown: end every open stream now (the browser reconnects to the next server)."""
    app[WEB].stopping.set()


async def _stream(
    response: web.StreamResponse,
    engine: AsyncEngine,
    since: datetime,
    poll: float,
    signed_in: Callable[[], Awaitable[bool]],
    k: int,
    stopping: asyncio.Event,
    reader_gone: Callable[[], bool],
) -> None:
    loop = asyncio.get_running_loop()
    started = last_write = loop.time()
    while loop.time() - started < STREAM_SECONDS and not stopping.is_set():
        if reader_gone():
            return
        if not await signed_in():
            # Tell the page, which stops reconnecting (the next attempt would be refused anyway).
            await response.write(b"event: signed-out\ndata: {}\n\n")
            return
        for at, message in await changes(engine, since, k):
            await response.write(message)
            since = max(since, at)
            last_write = loop.time()
        if loop.time() - last_write >= KEEPALIVE_SECONDS:
            await response.write(b": keep-alive\n\n")
            last_write = loop.time()
        with contextlib.suppress(TimeoutError):  # the poll's wait, cut short by a stop
            async with asyncio.timeout(poll):
                await stopping.wait()
