"""Admin: silences (create from an alert or incident, list, expire) and where a label set goes.

Silences are the store's (`monitor.alerts.silence_store`): each one states why and must end,
and adding or expiring one writes the audit log in the same transaction, as the command line
does. Routing answers what `monitor alerts route` answers, from the routing file in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from monitor.alerts.config import AlertConfig, AlertConfigError, load_config, parse_duration
from monitor.alerts.matchers import MatcherError
from monitor.alerts.routing import Route
from monitor.alerts.silence_store import add_silence, expire_silence, load_silences
from monitor.alerts.silences import Silence, SilenceError
from monitor.config import alerts_routing_file
from monitor.runtime.state import RUNTIME
from monitor.store.tables import alerts, incidents
from monitor.web.params import json_object, parse_id, path_id
from monitor.web.render import page
from monitor.web.state import WEB, require_session

routes = web.RouteTableDef()
LONDON = ZoneInfo("Europe/London")
DURATIONS = (
    ("1h", "1 hour"),
    ("4h", "4 hours"),
    ("1d", "1 day"),
    ("3d", "3 days"),
    ("7d", "7 days"),
)
# Labels that say what an alert is about; an alert's own id-like labels make poor silences.
SILENCE_LABELS = ("kind", "area", "topic")


# --- silences -----------------------------------------------------------------------------------


def silence_state(s: Silence, now: datetime) -> str:
    if s.expired_at is not None:
        return "expired"
    if s.ends_at <= now:
        return "ended"
    return "active" if s.active(now) else "pending"


def silence_row(s: Silence, now: datetime) -> dict[str, Any]:
    return {
        "id": s.id,
        "matchers": [str(m) for m in s.matchers],
        "reason": s.reason,
        "created_by": s.created_by,
        "starts_at": s.starts_at,
        "ends_at": s.ends_at,
        "expired_at": s.expired_at,
        "state": silence_state(s, now),
    }


async def suggested_matchers(
    request: web.Request, alert: int | None, incident: int | None
) -> list[str]:
    """Matchers for a silence made from an alert (its kind, area and topic) or an incident (the
    `incident` label routing sees on each of its alerts)."""
    async with request.app[RUNTIME].engine.connect() as conn:
        if incident is not None:
            found = (
                await conn.execute(select(incidents.c.id).where(incidents.c.id == incident))
            ).first()
            return [f"incident={incident}"] if found else []
        if alert is not None:
            row = (await conn.execute(select(alerts.c.labels).where(alerts.c.id == alert))).first()
            if row is None:
                return []
            labels: Mapping[str, Any] = row.labels or {}
            return [f'{k}="{labels[k]}"' for k in SILENCE_LABELS if labels.get(k)]
    return []


def ends_at(starts: datetime, duration: str, until: str) -> datetime:
    """A silence's end from a duration ("4h") or a UK date and time; SilenceError if neither."""
    if until.strip():
        try:
            value = datetime.fromisoformat(until.strip())
        except ValueError:
            raise SilenceError(
                f"{until!r} is not a date and time (e.g. 2026-11-05T18:00)"
            ) from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=LONDON)
        return value
    if not duration.strip():
        raise SilenceError("say how long the silence lasts: a silence must end")
    try:
        return starts + parse_duration(duration.strip())
    except ValueError as exc:
        raise SilenceError(str(exc)) from None


def matcher_lines(value: Any) -> list[str]:
    if isinstance(value, list):
        items = [str(v) for v in value]
    else:
        items = str(value or "").splitlines()
    return [line.strip() for line in items if line.strip()][:20]


async def create_silence(
    request: web.Request, matchers: list[str], reason: str, duration: str, until: str
) -> tuple[int, datetime]:
    session = require_session(request)
    now = request.app[WEB].clock()
    end = ends_at(now, duration, until)
    try:
        async with request.app[RUNTIME].engine.begin() as conn:
            silence_id = await add_silence(
                conn,
                matchers=matchers,
                reason=reason[:1000],
                created_by=session.user.username,
                starts_at=now,
                ends_at=end,
                now=now,
            )
    except MatcherError as exc:
        raise SilenceError(str(exc)) from None
    return silence_id, end


async def end_silence(request: web.Request, silence_id: int, reason: str) -> None:
    session = require_session(request)
    async with request.app[RUNTIME].engine.begin() as conn:
        await expire_silence(
            conn,
            silence_id,
            by=session.user.username,
            reason=reason[:1000],
            now=request.app[WEB].clock(),
        )


async def silences_now(request: web.Request, show_all: bool) -> list[dict[str, Any]]:
    now = request.app[WEB].clock()
    async with request.app[RUNTIME].engine.connect() as conn:
        found = await load_silences(conn, now, include_ended=show_all)
    return [silence_row(s, now) for s in reversed(found)]


@routes.get("/admin/silences", name="silences")
async def silences_page(request: web.Request) -> web.Response:
    show_all = request.query.get("all") == "1"
    alert = parse_id(request.query.get("alert"))
    incident = parse_id(request.query.get("incident"))
    suggested = await suggested_matchers(request, alert, incident)
    done = parse_id(request.query.get("done"))
    expired = parse_id(request.query.get("expired"))
    return page(
        request,
        "admin_silences.html",
        title="Silences",
        silences=await silences_now(request, show_all),
        show_all=show_all,
        form={"matchers": "\n".join(suggested), "reason": "", "duration": "4h", "until": ""},
        source={"alert": alert, "incident": incident},
        durations=DURATIONS,
        done=done,
        expired=expired,
        problem=None,
    )


@routes.post("/admin/silences", name="silence_add")
async def silence_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    matchers = matcher_lines(form.get("matchers"))
    reason = str(form.get("reason", "")).strip()
    duration = str(form.get("duration", ""))
    until = str(form.get("until", ""))
    try:
        silence_id, _ = await create_silence(request, matchers, reason, duration, until)
    except SilenceError as exc:
        return page(
            request,
            "admin_silences.html",
            status=400,
            title="Silences",
            silences=await silences_now(request, False),
            show_all=False,
            form={
                "matchers": "\n".join(matchers),
                "reason": reason,
                "duration": duration,
                "until": until,
            },
            source={"alert": None, "incident": None},
            durations=DURATIONS,
            done=None,
            expired=None,
            problem=str(exc),
        )
    raise web.HTTPSeeOther(f"/admin/silences?done={silence_id}")


@routes.post("/admin/silences/{silence_id}/expire", name="silence_expire")
async def silence_expire(request: web.Request) -> web.StreamResponse:
    silence_id = path_id(request, "silence_id")
    form = await request.post()
    try:
        await end_silence(request, silence_id, str(form.get("reason", "")).strip())
    except SilenceError as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    raise web.HTTPSeeOther(f"/admin/silences?expired={silence_id}")


@routes.get("/api/v1/silences", name="api_silences")
async def api_silences(request: web.Request) -> web.Response:
    rows = await silences_now(request, request.query.get("all") == "1")
    return web.json_response({"silences": [_jsonable(r) for r in rows]})


@routes.post("/api/v1/silences", name="api_silence_add")
async def api_silence_add(request: web.Request) -> web.Response:
    body = await json_object(request)
    matchers = matcher_lines(body.get("matchers"))
    if not matchers and (body.get("alert") or body.get("incident")):
        matchers = await suggested_matchers(
            request,
            parse_id(str(body.get("alert") or "")),
            parse_id(str(body.get("incident") or "")),
        )
    try:
        silence_id, end = await create_silence(
            request,
            matchers,
            str(body.get("reason", "")).strip(),
            str(body.get("duration", "")),
            str(body.get("until", "")),
        )
    except SilenceError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(
        {"id": silence_id, "matchers": matchers, "ends_at": end.isoformat()}, status=201
    )


@routes.post("/api/v1/silences/{silence_id}/expire", name="api_silence_expire")
async def api_silence_expire(request: web.Request) -> web.Response:
    silence_id = path_id(request, "silence_id")
    body = await json_object(request)
    try:
        await end_silence(request, silence_id, str(body.get("reason", "")).strip())
    except SilenceError as exc:
        return web.json_response({"error": str(exc)}, status=409)
    return web.json_response({"id": silence_id, "expired": True})


def _jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


# --- routing ------------------------------------------------------------------------------------


def routing_config(request: web.Request) -> AlertConfig:
    """The routing in force: the alert service's, else the routing file read now."""
    rt = request.app[RUNTIME]
    if rt.alerts is not None:
        return rt.alerts.config
    try:
        return load_config(alerts_routing_file(rt.settings, rt.home))
    except AlertConfigError as exc:
        raise web.HTTPServiceUnavailable(text=f"the routing file is not usable: {exc}") from None


def parse_labels(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    labels: dict[str, str] = {}
    problems = []
    for item in lines[:30]:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            problems.append(f"{item!r}: write NAME=VALUE")
            continue
        labels[name.strip()[:100]] = value.strip().strip('"')[:200]
    return labels, problems


def _fmt(d: timedelta) -> str:
    seconds = int(d.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def route_rows(config: AlertConfig, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    out = []
    for r in config.match(labels) if labels else []:
        out.append(_route_row(config, r))
    return out


def _route_row(config: AlertConfig, r: Route) -> dict[str, Any]:
    o = r.options
    receiver = config.receivers.get(o.receiver)
    return {
        "route": r.label(),
        "line": r.line,
        "receiver": o.receiver,
        "audience": receiver.audience if receiver else "",
        "channels": [i.label for i in config.active_integrations(o.receiver)] if receiver else [],
        "group_by": list(o.group_by),
        "group_wait": _fmt(o.group_wait),
        "repeat_interval": _fmt(o.repeat_interval),
        "active_time_intervals": list(o.active_time_intervals),
    }


async def muting(request: web.Request, labels: Mapping[str, str]) -> list[int]:
    now = request.app[WEB].clock()
    async with request.app[RUNTIME].engine.connect() as conn:
        found = await load_silences(conn, now)
    return [s.id for s in found if labels and s.mutes(labels, now)]


@routes.get("/admin/routing", name="routing")
async def routing_page(request: web.Request) -> web.Response:
    lines = matcher_lines(request.query.get("labels", ""))
    labels, problems = parse_labels(lines)
    config = routing_config(request)
    return page(
        request,
        "admin_routing.html",
        title="Routing",
        labels_text="\n".join(lines),
        labels=labels,
        problems=problems,
        routes=route_rows(config, labels),
        silenced_by=await muting(request, labels),
        receivers=sorted(config.receivers.values(), key=lambda r: r.name),
        source=str(alerts_routing_file(request.app[RUNTIME].settings, request.app[RUNTIME].home)),
    )


@routes.get("/api/v1/routing", name="api_routing")
async def api_routing(request: web.Request) -> web.Response:
    labels, problems = parse_labels(request.query.getall("label", []))
    if problems:
        return web.json_response({"error": "; ".join(problems)}, status=400)
    config = routing_config(request)
    return web.json_response(
        {
            "labels": labels,
            "routes": route_rows(config, labels),
            "silenced_by": await muting(request, labels),
        }
    )
