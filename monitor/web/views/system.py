"""Health, metrics and the overview: aggregates only, for every role."""

from __future__ import annotations

from aiohttp import web

from monitor.classify.languages import not_scored_notes
from monitor.incidents import queries as incident_queries
from monitor.runtime import probes
from monitor.runtime.state import RUNTIME
from monitor.store import languages as language_store
from monitor.store import overview
from monitor.store import signals as signal_store
from monitor.web.queries import alerts as alert_queries
from monitor.web.queries import rumours as rumour_queries
from monitor.web.render import page

routes = web.RouteTableDef()


@routes.get("/healthz", name="healthz")
async def healthz(request: web.Request) -> web.Response:
    """Liveness (monitor/runtime/probes.py, the same in every role)."""
    return await probes.healthz(request.app[RUNTIME])


@routes.get("/readyz", name="readyz")
async def readyz(request: web.Request) -> web.Response:
    """Readiness (monitor/runtime/probes.py, the same in every role)."""
    return await probes.readyz(request.app[RUNTIME])


@routes.get("/metrics", name="metrics")
async def metrics(request: web.Request) -> web.Response:
    return await probes.metrics(request.app[RUNTIME])


@routes.get("/", name="overview")
async def overview_page(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    async with rt.engine.connect() as conn:
        totals = await overview.totals(conn)
        places = await overview.places(conn, limit=15, min_count=rt.settings.privacy_min_count)
        alerts = await alert_queries.list_alerts(conn, alert_queries.Filters(), limit=10)
        missing = await signal_store.missing_signal_tables(conn)
        rumours = None if missing else await rumour_queries.summary(conn)
        stories = await incident_queries.count_shown(conn)
        unscored = await language_store.not_scored(
            conn, getattr(rt.classifier, "covered_languages", None)
        )
    return page(
        request,
        "overview.html",
        title="Overview",
        totals=totals,
        places=places,
        alerts=alerts,
        rumours=rumours,
        incidents=stories,
        classifier=rt.classifier.name,
        not_scored=not_scored_notes(unscored),
    )
