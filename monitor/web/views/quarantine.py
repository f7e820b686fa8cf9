"""The quarantine for admins: records that failed a stage on their own, and a retry after a fix.

What is shown never names or points at an author (no ids, links or pseudonyms; see
`monitor.store.quarantine.Entry.shown`). Records may hold post text, so listing them is an
evidence view: it needs a stated purpose and is audited, as any other.
"""

from __future__ import annotations

from aiohttp import web

from monitor.runtime.state import RUNTIME
from monitor.store import quarantine
from monitor.web.params import parse_id, path_id
from monitor.web.render import page

routes = web.RouteTableDef()
PAGE = 200


async def _entries(request: web.Request) -> tuple[list[quarantine.Entry], int]:
    async with request.app[RUNTIME].engine.connect() as conn:
        return await quarantine.entries(conn, limit=PAGE), await quarantine.count(conn)


@routes.get("/admin/quarantine", name="quarantine")
async def quarantine_page(request: web.Request) -> web.Response:
    entries, total = await _entries(request)
    done = request.query.get("done", "")
    return page(
        request,
        "quarantine.html",
        title="Quarantine",
        entries=[e.shown() for e in entries],
        total=total,
        done=done if done.replace(",", "").isdigit() else "",
    )


@routes.post("/admin/quarantine/retry", name="quarantine_retry")
async def quarantine_retry(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    if form.get("all") == "1":
        entries, _ = await _entries(request)
        ids = [e.id for e in entries]
    else:
        ids = [i for i in (parse_id(str(v)) for v in form.getall("id", [])) if i is not None]
    done, failed = await request.app[RUNTIME].pipeline.retry_quarantined(ids)
    raise web.HTTPSeeOther(f"/admin/quarantine?done={done},{failed}")


@routes.get("/api/v1/quarantine", name="api_quarantine")
async def api_quarantine(request: web.Request) -> web.Response:
    entries, total = await _entries(request)
    return web.json_response({"total": total, "entries": [e.shown() for e in entries]})


@routes.post("/api/v1/quarantine/{entry_id}/retry", name="api_quarantine_retry")
async def api_quarantine_retry(request: web.Request) -> web.Response:
    entry = path_id(request, "entry_id")
    async with request.app[RUNTIME].engine.connect() as conn:
        if not await quarantine.entries(conn, [entry]):
            raise web.HTTPNotFound(text="no such quarantined record")
    done, failed = await request.app[RUNTIME].pipeline.retry_quarantined([entry])
    return web.json_response({"done": done, "failed_again": failed})
