"""Health, metrics and the overview: aggregates only, for every role."""

from __future__ import annotations

from aiohttp import web

from monitor.app import RUNTIME
from monitor.store import overview
from monitor.store import signals as signal_store
from monitor.web.metrics import exposition
from monitor.web.queries import alerts as alert_queries
from monitor.web.queries import rumours as rumour_queries
from monitor.web.render import page

routes = web.RouteTableDef()


@routes.get("/healthz", name="healthz")
async def healthz(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    try:
        async with rt.engine.connect() as conn:
            await overview.totals(conn)
    except Exception as exc:  # the probe must answer, not crash
        return web.json_response({"status": "error", "store": str(exc)}, status=503)
    return web.json_response(
        {"status": "ok", "queue_depth": rt.pipeline.queue_depth, "classifier": rt.classifier.name}
    )


@routes.get("/metrics", name="metrics")
async def metrics(request: web.Request) -> web.Response:
    body = exposition(request.app[RUNTIME].metrics)
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


@routes.get("/", name="overview")
async def overview_page(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    async with rt.engine.connect() as conn:
        totals = await overview.totals(conn)
        places = await overview.places(conn, limit=15, min_count=rt.settings.privacy_min_count)
        alerts = await alert_queries.list_alerts(conn, alert_queries.Filters(), limit=10)
        missing = await signal_store.missing_signal_tables(conn)
        rumours = None if missing else await rumour_queries.summary(conn)
    return page(
        request,
        "overview.html",
        title="Overview",
        totals=totals,
        places=places,
        alerts=alerts,
        rumours=rumours,
        classifier=rt.classifier.name,
    )
