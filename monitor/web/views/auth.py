"""Sign in, sign out, and the purpose people give before they look at evidence."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from monitor.runtime.state import RUNTIME
from monitor.safeguards import audit
from monitor.web import accounts, sessions
from monitor.web.middleware import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from monitor.web.render import page, safe_next
from monitor.web.state import WEB, require_session, session_of

routes = web.RouteTableDef()

PURPOSES = (
    ("triage", "Triage of an alert in the review queue"),
    ("rumour", "Assessing a rumour and how far it has spread"),
    ("counter", "Preparing or checking a counter message"),
    ("rules", "Checking or tuning a rule"),
    ("quality", "Reviewing the classifier's mistakes"),
    ("other", "Other (say what)"),
)
PURPOSE_LABELS = dict(PURPOSES)


def _cookie_args(request: web.Request) -> dict[str, Any]:
    secure = request.app[WEB].settings.web_secure_cookies
    return {"httponly": True, "samesite": "Lax", "secure": secure, "path": "/"}


@routes.get("/login", name="login")
async def login_form(request: web.Request) -> web.StreamResponse:
    target = safe_next(request.query.get("next"))
    if session_of(request) is not None:
        raise web.HTTPSeeOther(target)
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = page(request, "login.html", title="Sign in", next=target, login_csrf=token)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, **_cookie_args(request))
    return response


@routes.post("/login", name="login_submit")
async def login_submit(request: web.Request) -> web.StreamResponse:
    state = request.app[WEB]
    form = await request.post()
    username = str(form.get("username", "")).strip().lower()[:100]
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "/")))
    keys = state.limiter.keys(username, request.remote or "")
    now = state.clock()
    engine = request.app[RUNTIME].engine

    def again(status: int, error: str) -> web.Response:
        token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        return page(
            request,
            "login.html",
            status=status,
            title="Sign in",
            next=target,
            login_csrf=token,
            error=error,
            username=username,
        )

    async with engine.connect() as conn:
        wait = await state.limiter.retry_after(conn, keys, now)
    if wait > 0:
        async with engine.begin() as conn:
            await audit.record(conn, username or "?", "sign_in_refused", None, {"why": "rate"}, now)
        seconds = int(wait) + 1
        response = again(429, f"Too many failed attempts: wait {_wait_text(seconds)} and retry.")
        response.headers["Retry-After"] = str(seconds)
        return response
    async with engine.begin() as conn:
        user = await accounts.authenticate(conn, state.passwords, username, password)
        if user is None:
            await audit.record(conn, username or "?", "sign_in_failed", None, None, now)
            await state.limiter.failed(conn, keys, now)
    if user is None:
        return again(401, "That name and password do not match an enabled account.")
    async with engine.begin() as conn:
        await state.limiter.succeeded(conn, keys)
        token, _ = await sessions.create(conn, user.username, now, state.session_lifetime)
        await audit.record(conn, user.username, "sign_in", None, {"role": user.role}, now)
    response = web.HTTPSeeOther(target)
    response.set_cookie(SESSION_COOKIE, token, **_cookie_args(request))
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/")
    raise response


def _wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    return f"{(seconds + 59) // 60} min"


@routes.post("/logout", name="logout")
async def logout(request: web.Request) -> web.StreamResponse:
    session = require_session(request)
    async with request.app[RUNTIME].engine.begin() as conn:
        await sessions.end(conn, session.id)
        await audit.record(
            conn, session.user.username, "sign_out", None, None, request.app[WEB].clock()
        )
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


def purpose_text(choice: str, details: str) -> str | None:
    """The purpose as recorded, or None when it is not enough to go on."""
    details = " ".join(details.split())[:300]
    if choice not in PURPOSE_LABELS:
        return None
    if choice == "other":
        return f"Other: {details}" if len(details) >= 5 else None
    return PURPOSE_LABELS[choice] + (f": {details}" if details else "")


@routes.get("/purpose", name="purpose")
async def purpose_form(request: web.Request) -> web.Response:
    return page(
        request,
        "purpose.html",
        title="Why are you looking?",
        purposes=PURPOSES,
        next=safe_next(request.query.get("next")),
        minutes=request.app[WEB].settings.web_purpose_minutes,
    )


@routes.post("/purpose", name="purpose_submit")
async def purpose_submit(request: web.Request) -> web.StreamResponse:
    session = require_session(request)
    form = await request.post()
    target = safe_next(str(form.get("next", "/")))
    text = purpose_text(str(form.get("choice", "")), str(form.get("details", "")))
    if text is None:
        return page(
            request,
            "purpose.html",
            status=400,
            title="Why are you looking?",
            purposes=PURPOSES,
            next=target,
            minutes=request.app[WEB].settings.web_purpose_minutes,
            error="Choose a purpose (and for 'Other', say what it is).",
        )
    await set_purpose(request, session.id, text)
    raise web.HTTPSeeOther(target)


async def set_purpose(request: web.Request, session_id: str, text: str) -> None:
    state = request.app[WEB]
    until = state.clock() + state.purpose_lifetime
    async with request.app[RUNTIME].engine.begin() as conn:
        await sessions.set_purpose(conn, session_id, text, until)
