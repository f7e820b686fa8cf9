"""Admin: governance approvals (what is monitored, why, until when) and staff accounts.

The same operations as `monitor governance …` and `monitor users …`, through the same
functions: an approval is recorded in the register and the audit log by
`monitor.safeguards.governance.approve`; account changes are audited here with the admin's name, and
disabling an account or changing its role ends its open sessions. An admin cannot disable or
demote their own account (the last way in must not be closed by a slip).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from monitor.runtime.state import RUNTIME
from monitor.safeguards import audit, governance
from monitor.web import accounts, sessions
from monitor.web.params import json_object
from monitor.web.permissions import ROLES
from monitor.web.render import page
from monitor.web.state import WEB, require_session

routes = web.RouteTableDef()


# --- governance ---------------------------------------------------------------------------------


async def register_rows(request: web.Request) -> list[dict[str, Any]]:
    rt = request.app[RUNTIME]
    now = request.app[WEB].clock()
    subjects = governance.subjects_for(rt.settings, governance.rules_packs(rt.rules))
    configured = {s.id: s for s in subjects}
    async with rt.engine.connect() as conn:
        register = await governance.load_register(conn)
    rows = []
    for name in sorted(set(configured) | set(register)):
        a = register.get(name)
        rows.append(
            {
                "subject": name,
                "configured": name in configured,
                "owner": a.owner if a else configured[name].owner,
                "purpose": a.purpose if a else None,
                "review_by": a.review_by if a else None,
                "approved_by": a.approved_by if a else None,
                "approved_at": a.approved_at if a else None,
                "note": a.note if a else None,
                "state": "not registered yet"
                if a is None
                else ("running" if a.active(now) else "stopped: review date passed"),
            }
        )
    return rows


async def approve(request: web.Request, values: dict[str, Any]) -> governance.Approval:
    rt = request.app[RUNTIME]
    session = require_session(request)
    try:
        days = int(values.get("days") or rt.settings.governance_review_days)
    except (TypeError, ValueError, OverflowError):  # int(1e400): infinity
        raise governance.GovernanceError("days: a whole number of days") from None
    note = str(values.get("note") or "").strip()[:500] or None
    async with rt.engine.begin() as conn:
        approval = await governance.approve(
            conn,
            str(values.get("subject", "")),
            owner=str(values.get("owner", ""))[:200],
            purpose=str(values.get("purpose", "")),
            approved_by=session.user.username,
            now=request.app[WEB].clock(),
            review_days=days,
            note=note,
        )
        if rt.governance is not None:  # this process takes it up now, not within a minute
            rt.governance.approvals = await governance.load_register(conn)
    return approval


def _governance_page(
    request: web.Request, rows: list[dict[str, Any]], **extra: Any
) -> web.Response:
    context: dict[str, Any] = {"done": None, "problem": None, "form": {}}
    context.update(extra)
    return page(
        request,
        "admin_governance.html",
        title="Governance",
        rows=rows,
        purposes=governance.PURPOSES,
        excluded=governance.EXCLUDED_USES,
        review_days=request.app[RUNTIME].settings.governance_review_days,
        **context,
    )


@routes.get("/admin/governance", name="governance")
async def governance_page(request: web.Request) -> web.Response:
    done = request.query.get("done", "")[:100]
    return _governance_page(request, await register_rows(request), done=done or None)


@routes.post("/admin/governance", name="governance_approve")
async def governance_approve(request: web.Request) -> web.StreamResponse:
    form = dict(await request.post())
    try:
        approval = await approve(request, form)
    except governance.GovernanceError as exc:
        return _governance_page(
            request, await register_rows(request), problem=str(exc), form=form
        )  # 200 with the reason: the form is shown again as it was
    raise web.HTTPSeeOther(f"/admin/governance?done={approval.subject}")


@routes.get("/api/v1/governance", name="api_governance")
async def api_governance(request: web.Request) -> web.Response:
    rows = await register_rows(request)
    return web.json_response(
        {
            "subjects": [
                {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in r.items()}
                for r in rows
            ],
            "purposes": dict(governance.PURPOSES),
        }
    )


@routes.post("/api/v1/governance/approve", name="api_governance_approve")
async def api_governance_approve(request: web.Request) -> web.Response:
    body = await json_object(request)
    try:
        a = await approve(request, body)
    except governance.GovernanceError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(
        {"subject": a.subject, "purpose": a.purpose, "review_by": a.review_by.isoformat()}
    )


# --- accounts -----------------------------------------------------------------------------------


class Refused(ValueError):
    pass


async def change_user(request: web.Request, values: dict[str, Any]) -> str:
    """Add an account, or change one's role, password or whether it may sign in."""
    rt = request.app[RUNTIME]
    state = request.app[WEB]
    me = require_session(request).user.username
    action = str(values.get("action", ""))
    name = str(values.get("username", "")).strip()[:64]
    role = str(values.get("role", ""))
    password = str(values.get("password", ""))
    now = state.clock()
    if name == me and (action == "disable" or (action == "role" and role != "admin")):
        raise Refused("you cannot disable or demote your own account: ask another admin")
    detail: dict[str, Any] = {"user": name}
    async with rt.engine.begin() as conn:
        if action == "add":
            await accounts.add_user(conn, state.passwords, name, role, password, now)
            detail["role"] = role
            event = "user_added"
        elif action == "role":
            await accounts.set_role(conn, name, role)
            detail["role"] = role
            detail["sessions_ended"] = await sessions.end_all_for(conn, name)
            event = "user_role_set"
        elif action == "password":
            await accounts.set_password(conn, state.passwords, name, password)
            detail["sessions_ended"] = await sessions.end_all_for(conn, name)
            event = "user_password_set"
        elif action in ("disable", "enable"):
            await accounts.set_disabled(conn, name, action == "disable")
            if action == "disable":
                detail["sessions_ended"] = await sessions.end_all_for(conn, name)
            event = f"user_{action}d"
        else:
            raise Refused("action: add, role, password, disable or enable")
        await audit.record(conn, me, event, None, detail, now)
    return event


@routes.get("/admin/users", name="users")
async def users_page(request: web.Request) -> web.Response:
    async with request.app[RUNTIME].engine.connect() as conn:
        people = await accounts.list_users(conn)
    done = request.query.get("done", "")
    return page(
        request,
        "admin_users.html",
        title="Accounts",
        people=people,
        roles=ROLES,
        me=require_session(request).user.username,
        done=done[:40] if done.replace("_", "").isalpha() else "",
        who=request.query.get("user", "")[:64],
        problem=None,  # refusals render this page directly (`problem=str(exc)`)
    )


@routes.post("/admin/users", name="user_change")
async def user_change(request: web.Request) -> web.StreamResponse:
    form = dict(await request.post())
    try:
        event = await change_user(request, form)
    except (accounts.AccountError, Refused) as exc:
        async with request.app[RUNTIME].engine.connect() as conn:
            people = await accounts.list_users(conn)
        return page(
            request,
            "admin_users.html",
            status=400,
            title="Accounts",
            people=people,
            roles=ROLES,
            me=require_session(request).user.username,
            done="",
            who="",
            problem=str(exc),
        )
    user = str(form.get("username", ""))
    raise web.HTTPSeeOther(f"/admin/users?done={event}&user={user}")


@routes.get("/api/v1/users", name="api_users")
async def api_users(request: web.Request) -> web.Response:
    async with request.app[RUNTIME].engine.connect() as conn:
        people = await accounts.list_users(conn)
    return web.json_response(
        {
            "users": [
                {"username": u.username, "role": u.role, "disabled": u.disabled} for u in people
            ]
        }
    )


@routes.post("/api/v1/users", name="api_user_change")
async def api_user_change(request: web.Request) -> web.Response:
    body = await json_object(request)
    try:
        event = await change_user(request, body)
    except (accounts.AccountError, Refused) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({"done": event, "user": body.get("username")})
