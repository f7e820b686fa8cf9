"""Page and API handlers: thin, reading the store through monitor.store queries."""

from __future__ import annotations

from aiohttp import web

from monitor.app import RUNTIME
from monitor.store import overview
from monitor.web.metrics import exposition
from monitor.web.render import render

routes = web.RouteTableDef()


@routes.get("/healthz")
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


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    body = exposition(request.app[RUNTIME].metrics)
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


@routes.get("/")
async def overview_page(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    async with rt.engine.connect() as conn:
        totals = await overview.totals(conn)
        places = await overview.places(conn)
        alerts = await overview.open_alerts(conn)
    return render(
        rt.templates,
        "overview.html",
        page="overview",
        totals=totals,
        places=places,
        alerts=alerts,
        classifier=rt.classifier.name,
    )


@routes.get("/api/v1/overview")
async def overview_api(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    async with rt.engine.connect() as conn:
        totals = await overview.totals(conn)
        places = await overview.places(conn)
    return web.json_response(
        {
            "posts": totals.posts,
            "processed": totals.processed,
            "flagged": totals.flagged,
            "open_alerts": totals.open_alerts,
            "places": places,
        }
    )
