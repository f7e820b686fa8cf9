"""The review queue of incidents (the stories people review), one incident with its alerts,
responses and timeline, and an analyst's merge and split; pages and the JSON API.

A rumour incident's headline is its claim as posted, so these views are evidence views (a
purpose, and every view audited); the alerts inside are one click away, each with its own
evidence page and repeated-viewing guard.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.classify.languages import not_scored_notes
from monitor.incidents import queries
from monitor.incidents import store as incident_store
from monitor.incidents.stage import IncidentStage
from monitor.runtime.state import RUNTIME
from monitor.store import languages as language_store
from monitor.store.tables import counter_messages
from monitor.web.notices import problem_query, problem_shown
from monitor.web.params import json_object, parse_id, path_id
from monitor.web.queries import evidence as evidence_queries
from monitor.web.render import page
from monitor.web.state import WEB, note_audit, require_session
from monitor.web.views.api import reply
from monitor.web.views.justify import guard_evidence

routes = web.RouteTableDef()

MESSAGES = {
    "merged": "Merged: the incidents are one story now; the engine keeps them together.",
    "split": "Split: the alerts you chose are a new incident; the engine keeps them apart.",
}
MAX_REASON = 300


def _filters(request: web.Request) -> dict[str, str]:
    status = request.query.get("status", "shown")
    return {
        "status": status if status in queries.STATUS_CHOICES else "shown",
        "kind": request.query.get("kind", "")[:60],
        "area": request.query.get("area", "")[:200],
    }


async def _list(request: web.Request) -> tuple[list[dict[str, Any]], dict[str, str]]:
    f = _filters(request)
    k = request.app[RUNTIME].settings.privacy_min_count
    async with request.app[RUNTIME].engine.connect() as conn:
        rows = await queries.list_incidents(conn, f["status"], k=k, kind=f["kind"], area=f["area"])
    note_audit(request, incidents_shown=len(rows))
    return rows, f


async def _one(request: web.Request) -> dict[str, Any]:
    incident_id = path_id(request, "incident_id")
    k = request.app[RUNTIME].settings.privacy_min_count
    async with request.app[RUNTIME].engine.connect() as conn:
        incident = await queries.get_incident(conn, incident_id, k=k)
        if incident is None:
            raise web.HTTPNotFound(text="no such incident")
        incident["counter_messages"] = []
        if incident.get("cluster") is not None:
            rows = await conn.execute(
                select(
                    counter_messages.c.id,
                    counter_messages.c.published_at,
                    counter_messages.c.channel,
                    counter_messages.c.url,
                )
                .where(counter_messages.c.rumour_id == incident["cluster"])
                .order_by(counter_messages.c.published_at)
            )
            incident["counter_messages"] = [dict(r._mapping) for r in rows]
        incident["not_scored"] = await _not_scored(request, conn, incident)
    note_audit(request, incident_id=incident_id, alerts_listed=len(incident["alerts"]))
    return incident


async def _not_scored(
    request: web.Request, conn: AsyncConnection, incident: dict[str, Any]
) -> list[str]:
    """Posts in its wards and time the classifier could not read (their language is not one it
    covers): the story may have more to it than the flags show."""
    wards = [w for w in incident.get("wards") or [] if w]
    if not wards:
        return []
    covered = getattr(request.app[RUNTIME].classifier, "covered_languages", None)
    counts = await language_store.not_scored(
        conn,
        covered,
        since=incident["first_seen"],
        until=incident["last_seen"] + timedelta(seconds=1),
        wards=wards,
    )
    return not_scored_notes(counts)


@routes.get("/incidents", name="incidents")
async def incidents_page(request: web.Request) -> web.Response:
    rows, f = await _list(request)
    return page(
        request,
        "incidents.html",
        title="Review queue",
        incidents=rows,
        filters=f,
        statuses=queries.STATUS_CHOICES,
        since=request.app[WEB].clock(),
    )


# Who sees an incident's posts: those who may open an alert's evidence, and comms staff for a
# rumour's (they see its posts on the rumour board already), never an episode's.
POST_ROLES = frozenset({"admin", "analyst"})


async def _posts(request: web.Request, incident: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The incident's posts as its page lists them (None: not for this user), after the
    repeated-viewing guard and the platform re-check of its alerts' old posts."""
    role = require_session(request).user.role
    if role not in POST_ROLES and not (role == "comms" and incident.get("family") == "rumour"):
        return None
    await guard_evidence(request, f"incident:{incident['id']}")
    rt = request.app[RUNTIME]
    if rt.recheck is not None:  # old posts deleted or hidden on their platform are purged first
        await rt.recheck.verify_alerts(
            [a["id"] for a in incident["alerts"]], request.app[WEB].clock()
        )
    official = IncidentStage.from_settings(rt.settings, rt.home).official_names
    async with rt.engine.connect() as conn:
        rows = await conn.run_sync(
            evidence_queries.incident_posts_sync, int(incident["id"]), official
        )
    note_audit(request, posts_shown=len(rows))
    return rows


@routes.get("/incidents/{incident_id}", name="incident")
async def incident_page(request: web.Request) -> web.Response:
    incident = await _one(request)
    posts = await _posts(request, incident)
    done = request.query.get("done", "")
    return page(
        request,
        "incident.html",
        title=f"Incident {incident['id']}",
        incident=incident,
        posts=posts,
        message=MESSAGES.get(done),
        problem=problem_shown(request),
    )


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return await json_object(request)
    form = await request.post()
    return {
        "reason": form.get("reason", ""),
        "incidents": [str(v) for v in form.getall("incidents", [])],
        "alerts": [str(v) for v in form.getall("alerts", [])],
    }


def _ids(values: Any) -> list[int]:
    if isinstance(values, str | int):
        values = [values]
    if not isinstance(values, list):
        return []
    out = []
    for v in values:
        for part in str(v).replace(",", " ").split():
            number = parse_id(part.strip().lstrip("#"))
            if number is None:
                raise ValueError(f"{part!r} is not an incident or alert number")
            out.append(number)
    return out


async def _apply(request: web.Request, action: str) -> tuple[bool, str, int]:
    """Merge or split as the signed-in analyst; (ok, message, incident to show)."""
    session = require_session(request)
    incident_id = path_id(request, "incident_id")
    data = await _body(request)
    reason = " ".join(str(data.get("reason") or "").split())[:MAX_REASON]
    if len(reason) < 3:
        return False, "Say why (a few words are enough).", incident_id
    try:
        ids = _ids(data.get("incidents" if action == "merge" else "alerts"))
    except ValueError as exc:
        return False, str(exc), incident_id
    rt = request.app[RUNTIME]
    now = request.app[WEB].clock()
    stage = IncidentStage.from_settings(rt.settings, rt.home)
    try:
        async with rt.engine.begin() as conn:
            if action == "merge":
                await conn.run_sync(
                    incident_store.merge, incident_id, ids, session.user.username, reason, now
                )
                shown = incident_id
            else:
                shown = await conn.run_sync(
                    incident_store.split, incident_id, ids, session.user.username, reason, now
                )
            # Redescribe at once (headline, places, counts) rather than at the next batch.
            await conn.run_sync(incident_store.refresh, stage.config, now, stage.official_names)
    except incident_store.IncidentError as exc:
        return False, str(exc), incident_id
    return True, "merged" if action == "merge" else "split", shown


@routes.post("/incidents/{incident_id}/merge", name="incident_merge")
async def merge_form(request: web.Request) -> web.Response:
    ok, message, shown = await _apply(request, "merge")
    return _back(request, ok, message, shown)


@routes.post("/incidents/{incident_id}/split", name="incident_split")
async def split_form(request: web.Request) -> web.Response:
    ok, message, shown = await _apply(request, "split")
    return _back(request, ok, message, shown)


def _back(request: web.Request, ok: bool, message: str, shown: int) -> web.Response:
    query = f"done={message}" if ok else problem_query(request, message)
    raise web.HTTPSeeOther(f"/incidents/{shown}?{query}")


# --- JSON API ------------------------------------------------------------------------------


@routes.get("/api/v1/incidents", name="api_incidents")
async def incidents_api(request: web.Request) -> web.Response:
    rows, f = await _list(request)
    return reply({"filters": f, "incidents": rows})


@routes.get("/api/v1/incidents/{incident_id}", name="api_incident")
async def incident_api(request: web.Request) -> web.Response:
    return reply(await _one(request))


@routes.post("/api/v1/incidents/{incident_id}/merge", name="api_incident_merge")
async def merge_api(request: web.Request) -> web.Response:
    ok, message, shown = await _apply(request, "merge")
    return _outcome(ok, message, shown)


@routes.post("/api/v1/incidents/{incident_id}/split", name="api_incident_split")
async def split_api(request: web.Request) -> web.Response:
    ok, message, shown = await _apply(request, "split")
    return _outcome(ok, message, shown)


def _outcome(ok: bool, message: str, shown: int) -> web.Response:
    if ok:
        return reply({"ok": True, "code": message, "incident": shown, "message": MESSAGES[message]})
    return reply({"ok": False, "code": "refused", "message": message}, 409)
