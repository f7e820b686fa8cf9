"""Trends: volume and level over time for an area, a rumour or an incident, over a date range,
drawn on the server; each bar links to the posts behind it (an evidence view: a purpose, an
audit event, never for liaison officers, who see the same chart without links)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from monitor.runtime.state import RUNTIME
from monitor.web.charts import stacked_timeline
from monitor.web.params import parse_day, parse_id, parse_instant
from monitor.web.permissions import access_for
from monitor.web.queries import trends
from monitor.web.render import page
from monitor.web.state import WEB, note_audit, session_of
from monitor.web.views.api import reply
from monitor.web.views.justify import guard_evidence

routes = web.RouteTableDef()
DEFAULT_DAYS = 7
MAX_DRILL = timedelta(days=7)


def _now(request: web.Request) -> datetime:
    replay = request.app[RUNTIME].replay  # the demo's own clock
    return replay() if replay is not None else request.app[WEB].clock()


async def _selection(request: web.Request) -> tuple[trends.Selection, list[dict[str, str]]]:
    q = request.query
    async with request.app[RUNTIME].engine.connect() as conn:
        known = await trends.areas(conn)
        area = q.get("area", "")
        sel = trends.Selection(
            area=area if area in {a["key"] for a in known} else "",
            rumour=parse_id(q.get("rumour")),
            incident=parse_id(q.get("incident")),
        )
        newest = await trends.latest(conn, sel) or _now(request)
    end = parse_day(q.get("to")) or newest.astimezone(trends.LONDON).date()
    start = parse_day(q.get("from")) or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        start, end = end, start
    start = max(start, end - timedelta(days=trends.MAX_DAYS))
    return trends.Selection(sel.area, sel.rumour, sel.incident, start, end), known


def _query(sel: trends.Selection) -> str:
    pairs = [("area", sel.area)] if sel.area else []
    if sel.rumour:
        pairs.append(("rumour", str(sel.rumour)))
    if sel.incident:
        pairs.append(("incident", str(sel.incident)))
    return urlencode(pairs)


async def _trend(request: web.Request, links: bool) -> dict[str, Any]:
    sel, known = await _selection(request)
    async with request.app[RUNTIME].engine.connect() as conn:
        points, parts = await trends.series(conn, sel)
        level_steps = await trends.levels(conn, sel)
        label = await trends.label_of(conn, sel)
    first, last = sel.span()
    step = sel.step_hours()
    base = _query(sel)
    link = f"/trends/posts?{base + '&' if base else ''}start={{start}}&end={{end}}"
    chart = stacked_timeline(
        points, parts, step_hours=step, start=first, end=last - timedelta(hours=step),
        link=link if links else None,
    )  # fmt: skip
    strip = []
    if chart is not None and level_steps:
        slot = chart.width / len(level_steps)
        strip = [
            {"x": round(i * slot, 2), "width": round(slot, 2), "level": lvl, "at": at}
            for i, (at, lvl) in enumerate(level_steps)
        ]
    return {
        "selection": sel,
        "areas": known,
        "label": label,
        "points": points,
        "parts": parts,
        "chart": chart,
        "strip": strip,
        "levels": level_steps,
        "step_hours": step,
        "total": sum(sum(c.values()) for _, c in points),
    }


@routes.get("/trends", name="trends")
async def trends_page(request: web.Request) -> web.Response:
    session = session_of(request)
    links = session is not None and access_for("trends_posts").allows(session.user.role)
    data = await _trend(request, links)
    return page(request, "trends.html", title="Trends", **data)


@routes.get("/api/v1/trends", name="api_trends")
async def trends_api(request: web.Request) -> web.Response:
    data = await _trend(request, False)
    sel = data["selection"]
    return reply(
        {
            "of": data["label"],
            "area": sel.area or None,
            "rumour": sel.rumour,
            "incident": sel.incident,
            "from": sel.start.isoformat(),
            "to": sel.end.isoformat(),
            "step_hours": data["step_hours"],
            "parts": list(data["parts"]),
            "series": [{"start": t, "counts": c} for t, c in data["points"]],
            "levels": [{"start": t, "level": lvl} for t, lvl in data["levels"]],
        }
    )


@routes.get("/trends/posts", name="trends_posts")
async def posts_page(request: web.Request) -> web.Response:
    sel, _ = await _selection(request)
    start, end = parse_instant(request.query.get("start")), parse_instant(request.query.get("end"))
    if start is None or end is None or not start < end <= start + MAX_DRILL:
        raise web.HTTPBadRequest(text="start and end: ISO times with an offset, at most 7 days")
    # A rumour's or an incident's posts are that story's evidence, shown here as on its own
    # page: the repeated-viewing guard counts (and may stop) this view the same way, or this
    # page would open a third story's posts by one author with no justification asked.
    if sel.incident:
        await guard_evidence(request, f"incident:{sel.incident}")
    elif sel.rumour:
        await guard_evidence(request, f"rumour:{sel.rumour}")
    async with request.app[RUNTIME].engine.connect() as conn:
        rows = await trends.posts_behind(conn, sel, start, end)
        label = await trends.label_of(conn, sel)
    note_audit(request, trend=_query(sel) or "all", start=start.isoformat(), posts_shown=len(rows))
    back = _query(sel)
    day = start.astimezone(trends.LONDON).date().isoformat()
    return page(
        request,
        "trends_posts.html",
        title=f"Posts behind the trend of {label}",
        label=label,
        rows=rows,
        start=start,
        end=end,
        limit=trends.DRILL_LIMIT,
        back=f"/trends?{back + '&' if back else ''}from={day}&to={day}",
    )
