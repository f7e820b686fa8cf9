"""The rumour board (comms): clusters ranked by spread, and one rumour's timeline (stance over
time on a time axis), places, stance mix, example posts and counter messages with their
before/after velocity; and comms staff's triage (status, verdict, assignee, merge, registering a
known claim) through `monitor/signals/triage.py`, as pages and JSON API."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from monitor.runtime.state import RUNTIME
from monitor.signals import triage
from monitor.signals.config import SignalsConfig
from monitor.signals.rumours import STATUSES as RUMOUR_STATUSES
from monitor.store import signals as signal_store
from monitor.web.charts import stacked, stacked_timeline
from monitor.web.notices import problem_query, problem_shown
from monitor.web.params import json_object, parse_id, path_id
from monitor.web.queries import counter as counter_queries
from monitor.web.queries import rumours as rumour_queries
from monitor.web.render import page
from monitor.web.state import WEB, note_audit, require_session
from monitor.web.views.justify import guard_evidence

routes = web.RouteTableDef()
STATUSES = ("", "new", "watching", "countering", "closed")


def rumour_id_of(request: web.Request) -> int:
    return path_id(request, "rumour_id")


@routes.get("/rumours", name="rumours")
async def board_page(request: web.Request) -> web.Response:
    status = request.query.get("status", "")
    status = status if status in STATUSES else ""
    async with request.app[RUNTIME].engine.connect() as conn:
        missing = await signal_store.missing_signal_tables(conn)
        rows = [] if missing else await rumour_queries.board(conn, status)
    note_audit(request, rumours_shown=len(rows))
    for r in rows:
        r["stance_bar"] = stacked([(s, r["stance"][s]) for s in rumour_queries.STANCES], 120)
    return page(
        request,
        "rumours.html",
        title="Rumour board",
        rumours=rows,
        status_filter=status,
        statuses=STATUSES,
        missing=missing,
        message=MESSAGES.get(request.query.get("done", "")),
        problem=problem_shown(request),
    )


async def load_rumour(request: web.Request, rumour_id: int) -> dict[str, Any]:
    """One rumour as its page and its API show it, through the same safeguards: the
    repeated-viewing guard, the quoted posts re-checked on their platform (deleted or hidden
    ones purged first), then the rumour, its timeline, example posts and counter messages with
    their effect; the view is audited. 404 when there is no such rumour."""
    await guard_evidence(request, f"rumour:{rumour_id}")  # repeated-viewing guard (privacy)
    state = request.app[WEB]
    window = SignalsConfig.from_settings(state.settings).rumours.counter_window
    recheck = request.app[RUNTIME].recheck
    if recheck is not None:
        async with request.app[RUNTIME].engine.connect() as conn:
            quoted = await rumour_queries.example_post_ids(conn, rumour_id)
        await recheck.verify_posts(quoted, state.clock())
    async with request.app[RUNTIME].engine.connect() as conn:
        rumour = await signal_store.rumour(conn, rumour_id)
        if rumour is None:
            raise web.HTTPNotFound(text="no such rumour")
        timeline = await signal_store.rumour_timeline(conn, rumour_id)
        examples = await rumour_queries.examples(conn, rumour_id)
        counters = await rumour_queries.counters_with_effect(conn, rumour_id, window, state.clock())
    note_audit(request, rumour_id=rumour_id, examples=sum(len(v) for v in examples.values()))
    return {
        "rumour": dict(rumour),
        "timeline": timeline,
        "examples": examples,
        "counters": counters,
        "window": window,
    }


@routes.get("/rumours/{rumour_id}", name="rumour")
async def rumour_page(request: web.Request) -> web.Response:
    rumour_id = rumour_id_of(request)
    view = await load_rumour(request, rumour_id)
    rumour, counters, window = view["rumour"], view["counters"], view["window"]
    async with request.app[RUNTIME].engine.connect() as conn:
        by_stance = await rumour_queries.stance_hours(conn, rumour_id)
        targets = await rumour_queries.merge_targets(conn, rumour_id)
        people = await triage.assignable(conn)
        plans = await counter_queries.list_plans(conn, rumour_id)
    stance = {s: int((rumour.get("stance") or {}).get(s, 0)) for s in rumour_queries.STANCES}
    chart = stacked_timeline(
        by_stance,
        rumour_queries.STANCES,
        [(c["published_at"], f"counter message {c['id']}") for c in counters],
    )
    return page(
        request,
        "rumour.html",
        title=f"Rumour r{rumour_id}",
        rumour=rumour,
        places=counter_queries.places_of(rumour, limit=50),
        place_counts=dict(rumour.get("places") or {}),
        timeline=view["timeline"],
        chart=chart,
        stance=stance,
        stance_bar=stacked(list(stance.items()), 320),
        examples=view["examples"],
        counters=counters,
        plans=plans,
        window_hours=window.total_seconds() / 3600,
        by_stance=by_stance,
        stances=rumour_queries.STANCES,
        rumour_statuses=RUMOUR_STATUSES,
        verdicts=triage.VERDICTS,
        people=people,
        targets=targets,
        message=MESSAGES.get(request.query.get("done", "")),
        problem=problem_shown(request),
    )


MESSAGES = {
    "status": "Status changed.",
    "triaged": "Saved.",
    "unchanged": "Nothing changed.",
    "merged": "Merged: the posts and counter messages are this rumour's now.",
    "registered": "Claim registered: posts repeating it join a rumour from the next batch on.",
}


async def _data(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return await json_object(request)
    return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}


async def _triage(request: web.Request, action: str) -> triage.Done:
    """Apply one triage change as the signed-in user (raises TriageError with the reason)."""
    session = require_session(request)
    by = session.user.username
    data = await _data(request)
    now = request.app[WEB].clock()
    async with request.app[RUNTIME].engine.begin() as conn:
        if action == "register":
            claim_id = await triage.register(conn, str(data.get("claim") or ""), by, now)
            return triage.Done("registered", f"Claim {claim_id} registered.", 0)
        rumour_id = rumour_id_of(request)
        if action == "status":
            return await triage.set_status(conn, rumour_id, str(data.get("status") or ""), by, now)
        if action == "merge":
            into = parse_id(str(data.get("into") or "").lstrip("r"))
            if into is None:
                raise triage.TriageError("Choose the rumour to merge into.")
            reason = str(data.get("reason") or "")
            return await triage.merge(conn, rumour_id, into, by, now, reason)

        def given(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        return await triage.triage(
            conn, rumour_id, by, now, verdict=given("verdict") or None,
            verdict_note=given("verdict_note"), assignee=given("assignee"),
        )  # fmt: skip


async def _form(request: web.Request, action: str) -> web.Response:
    try:
        done = await _triage(request, action)
    except triage.TriageError as exc:
        back = "/rumours" if action == "register" else f"/rumours/{rumour_id_of(request)}"
        raise web.HTTPSeeOther(f"{back}?{problem_query(request, str(exc))}") from None
    back = "/rumours" if action == "register" else f"/rumours/{done.rumour}"
    raise web.HTTPSeeOther(f"{back}?done={done.code}")


async def _api(request: web.Request, action: str) -> web.Response:
    from monitor.web.views.api import reply

    try:
        done = await _triage(request, action)
    except triage.TriageError as exc:
        return reply({"ok": False, "code": "refused", "message": str(exc)}, 409)
    return reply({"ok": True, "code": done.code, "message": done.message, "rumour": done.rumour})


def _route(action: str, path: str) -> None:
    """The page form and the API for one triage action: one path each, the same `_triage`."""

    async def form(request: web.Request) -> web.Response:
        return await _form(request, action)

    async def api(request: web.Request) -> web.Response:
        return await _api(request, action)

    form.__name__, api.__name__ = f"{action}_form", f"{action}_api"
    routes.post(path, name=f"rumour_{action}")(form)
    routes.post(f"/api/v1{path}", name=f"api_rumour_{action}")(api)


_route("register", "/rumours/claims")
for _action in ("status", "triage", "merge"):
    _route(_action, f"/rumours/{{rumour_id}}/{_action}")
