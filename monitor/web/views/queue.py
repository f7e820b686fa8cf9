"""The review queue: the list (no post text), the alert with its evidence, and the lock."""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp import web

from monitor.app import RUNTIME
from monitor.web.charts import against_baseline
from monitor.web.explain import current_ruleset, reasons
from monitor.web.params import json_object, path_id
from monitor.web.queries import alerts as alert_queries
from monitor.web.queries import evidence as evidence_queries
from monitor.web.queries import review
from monitor.web.render import page
from monitor.web.state import WEB, note_audit, require_session
from monitor.web.views.justify import guard_evidence

routes = web.RouteTableDef()

MESSAGES = {
    "taken": "You hold this alert now; others see it as locked by you.",
    "released": "Released: the alert is back in the queue for anyone.",
    "dismissed": "Dismissed. The reason is kept to improve the rules and the classifier.",
    "actioned": "Marked as actioned.",
    "locked": "Someone else holds this alert.",
    "yours": "You already hold this alert.",
    "closed": "This alert is already closed.",
    "not_held": "Take the alert first: nobody holds it.",
    "reason": "Choose a reason for dismissing (and for 'Other', say why).",
    "note": "Say what was done, for example: passed to the police liaison officer.",
    "missing": "There is no such alert.",
}
GOOD = frozenset({"taken", "released", "dismissed", "actioned"})


def alert_id_of(request: web.Request) -> int:
    return path_id(request, "alert_id")


@routes.get("/queue", name="queue")
async def queue_page(request: web.Request) -> web.Response:
    filters = alert_queries.Filters.from_query(request.query)
    async with request.app[RUNTIME].engine.connect() as conn:
        rows = await alert_queries.list_alerts(conn, filters)
        facets = await alert_queries.facets(conn)
    done = request.query.get("done", "")
    return page(
        request,
        "queue.html",
        title="Review queue",
        alerts=rows,
        filters=filters,
        facets=facets,
        statuses=alert_queries.STATUS_CHOICES,
        message=MESSAGES.get(done),
        done_alert=request.query.get("alert", "")[:12],
        since=request.app[WEB].clock(),
    )


async def load_alert(request: web.Request, alert_id: int) -> dict[str, Any]:
    await guard_evidence(request, f"alert:{alert_id}")  # repeated-viewing guard (privacy)
    recheck = request.app[RUNTIME].recheck
    if recheck is not None:  # old posts deleted or hidden on their platform are purged first
        await recheck.verify_alerts([alert_id], request.app[WEB].clock())
    async with request.app[RUNTIME].engine.connect() as conn:
        alert = await alert_queries.get_alert(conn, alert_id)
        if alert is None:
            raise web.HTTPNotFound(text="no such alert")
        alert["evidence"] = await evidence_queries.alert_evidence(conn, alert_id)
        alert["level_changes"] = await alert_queries.level_explanations(conn, alert_id)
    rt = request.app[RUNTIME]
    ruleset = current_ruleset(rt.rules)
    for row in alert["evidence"]:
        row["reasons"] = reasons(row, ruleset, rt.classifier.thresholds)
    note_audit(request, alert_id=alert_id, posts_shown=len(alert["evidence"]))
    return alert


@routes.get("/alerts/{alert_id}", name="alert")
async def alert_page(request: web.Request) -> web.Response:
    alert = await load_alert(request, alert_id_of(request))
    charts = [against_baseline(c["series"]) for c in alert["level_changes"]]
    done = request.query.get("done", "")
    return page(
        request,
        "alert.html",
        title=f"Alert {alert['id']}",
        alert=alert,
        charts=charts,
        reasons_list=review.DISMISS_REASONS,
        message=MESSAGES.get(done),
        problem=done in MESSAGES and done not in GOOD,
    )


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@routes.get("/alerts/{alert_id}/evidence.csv", name="alert_csv")
async def alert_csv(request: web.Request) -> web.Response:
    alert = await load_alert(request, alert_id_of(request))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["alert", "post", "created_at", "places", "rules", "excerpt"])
    for row in alert["evidence"]:
        places = "; ".join(p["name"] for p in row["places"])
        created = row["created_at"].isoformat() if row["created_at"] else ""
        writer.writerow(
            [
                _cell(v)
                for v in (
                    alert["id"],
                    row["ref"],
                    created,
                    places,
                    " ".join(row["rules"]),
                    row["excerpt"],
                )
            ]
        )
    name = f"alert-{alert['id']}-evidence.csv"
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def change(request: web.Request, kind: str) -> review.Outcome:
    """Apply one review change from a form or JSON body; returns what happened."""
    session = require_session(request)
    alert_id = alert_id_of(request)
    if request.content_type == "application/json":
        data: Any = await json_object(request)
    else:
        data = await request.post()
    actor = session.user.username
    note = str(data.get("note") or "")
    now = request.app[WEB].clock()
    async with request.app[RUNTIME].engine.begin() as conn:
        if kind == "take":
            force = str(data.get("force", "")) == "1" and session.user.role == "admin"
            return await review.take(conn, alert_id, actor, now, force=force)
        if kind == "release":
            return await review.release(conn, alert_id, actor, now)
        if kind == "dismiss":
            reason = str(data.get("reason") or "")
            return await review.dismiss(conn, alert_id, actor, reason, note, now)
        return await review.action(conn, alert_id, actor, note, now)


def _after(request: web.Request, outcome: review.Outcome) -> web.HTTPSeeOther:
    alert_id = alert_id_of(request)
    if outcome.ok and outcome.code in ("dismissed", "actioned"):
        return web.HTTPSeeOther(f"/queue?done={outcome.code}&alert={alert_id}")
    if request.query.get("from") == "queue" and outcome.code != "taken":
        return web.HTTPSeeOther(f"/queue?done={outcome.code}&alert={alert_id}")
    return web.HTTPSeeOther(f"/alerts/{alert_id}?done={outcome.code}")


@routes.post("/alerts/{alert_id}/take", name="alert_take")
async def take_submit(request: web.Request) -> web.StreamResponse:
    raise _after(request, await change(request, "take"))


@routes.post("/alerts/{alert_id}/release", name="alert_release")
async def release_submit(request: web.Request) -> web.StreamResponse:
    raise _after(request, await change(request, "release"))


@routes.post("/alerts/{alert_id}/dismiss", name="alert_dismiss")
async def dismiss_submit(request: web.Request) -> web.StreamResponse:
    raise _after(request, await change(request, "dismiss"))


@routes.post("/alerts/{alert_id}/action", name="alert_action")
async def action_submit(request: web.Request) -> web.StreamResponse:
    raise _after(request, await change(request, "action"))
