"""Page and API handlers, one module per area; each module has its own route table."""

from __future__ import annotations

from aiohttp import web

from monitor.web.views import (
    admin,
    api,
    areas,
    auth,
    counter,
    digests,
    events,
    incidents,
    ingest,
    justify,
    people,
    quarantine,
    queue,
    rule_editor,
    rules,
    rumours,
    silences,
    sources_admin,
    system,
    trends,
)


def all_routes() -> list[web.RouteTableDef]:
    return [
        system.routes,
        auth.routes,
        incidents.routes,
        queue.routes,
        events.routes,
        areas.routes,
        rumours.routes,
        counter.routes,
        digests.routes,
        rules.routes,
        admin.routes,
        api.routes,
        justify.routes,
        ingest.routes,
        quarantine.routes,
        silences.routes,
        sources_admin.routes,
        rule_editor.routes,
        people.routes,
        trends.routes,
    ]
