"""The counter-message planner: facts and sources, messengers, channels, a draft from a
template, four-eyes approval, and recording when and where people published it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from monitor.runtime.state import RUNTIME
from monitor.store import signals as signal_store
from monitor.types import within_calendar
from monitor.web.counter_templates import fill, load_templates
from monitor.web.params import parse_id, path_id
from monitor.web.queries import counter as counter_queries
from monitor.web.render import page
from monitor.web.state import WEB, note_audit, require_session
from monitor.web.views.rumours import rumour_id_of

routes = web.RouteTableDef()
LONDON = ZoneInfo("Europe/London")
MESSAGES = {
    "saved": "Draft saved.",
    "filled": "The draft was filled from the template: edit it, then save.",
    "approved": "Approved. It can now be published by people, then recorded here.",
    "published": "Publication recorded: the before/after comparison now uses this time.",
    "version": "Version saved. The plan needs approving again before it goes out.",
}


async def _rumour(request: web.Request, rumour_id: int) -> dict[str, Any]:
    async with request.app[RUNTIME].engine.connect() as conn:
        rumour = await signal_store.rumour(conn, rumour_id)
    if rumour is None:
        raise web.HTTPNotFound(text="no such rumour")
    return rumour


def _claim(rumour: dict[str, Any]) -> str:
    return str(rumour.get("claim_text") or rumour.get("representative") or "")


def _back(rumour_id: int, plan_id: int | None, **query: str) -> web.HTTPSeeOther:
    """Back to the planner page (an evidence view, audited), never a page from a POST."""
    params = "&".join(f"{k}={v}" for k, v in query.items())
    plan = f"plan={plan_id}&" if plan_id is not None else ""
    return web.HTTPSeeOther(f"/rumours/{rumour_id}/counter?{plan}{params}")


async def _planner(
    request: web.Request,
    rumour: dict[str, Any],
    *,
    error: str | None = None,
    message: str | None = None,
) -> web.Response:
    rt = request.app[RUNTIME]
    templates, template_problem = load_templates(rt.home)
    async with rt.engine.connect() as conn:
        plans = await counter_queries.list_plans(conn, rumour["id"])
        versions = await counter_queries.versions(conn, [p["id"] for p in plans])
    for p in plans:
        p["versions"] = versions.get(p["id"], [])
    wanted = request.query.get("plan")
    editing = next((p for p in plans if str(p["id"]) == wanted), None)
    if editing is None and wanted != "new":
        editing = next((p for p in plans if p["status"] == "draft"), None)
    for p in plans:
        p["missing"] = counter_queries.problems_for_approval(p)
    return page(
        request,
        "counter.html",
        title=f"Counter message for rumour r{rumour['id']}",
        rumour=rumour,
        claim=_claim(rumour),
        plans=plans,
        editing=editing,
        facts=(list((editing or {}).get("facts") or []) + [{}] * counter_queries.MAX_FACTS)[
            : counter_queries.MAX_FACTS
        ],
        channels=counter_queries.CHANNELS,
        languages=counter_queries.LANGUAGES,
        templates=templates,
        template_problem=template_problem,
        error=error,
        message=message,
        now_local=request.app[WEB].clock().astimezone(LONDON).strftime("%Y-%m-%dT%H:%M"),
    )


@routes.get("/rumours/{rumour_id}/counter", name="counter")
async def planner_page(request: web.Request) -> web.Response:
    rumour_id = rumour_id_of(request)
    rumour = await _rumour(request, rumour_id)
    note_audit(request, rumour_id=rumour_id)
    return await _planner(
        request,
        rumour,
        message=MESSAGES.get(request.query.get("done", "")),
        error=counter_queries.ERRORS.get(request.query.get("error", "")),
    )


@routes.post("/rumours/{rumour_id}/counter", name="counter_save")
async def planner_save(request: web.Request) -> web.StreamResponse:
    session = require_session(request)
    rumour_id = rumour_id_of(request)
    rumour = await _rumour(request, rumour_id)
    form = await request.post()
    data = counter_queries.PlanInput.from_form(form)
    plan_id = parse_id(str(form.get("plan_id", "")))
    rt = request.app[RUNTIME]
    if form.get("do") == "fill":
        templates, _ = load_templates(rt.home)
        chosen = next((t for t in templates if t.id == data.template), templates[0])
        draft = fill(
            chosen,
            claim=data.claim or str(rumour.get("claim_text") or ""),
            places=counter_queries.places_of(rumour),
            facts=data.facts,
            messengers=data.messengers,
        )
        data = counter_queries.PlanInput(
            data.claim, data.facts, data.messengers, data.channels, chosen.id, draft
        )
    now = request.app[WEB].clock()
    try:
        async with rt.engine.begin() as conn:
            plan_id = await counter_queries.save(
                conn, rumour_id, plan_id, data, session.user.username, now
            )
    except counter_queries.PlanError as exc:
        raise _back(rumour_id, plan_id, error=exc.code) from None
    raise _back(rumour_id, plan_id, done="filled" if form.get("do") == "fill" else "saved")


def plan_id_of(request: web.Request) -> int:
    return path_id(request, "plan_id")


async def _plan_rumour(request: web.Request, plan_id: int) -> dict[str, Any]:
    async with request.app[RUNTIME].engine.connect() as conn:
        plan = await counter_queries.get_plan(conn, plan_id)
    if plan is None:
        raise web.HTTPNotFound(text="no such plan")
    return await _rumour(request, plan["rumour_id"])


@routes.post("/counter-plans/{plan_id}/approve", name="counter_approve")
async def approve(request: web.Request) -> web.StreamResponse:
    session = require_session(request)
    plan_id = plan_id_of(request)
    rumour = await _plan_rumour(request, plan_id)
    try:
        async with request.app[RUNTIME].engine.begin() as conn:
            await counter_queries.approve(
                conn, plan_id, session.user.username, request.app[WEB].clock()
            )
    except counter_queries.PlanError as exc:
        raise _back(rumour["id"], plan_id, error=exc.code) from None
    raise _back(rumour["id"], plan_id, done="approved")


def parse_local(value: str) -> datetime | None:
    """A `datetime-local` form value, read as UK time, on a day `within_calendar`
    (a year typed as 0026 was stored, and the rumour's before/after view then stepped six hours
    back past the calendar's start: a 500 on its page from then on)."""
    try:
        when = datetime.fromisoformat(value).replace(tzinfo=LONDON)
    except ValueError:
        return None
    return when if within_calendar(when.date()) else None


@routes.post("/counter-plans/{plan_id}/publish", name="counter_publish")
async def publish(request: web.Request) -> web.StreamResponse:
    session = require_session(request)
    plan_id = plan_id_of(request)
    rumour = await _plan_rumour(request, plan_id)
    form = await request.post()
    when = parse_local(str(form.get("published_at", "")))
    if when is None:
        raise _back(rumour["id"], plan_id, error="time")
    try:
        async with request.app[RUNTIME].engine.begin() as conn:
            await counter_queries.publish(
                conn,
                plan_id,
                session.user.username,
                when,
                str(form.get("channel", "")),
                str(form.get("url", "")),
                request.app[WEB].clock(),
            )
    except counter_queries.PlanError as exc:
        raise _back(rumour["id"], plan_id, error=exc.code) from None
    raise _back(rumour["id"], plan_id, done="published")


@routes.post("/counter-plans/{plan_id}/versions", name="counter_version")
async def save_version(request: web.Request) -> web.StreamResponse:
    """The plan's text in another language (empty text removes that version)."""
    session = require_session(request)
    plan_id = plan_id_of(request)
    rumour = await _plan_rumour(request, plan_id)
    form = await request.post()
    try:
        async with request.app[RUNTIME].engine.begin() as conn:
            await counter_queries.save_version(
                conn,
                plan_id,
                str(form.get("language", "")),
                str(form.get("text", "")),
                session.user.username,
                request.app[WEB].clock(),
            )
    except counter_queries.PlanError as exc:
        raise _back(rumour["id"], plan_id, error=exc.code) from None
    raise _back(rumour["id"], plan_id, done="version")
