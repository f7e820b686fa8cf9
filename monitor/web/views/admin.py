"""Sources health (staff) and the audit log (admins)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from monitor.runtime.state import RUNTIME
from monitor.safeguards import audit
from monitor.store.sources import list_sources
from monitor.web.params import parse_id
from monitor.web.render import page

routes = web.RouteTableDef()
PAGE = 100


async def source_rows(request: web.Request) -> list[dict[str, Any]]:
    """Source rows with each collector's health: live when this process runs the collectors,
    else the snapshot they last stored. Cursors are left out (they mean nothing to people)."""
    rt = request.app[RUNTIME]
    async with rt.engine.connect() as conn:
        rows = {r["name"]: dict(r) for r in await list_sources(conn)}
    for row in rows.values():  # the snapshot the collectors last stored, if any
        row["snap"] = row.get("health") or {}
    live = rt.collectors.snapshot() if rt.collectors is not None else []
    for snap in live:
        rows.setdefault(snap["name"], {"name": snap["name"], "kind": snap["kind"]})
        rows[snap["name"]]["snap"] = snap
    return sorted(rows.values(), key=lambda r: (r.get("kind") or "", r["name"]))


def _int(value: str | None) -> int | None:
    return parse_id(value)


@routes.get("/audit", name="audit")
async def audit_page(request: web.Request) -> web.Response:
    actor = request.query.get("actor", "")[:100]
    action = request.query.get("action", "")[:60]
    before = _int(request.query.get("before"))
    check = request.query.get("verify") == "1"
    async with request.app[RUNTIME].engine.connect() as conn:
        events = await audit.recent(conn, PAGE, before, actor or None, action or None)
        # Verifying reads the whole chain, so it runs when asked for, not on every view.
        problems = await audit.verify(conn) if check else None
        count, head = await audit.head(conn)
    return page(
        request,
        "audit.html",
        title="Audit log",
        events=events,
        problems=problems,
        count=count,
        head=head,
        actor=actor,
        action=action,
        older=events[-1].id if len(events) == PAGE else None,
    )


# What an administrator can change in the browser: route name, address, what it is for.
ADMIN_PAGES = (
    ("sources", "/sources", "Sources", "add, edit, pause and test the sources posts come from"),
    ("rules", "/rules", "Rule packs", "edit rules, run their examples, backtest and publish"),
    ("routing", "/admin/routing", "Routing", "which receivers an alert with given labels reaches"),
    ("silences", "/admin/silences", "Silences", "mute notifications for a while, with a reason"),
    ("governance", "/admin/governance", "Governance", "approve rule packs and gazetteers"),
    ("users", "/admin/users", "Accounts", "who may sign in, and with which role"),
    ("audit", "/audit", "Audit log", "every view of evidence, export and change"),
    ("quarantine", "/admin/quarantine", "Quarantine", "records that failed a stage"),
)


@routes.get("/admin", name="admin")
async def admin_page(request: web.Request) -> web.Response:
    return page(request, "admin.html", title="Administration", pages=ADMIN_PAGES)
