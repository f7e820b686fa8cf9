"""The three middlewares every request passes: security headers, well-formed input, and the
guard.

Well-formed input: a query string or form that is not UTF-8 text, or holds a NUL character or
a lone surrogate, is refused with 400 before any handler reads it. aiohttp raises
UnicodeDecodeError from `request.post()` on a form that is not UTF-8, and PostgreSQL refuses
NUL in text: each was a 500, at sign-in too, wherever a handler met one. JSON bodies are
checked the same way by `monitor.web.params.json_object`.

The guard is the one place access is decided: it loads the session, looks the route up in
`permissions.ROUTES`, refuses what the role may not see, checks the CSRF token of every
state-changing request, asks for a purpose before evidence or an export, and writes the audit
event for each evidence view and export (if that write fails, the evidence is not sent).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import NoReturn
from urllib.parse import quote

from aiohttp import web

from monitor.runtime.state import RUNTIME
from monitor.safeguards import audit
from monitor.web import sessions
from monitor.web.params import text_problem
from monitor.web.permissions import Access, access_for
from monitor.web.state import AUDIT_DETAIL_KEY, SESSION_KEY, WEB, session_of

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SESSION_COOKIE = "monitor_session"
LOGIN_CSRF_COOKIE = "monitor_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Post text is untrusted: besides escaping, the policy stops any injected script or style.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-src 'self'; frame-ancestors 'none'; object-src 'none'"
)


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _headers(request, exc)
        raise
    _headers(request, response)
    return response


def _headers(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:  # a stream (server-sent events) already sent its headers
        return
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    h.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    h.setdefault(
        "Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    )
    if not request.path.startswith("/static/"):
        h.setdefault("Cache-Control", "no-store")  # evidence must not linger in caches
    if request.app[WEB].settings.web_secure_cookies:
        h.setdefault("Strict-Transport-Security", "max-age=31536000")


def _refuse(request: web.Request, status: int, message: str) -> web.Response:
    if is_api(request):
        return web.json_response({"error": message}, status=status)
    from monitor.web.render import page  # late: render needs the guard's request keys

    return page(request, "error.html", status=status, title=message, message=message)


def _to(path: str, request: web.Request) -> NoReturn:
    """Send a browser to `path`, coming back here afterwards (every audited route is a GET)."""
    here = request.path_qs if request.method == "GET" else "/"
    raise web.HTTPSeeOther(f"{path}?next={quote(here, safe='')}")


async def _load_session(request: web.Request) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return
    state = request.app[WEB]
    async with request.app[RUNTIME].engine.begin() as conn:
        session = await sessions.load(conn, token, state.clock(), state.session_idle)
    if session is not None:
        request[SESSION_KEY] = session


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def _input_problem(request: web.Request) -> str | None:
    for key, value in request.query.items():
        if problem := text_problem(key) or text_problem(value):
            return f"query string: {problem}"
    if request.method in SAFE_METHODS or request.content_type not in FORM_TYPES:
        return None
    try:
        form = await request.post()  # cached: handlers read the same form
    except UnicodeDecodeError:
        return "the form is not UTF-8 text"
    except ValueError as exc:
        return f"the form cannot be read: {str(exc)[:80]}"
    for key, field in form.items():
        value = field if isinstance(field, str) else ""  # an uploaded file is its handler's
        if problem := text_problem(key) or text_problem(value):
            return f"form: {problem}"
    return None


@web.middleware
async def well_formed(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.http_exception is None and request.match_info.route.name != "static":
        problem = await _input_problem(request)
        if problem is not None:
            return _refuse(request, 400, problem)
    return await handler(request)


async def _csrf_ok(request: web.Request) -> bool:
    session = session_of(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not sent.isascii():  # tokens are URL-safe base64; a raw \xff is not one
        return False
    expected = session.csrf_token if session else request.cookies.get(LOGIN_CSRF_COOKIE)
    return bool(expected) and hmac.compare_digest(sent.encode(), str(expected).encode())


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.http_exception is not None:  # 404 / 405: nothing to protect
        return await handler(request)
    access = access_for(request.match_info.route.name)
    if request.match_info.route.name == "static":  # no store round trip per stylesheet
        return await handler(request)
    if access.signed:  # machine-to-machine: the handler verifies the request's signature
        return await handler(request)
    await _load_session(request)
    session = session_of(request)
    role = session.user.role if session else None
    if not access.allows(role):
        if session is None:
            if is_api(request) or request.method not in SAFE_METHODS:
                return _refuse(request, 401, "Sign in first")
            return _to("/login", request)
        return _refuse(request, 403, "Your role cannot open this page")
    if request.method not in SAFE_METHODS and not await _csrf_ok(request):
        return _refuse(request, 403, "The form had expired or was not ours: reload and retry")
    if not access.audited:
        return await handler(request)
    return await _audited(request, handler, access)


async def _audited(request: web.Request, handler: Handler, access: Access) -> web.StreamResponse:
    state = request.app[WEB]
    session = session_of(request)
    assert session is not None  # audited routes are never public
    purpose = session.purpose_at(state.clock())
    if purpose is None:
        if is_api(request):
            return web.json_response(
                {"error": "state a purpose first: POST /api/v1/purpose {purpose: ...}"},
                status=428,
            )
        return _to("/purpose", request)
    response = await handler(request)
    if response.status >= 400:
        return response
    detail = {
        "route": request.match_info.route.name,
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        **request.get(AUDIT_DETAIL_KEY, {}),
    }
    try:
        async with request.app[RUNTIME].engine.begin() as conn:
            await audit.record(
                conn,
                session.user.username,
                "export" if access.export else "view_evidence",
                purpose,
                detail,
                state.clock(),
            )
    except Exception:  # no audit record, no evidence
        log.exception("audit write failed; evidence withheld from %s", session.user.username)
        return _refuse(request, 503, "The audit log could not be written, so nothing is shown")
    return response
