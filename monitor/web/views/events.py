"""Server-sent events: the review queue's live feed of new and changed alerts.

The stream polls the store every few seconds (simple, and the same with several web
processes) and sends each changed alert's labels, counts and lock, never post text. A stream
ends after a few minutes; the browser's EventSource reconnects by itself, passing the last
event id, so the guard checks the session again and nothing is missed. Each poll also checks
that the session is still alive: signing out, expiry or a disabled account ends the stream
within one poll, not when the stream's few minutes are up.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.runtime.state import RUNTIME
from monitor.web import sessions
from monitor.web.queries import alerts as alert_queries
from monitor.web.state import WEB, require_session

routes = web.RouteTableDef()

STREAM_SECONDS = 300
KEEPALIVE_SECONDS = 15.0
FIELDS = ("id", "summary", "area", "kind", "level", "status", "owner", "post_count")


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

    await response.prepare(request)
    try:
        await response.write(b"retry: 3000\n\n")
        await _stream(response, engine, since, poll, signed_in)
    except ConnectionResetError:  # the browser went away: nothing to clean up
        pass
    return response


async def _stream(
    response: web.StreamResponse,
    engine: AsyncEngine,
    since: datetime,
    poll: float,
    signed_in: Callable[[], Awaitable[bool]],
) -> None:
    loop = asyncio.get_running_loop()
    started = last_write = loop.time()
    while loop.time() - started < STREAM_SECONDS:
        if not await signed_in():
            # Tell the page, which stops reconnecting (the next attempt would be refused anyway).
            await response.write(b"event: signed-out\ndata: {}\n\n")
            return
        async with engine.connect() as conn:
            changed = await alert_queries.changed_since(conn, since)
        for alert in changed:
            await response.write(encode(alert))
            since = max(since, alert["updated_at"])
            last_write = loop.time()
        if loop.time() - last_write >= KEEPALIVE_SECONDS:
            await response.write(b": keep-alive\n\n")
            last_write = loop.time()
        await asyncio.sleep(poll)
