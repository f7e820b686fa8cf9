"""The rumour board (comms): clusters ranked by spread, and one rumour's timeline, places,
stance mix, example posts and counter messages with their before/after velocity."""

from __future__ import annotations

from aiohttp import web

from monitor.app import RUNTIME
from monitor.signals.config import SignalsConfig
from monitor.store import signals as signal_store
from monitor.web.charts import hourly_bars, stacked
from monitor.web.params import path_id
from monitor.web.queries import counter as counter_queries
from monitor.web.queries import rumours as rumour_queries
from monitor.web.render import page
from monitor.web.state import WEB, note_audit
from monitor.web.views.justify import guard_evidence

routes = web.RouteTableDef()
STATUSES = ("", "new", "watching", "countering", "closed")


def rumour_id_of(request: web.Request) -> int:
    return path_id(request, "rumour_id")


@routes.get("/rumours", name="rumours")
async def board_page(request: web.Request) -> web.Response:
    status = request.query.get("status", "")
    status = status if status in STATUSES else ""
    async with request.app[RUNTIME].engine.connect() as conn:
        missing = await signal_store.missing_signal_tables(conn)
        rows = [] if missing else await rumour_queries.board(conn, status)
    note_audit(request, rumours_shown=len(rows))
    for r in rows:
        r["stance_bar"] = stacked([(s, r["stance"][s]) for s in rumour_queries.STANCES], 120)
    return page(
        request,
        "rumours.html",
        title="Rumour board",
        rumours=rows,
        status_filter=status,
        statuses=STATUSES,
        missing=missing,
    )


@routes.get("/rumours/{rumour_id}", name="rumour")
async def rumour_page(request: web.Request) -> web.Response:
    rumour_id = rumour_id_of(request)
    await guard_evidence(request, f"rumour:{rumour_id}")  # repeated-viewing guard (privacy)
    state = request.app[WEB]
    window = SignalsConfig.from_settings(state.settings).rumours.counter_window
    recheck = request.app[RUNTIME].recheck
    if recheck is not None:  # the quoted posts, if deleted or hidden on their platform, go first
        async with request.app[RUNTIME].engine.connect() as conn:
            quoted = await rumour_queries.example_post_ids(conn, rumour_id)
        await recheck.verify_posts(quoted, state.clock())
    async with request.app[RUNTIME].engine.connect() as conn:
        rumour = await signal_store.rumour(conn, rumour_id)
        if rumour is None:
            raise web.HTTPNotFound(text="no such rumour")
        timeline = await signal_store.rumour_timeline(conn, rumour_id)
        examples = await rumour_queries.examples(conn, rumour_id)
        counters = await rumour_queries.counters_with_effect(conn, rumour_id, window, state.clock())
        plans = await counter_queries.list_plans(conn, rumour_id)
    note_audit(request, rumour_id=rumour_id, examples=sum(len(v) for v in examples.values()))
    stance = {s: int((rumour.get("stance") or {}).get(s, 0)) for s in rumour_queries.STANCES}
    chart = hourly_bars(
        [(t["hour"], t["posts"]) for t in timeline],
        [(c["published_at"], f"counter message {c['id']}") for c in counters],
    )
    return page(
        request,
        "rumour.html",
        title=f"Rumour r{rumour_id}",
        rumour=rumour,
        places=counter_queries.places_of(rumour, limit=50),
        place_counts=dict(rumour.get("places") or {}),
        timeline=timeline,
        chart=chart,
        stance=stance,
        stance_bar=stacked(list(stance.items()), 320),
        examples=examples,
        counters=counters,
        plans=plans,
        window_hours=window.total_seconds() / 3600,
    )
