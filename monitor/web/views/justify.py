"""The repeated-viewing guard in the web UI (monitor/safeguards/viewguard.py).

Every evidence view calls `guard_evidence` with its context ("alert:12", "rumour:3") before
loading any post text. When the user has opened evidence from several alerts or rumours with
posts by the same pseudonymous author, the page is not shown: the browser goes to /justify, where
the user says why they need to continue. The reason goes to the audit log and to the senior
responsible officer's mailbox; then the page opens. The API answers 428 and points to the form.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from monitor.runtime.state import RUNTIME
from monitor.safeguards import viewguard
from monitor.safeguards.viewguard import GuardDecision, GuardPolicy, JustificationError
from monitor.web.params import parse_id
from monitor.web.render import page, safe_next
from monitor.web.state import WEB, note_audit, require_session

routes = web.RouteTableDef()


async def _refs(request: web.Request, context: str) -> list[str]:
    kind, _, text = context.partition(":")
    number = parse_id(text)
    if kind not in ("alert", "rumour", "incident") or number is None:
        raise web.HTTPNotFound(text="no such evidence")
    async with request.app[RUNTIME].engine.connect() as conn:
        if kind == "alert":
            return await viewguard.author_refs_for_alert(conn, number)
        if kind == "incident":
            return await viewguard.author_refs_for_incident(conn, number)
        return await viewguard.author_refs_for_rumour(conn, number)


async def _decide(request: web.Request, context: str, refs: list[str]) -> GuardDecision:
    """Counted per story: an alert's or rumour's context is its incident's."""
    session = require_session(request)
    policy = GuardPolicy.from_settings(request.app[RUNTIME].settings)
    async with request.app[RUNTIME].engine.connect() as conn:
        context = await viewguard.story_context(conn, context)
        return await viewguard.check_repeated_viewing(
            conn, session.user.username, refs, request.app[WEB].clock(), context=context,
            policy=policy,
        )  # fmt: skip


async def guard_evidence(request: web.Request, context: str) -> None:
    """Let the view go on, noting the authors shown for the audit event; or send the user to
    give a justification first."""
    refs = await _refs(request, context)
    decision = await _decide(request, context, refs)
    if not decision.allowed:
        if request.path.startswith("/api/"):
            raise web.HTTPPreconditionRequired(
                text='{"error": "you have opened posts by the same author from several alerts '
                'or rumours: give a justification at /justify first"}',
                content_type="application/json",
            )
        target = f"/justify?context={quote(context)}&next={quote(request.path_qs, safe='')}"
        raise web.HTTPSeeOther(target)
    note_audit(request, **viewguard.audit_detail(refs, decision.context))


def _form(request: web.Request, context: str, target: str, decision: GuardDecision,
          error: str | None = None, status: int = 200) -> web.Response:  # fmt: skip
    settings = request.app[RUNTIME].settings
    return page(
        request, "justify.html", status=status, title="Say why you need to continue",
        context=context, next=target, contexts=decision.contexts,
        days=settings.privacy_view_guard_days, minimum=viewguard.MIN_JUSTIFICATION_CHARS,
        error=error,
    )  # fmt: skip


@routes.get("/justify", name="justify")
async def justify_form(request: web.Request) -> web.Response:
    context = request.query.get("context", "")
    target = safe_next(request.query.get("next"))
    decision = await _decide(request, context, await _refs(request, context))
    if decision.allowed:
        raise web.HTTPSeeOther(target)
    return _form(request, context, target, decision)


@routes.post("/justify", name="justify_submit")
async def justify_submit(request: web.Request) -> web.StreamResponse:
    session = require_session(request)
    form = await request.post()
    context = str(form.get("context", ""))
    target = safe_next(str(form.get("next", "/")))
    refs = await _refs(request, context)
    policy = GuardPolicy.from_settings(request.app[RUNTIME].settings)
    now = request.app[WEB].clock()
    async with request.app[RUNTIME].engine.begin() as conn:
        story = await viewguard.story_context(conn, context)
        decision = await viewguard.check_repeated_viewing(
            conn, session.user.username, refs, now, context=story, policy=policy
        )
        if decision.allowed:
            raise web.HTTPSeeOther(target)
        try:
            await viewguard.record_justification(
                conn, session.user.username, decision, str(form.get("justification", "")), now,
                policy,
            )  # fmt: skip
        except JustificationError as exc:
            return _form(request, context, target, decision, error=str(exc), status=400)
    raise web.HTTPSeeOther(target)
