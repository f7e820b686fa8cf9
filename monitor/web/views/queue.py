"""The review queue: the list (no post text), the alert with its evidence, the lock, and what an
analyst does from a row or a selection (take, dismiss with one reason, escalate).

Every form carries the queue's filters in its URL and the row to focus next, so after an action
the analyst is back on the same filtered list with the keyboard on the next alert.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from monitor.alerts.config import AlertConfig
from monitor.alerts.service import load_alert_config
from monitor.runtime.state import RUNTIME
from monitor.web.charts import against_baseline
from monitor.web.explain import current_ruleset, reasons
from monitor.web.params import json_object, parse_id, path_id
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
    "escalated": "Escalated: the receiver is told now; the alert stays with you.",
    "receiver": "Choose who to escalate to.",
    "bulk": "Dismissed the selected alerts with one reason.",
    "bulk_some": "Dismissed some of the selected alerts; the others are held by someone else "
    "or already closed.",
    "bulk_none": "None of the selected alerts could be dismissed: choose a reason (for "
    "'Other', say why) and alerts that are open and not held by someone else.",
    "none_selected": "Select the alerts to dismiss first.",
}
GOOD = frozenset({"taken", "released", "dismissed", "actioned", "escalated", "bulk"})
BACK_KEYS = ("status", "area", "kind", "level")


def back_query(query: Mapping[str, str], focus: int | None = None) -> str:
    """The queue's filters (and the row to focus) as a query string, to carry through a form
    and back: an action never drops the filter in use."""
    filters = alert_queries.Filters.from_query(query)
    values = {k: getattr(filters, k) for k in BACK_KEYS}
    pairs = [(k, v) for k, v in values.items() if v and not (k == "status" and v == "open")]
    if focus is None:
        focus = parse_id(query.get("focus"))
    if focus is not None:
        pairs.append(("focus", str(focus)))
    return urlencode(pairs)


def _with(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


def alert_config(request: web.Request) -> tuple[AlertConfig, Mapping[str, str]]:
    """The routing file's receivers (the running alert service's, else read from disk)."""
    rt = request.app[RUNTIME]
    if rt.alerts is not None:
        return rt.alerts.config, rt.alerts.environ
    return load_alert_config(rt.settings, rt.home), os.environ


def alert_id_of(request: web.Request) -> int:
    return path_id(request, "alert_id")


@routes.get("/queue", name="queue")
async def queue_page(request: web.Request) -> web.Response:
    filters = alert_queries.Filters.from_query(request.query)
    async with request.app[RUNTIME].engine.connect() as conn:
        rows = await alert_queries.list_alerts(conn, filters)
        facets = await alert_queries.facets(conn)
    done = request.query.get("done", "")
    for i, row in enumerate(rows):  # after acting on a row, the keyboard lands on the next one
        after = rows[i + 1] if i + 1 < len(rows) else rows[i - 1] if i else None
        row["back"] = back_query(request.query, after["id"] if after else None)
    focus = parse_id(request.query.get("focus"))
    return page(
        request,
        "queue.html",
        title="Review queue",
        alerts=rows,
        filters=filters,
        facets=facets,
        statuses=alert_queries.STATUS_CHOICES,
        reasons_list=review.DISMISS_REASONS,
        message=MESSAGES.get(done),
        problem=done in MESSAGES and done not in GOOD,
        done_alert=request.query.get("alert", "")[:12],
        back=back_query(request.query),
        focus=focus,
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
    rule = getattr(rt.classifier, "sentence_rule", None)  # the keyword classifier has none
    for row in alert["evidence"]:
        row["reasons"] = reasons(
            row, ruleset, rt.classifier.thresholds, rule.threshold if rule is not None else None
        )
    async with request.app[RUNTIME].engine.connect() as conn:
        alert["escalations"] = await review.escalations(conn, alert_id)
    note_audit(request, alert_id=alert_id, posts_shown=len(alert["evidence"]))
    return alert


@routes.get("/alerts/{alert_id}", name="alert")
async def alert_page(request: web.Request) -> web.Response:
    alert = await load_alert(request, alert_id_of(request))
    charts = [against_baseline(c["series"]) for c in alert["level_changes"]]
    done = request.query.get("done", "")
    config, environ = alert_config(request)
    return page(
        request,
        "alert.html",
        title=f"Alert {alert['id']}",
        alert=alert,
        charts=charts,
        reasons_list=review.DISMISS_REASONS,
        targets=review.escalation_targets(config, environ),
        back=back_query(request.query),
        crumb=back_query(request.query, alert["id"]),
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
        if kind == "escalate":
            config, environ = alert_config(request)
            receiver = str(data.get("receiver") or "")
            return await review.escalate(
                conn, config, environ, alert_id, actor, receiver, note, now
            )
        return await review.action(conn, alert_id, actor, note, now)


def _after(request: web.Request, outcome: review.Outcome) -> web.HTTPSeeOther:
    """Back to the queue with its filters when the alert is done (the next row focused) or the
    action came from a row (that row focused); else back to the alert."""
    alert_id = alert_id_of(request)
    done = urlencode({"done": outcome.code, "alert": alert_id})
    if outcome.ok and outcome.code in ("dismissed", "actioned"):
        back = back_query(request.query)
    elif request.query.get("from") == "queue":
        back = back_query(request.query, alert_id)
    else:
        back = "&".join(q for q in (back_query(request.query), f"done={outcome.code}") if q)
        return web.HTTPSeeOther(f"/alerts/{alert_id}?{back}")
    return web.HTTPSeeOther("/queue?" + "&".join(q for q in (back, done) if q))


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


@routes.post("/alerts/{alert_id}/escalate", name="alert_escalate")
async def escalate_submit(request: web.Request) -> web.StreamResponse:
    raise _after(request, await change(request, "escalate"))


async def dismiss_selected(request: web.Request) -> dict[int, review.Outcome]:
    """Dismiss the selected alerts (form field or JSON list `alerts`) with one reason."""
    session = require_session(request)
    if request.content_type == "application/json":
        data: Any = await json_object(request)
        raw = data.get("alerts")
        chosen = raw if isinstance(raw, list) else []
    else:
        data = await request.post()
        chosen = list(data.getall("alerts", []))
    ids = [i for i in (parse_id(str(v)) for v in chosen[:500]) if i is not None]
    if not ids:
        return {}
    now = request.app[WEB].clock()
    reason, note = str(data.get("reason") or ""), str(data.get("note") or "")
    async with request.app[RUNTIME].engine.begin() as conn:
        return await review.dismiss_many(conn, ids, session.user.username, reason, note, now)


@routes.post("/queue/dismiss", name="queue_dismiss")
async def dismiss_selected_submit(request: web.Request) -> web.StreamResponse:
    outcomes = await dismiss_selected(request)
    done = sum(o.ok for o in outcomes.values())
    code = (
        "none_selected"
        if not outcomes
        else "bulk"
        if done == len(outcomes)
        else "bulk_some"
        if done
        else "bulk_none"
    )
    query = "&".join(q for q in (back_query(request.query), urlencode({"done": code})) if q)
    raise web.HTTPSeeOther(f"/queue?{query}")
