"""The JSON API under /api/v1/, described by /api/v1/openapi.json.

It signs in like the pages (the session cookie) and is guarded by the same permission table:
state-changing calls send the session's CSRF token in `X-CSRF-Token` (from /api/v1/me), and
evidence needs a purpose stated with POST /api/v1/purpose.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aiohttp import web

from monitor.incidents import queries as incident_queries
from monitor.runtime.state import RUNTIME
from monitor.safeguards import audit
from monitor.store import overview
from monitor.store import signals as signal_store
from monitor.web.explain import current_ruleset
from monitor.web.openapi import document
from monitor.web.params import json_object, parse_id
from monitor.web.queries import alerts as alert_queries
from monitor.web.queries import areas as area_queries
from monitor.web.queries import rumours as rumour_queries
from monitor.web.state import WEB, require_session
from monitor.web.views.admin import source_rows
from monitor.web.views.areas import level_names
from monitor.web.views.auth import set_purpose
from monitor.web.views.digests import recent_runs
from monitor.web.views.queue import change, dismiss_selected, load_alert

routes = web.RouteTableDef()


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return None
    return value


def reply(data: Any, status: int = 200) -> web.Response:
    return web.json_response(jsonable(data), status=status)


@routes.get("/api/v1/openapi.json", name="api_openapi")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())


@routes.get("/api/v1/me", name="api_me")
async def me(request: web.Request) -> web.Response:
    session = require_session(request)
    now = request.app[WEB].clock()
    return reply(
        {
            "username": session.user.username,
            "role": session.user.role,
            "csrf_token": session.csrf_token,
            "purpose": session.purpose_at(now),
            "purpose_until": session.purpose_until if session.purpose_at(now) else None,
        }
    )


@routes.post("/api/v1/purpose", name="api_purpose")
async def purpose(request: web.Request) -> web.Response:
    session = require_session(request)
    body = await json_object(request)
    given = body.get("purpose", "")
    text = " ".join(str(given).split())[:300]
    if len(text) < 5:
        return reply({"error": "give a purpose of at least 5 characters"}, 400)
    await set_purpose(request, session.id, text)
    return reply({"purpose": text})


@routes.get("/api/v1/overview", name="api_overview")
async def overview_api(request: web.Request) -> web.Response:
    async with request.app[RUNTIME].engine.connect() as conn:
        totals = await overview.totals(conn)
        places = await overview.places(
            conn, min_count=request.app[RUNTIME].settings.privacy_min_count
        )
        stories = await incident_queries.count_shown(conn)
    return reply(
        {
            "posts": totals.posts,
            "processed": totals.processed,
            "flagged": totals.flagged,
            "open_alerts": totals.open_alerts,
            "open_incidents": stories,
            "places": places,
        }
    )


@routes.get("/api/v1/areas", name="api_areas")
async def areas_api(request: web.Request) -> web.Response:
    async with request.app[RUNTIME].engine.connect() as conn:
        table = await area_queries.area_table(
            conn,
            level_names(request.app[WEB])[0],
            min_count=request.app[RUNTIME].settings.privacy_min_count,
        )
        history = await area_queries.level_history(
            conn, limit=100, min_count=request.app[RUNTIME].settings.privacy_min_count
        )
    return reply({"wards": table["ward"], "localities": table["locality"], "changes": history})


@routes.get("/api/v1/alerts", name="api_alerts")
async def alerts_api(request: web.Request) -> web.Response:
    filters = alert_queries.Filters.from_query(request.query)
    async with request.app[RUNTIME].engine.connect() as conn:
        rows = await alert_queries.list_alerts(conn, filters)
    return reply({"alerts": [alert_queries.public_view(r) for r in rows]})


@routes.get("/api/v1/alerts/{alert_id}", name="api_alert")
async def alert_api(request: web.Request) -> web.Response:
    from monitor.web.views.queue import alert_id_of

    alert = await load_alert(request, alert_id_of(request))
    evidence = [
        {
            "post": e["ref"],
            "created_at": e["created_at"],
            "excerpt": e["excerpt"],
            "places": [p["name"] for p in e["places"]],
            "labels": e["labels"],
            "scores": e["scores"],
            "flags": e["flags"],
            "rules": e["rules"],
            "reasons": [
                {"source": r.source, "title": r.title, "fires_now": r.fired_now, "lines": r.lines}
                for r in e["reasons"]
            ],
        }
        for e in alert["evidence"]
    ]
    body = alert_queries.public_view({k: v for k, v in alert.items() if k != "evidence"})
    return reply({**body, "evidence": evidence})


def _outcome(outcome: Any) -> web.Response:
    status = 200 if outcome.ok else (404 if outcome.code == "missing" else 409)
    return reply({"ok": outcome.ok, "code": outcome.code, "message": outcome.message}, status)


@routes.post("/api/v1/alerts/{alert_id}/take", name="api_alert_take")
async def take_api(request: web.Request) -> web.Response:
    return _outcome(await change(request, "take"))


@routes.post("/api/v1/alerts/{alert_id}/release", name="api_alert_release")
async def release_api(request: web.Request) -> web.Response:
    return _outcome(await change(request, "release"))


@routes.post("/api/v1/alerts/{alert_id}/dismiss", name="api_alert_dismiss")
async def dismiss_api(request: web.Request) -> web.Response:
    return _outcome(await change(request, "dismiss"))


@routes.post("/api/v1/alerts/{alert_id}/action", name="api_alert_action")
async def action_api(request: web.Request) -> web.Response:
    return _outcome(await change(request, "action"))


@routes.post("/api/v1/alerts/{alert_id}/escalate", name="api_alert_escalate")
async def escalate_api(request: web.Request) -> web.Response:
    return _outcome(await change(request, "escalate"))


@routes.post("/api/v1/alerts/dismiss", name="api_alerts_dismiss")
async def dismiss_selected_api(request: web.Request) -> web.Response:
    outcomes = await dismiss_selected(request)
    if not outcomes:
        return reply({"error": "name the alerts to dismiss: {alerts: [id, ...]}"}, 400)
    results = [
        {"alert": alert_id, "ok": o.ok, "code": o.code, "message": o.message}
        for alert_id, o in outcomes.items()
    ]
    return reply({"dismissed": sum(o.ok for o in outcomes.values()), "results": results})


@routes.get("/api/v1/rumours", name="api_rumours")
async def rumours_api(request: web.Request) -> web.Response:
    async with request.app[RUNTIME].engine.connect() as conn:
        missing = await signal_store.missing_signal_tables(conn)
        rows = [] if missing else await rumour_queries.board(conn, request.query.get("status"))
    return reply({"rumours": rows})


@routes.get("/api/v1/rumours/{rumour_id}", name="api_rumour")
async def rumour_api(request: web.Request) -> web.Response:
    from monitor.web.views.rumours import load_rumour, rumour_id_of

    try:
        view = await load_rumour(request, rumour_id_of(request))
    except web.HTTPNotFound:
        return reply({"error": "no such rumour"}, 404)
    counters = view["counters"]
    for c in counters:
        effect = c.pop("effect")
        c["before_per_hour"] = effect.before_per_hour
        c["after_per_hour"] = effect.after_per_hour
        c["change"] = effect.change
        c["caveat"] = effect.caveat
    rumour = view["rumour"]
    rumour_queries.hide_post_ids(rumour)  # stored ids name their authors
    body = {"timeline": view["timeline"], "examples": view["examples"], "counters": counters}
    return reply({**rumour, **body})


@routes.get("/api/v1/sources", name="api_sources")
async def sources_api(request: web.Request) -> web.Response:
    return reply({"sources": await source_rows(request)})


@routes.get("/api/v1/rules", name="api_rules")
async def rules_api(request: web.Request) -> web.Response:
    ruleset = current_ruleset(request.app[RUNTIME].rules)
    packs = []
    for pack in ruleset.packs if ruleset is not None else ():
        packs.append(
            {
                "id": pack.id,
                "version": pack.version,
                "owner": pack.owner,
                "purpose": pack.purpose,
                "review_by": pack.review_by,
                "rules": [
                    {
                        "id": r.id,
                        "description": r.description,
                        "labels": dict(r.labels),
                        "query": r.query.source if r.query else None,
                        "enabled": r.enabled,
                        "windowed": r.window is not None,
                        "file": f"{r.file}:{r.line}",
                    }
                    for r in pack.rules
                ],
            }
        )
    return reply({"packs": packs})


@routes.get("/api/v1/digests", name="api_digests")
async def digests_api(request: web.Request) -> web.Response:
    async with request.app[RUNTIME].engine.connect() as conn:
        runs = await recent_runs(conn)
    return reply({"digests": runs})


@routes.get("/api/v1/audit", name="api_audit")
async def audit_api(request: web.Request) -> web.Response:
    before = request.query.get("before", "")
    async with request.app[RUNTIME].engine.connect() as conn:
        events = await audit.recent(conn, 100, parse_id(before))
        count, head = await audit.head(conn)
    return reply(
        {
            "count": count,
            "head": head,
            "events": [
                {
                    "id": e.id,
                    "at": e.at,
                    "actor": e.actor,
                    "action": e.action,
                    "purpose": e.purpose,
                    "detail": e.detail,
                    "hash": e.hash,
                }
                for e in events
            ],
        }
    )
