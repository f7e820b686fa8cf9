"""Jinja2 environment for pages. Autoescape is on for every template: post text is untrusted."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from monitor.documents.cache import CompiledTemplates
from monitor.runtime.state import RUNTIME
from monitor.web.permissions import access_for
from monitor.web.state import WEB, session_of

TEMPLATES = Path(__file__).parent / "templates"
LONDON = ZoneInfo("Europe/London")

# The main menu: route name, address, label. Each person sees the entries their role may open.
NAV = (
    ("overview", "/", "Overview"),
    ("incidents", "/incidents", "Review queue"),
    ("queue", "/queue", "Alerts"),
    ("areas", "/areas", "Areas"),
    ("trends", "/trends", "Trends"),
    ("rumours", "/rumours", "Rumours"),
    ("digests", "/digests", "Digests"),
    ("mailbox", "/mailbox", "Mailbox"),
    ("sources", "/sources", "Sources"),
    ("rules", "/rules", "Rules"),
    ("audit", "/audit", "Audit log"),
    ("quarantine", "/admin/quarantine", "Quarantine"),
    ("admin", "/admin", "Admin"),
)


def london_time(value: datetime | str | None) -> str:
    """UK time, as people read it; accepts ISO text (stored JSON) as well as datetimes."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        when = value
    if when.tzinfo is None:
        return when.strftime("%a %d %b %H:%M")
    return when.astimezone(LONDON).strftime("%a %d %b %H:%M")


def iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


def http_url(value: str | None) -> str:
    """The URL if it is http(s), else empty: a `javascript:` link must never reach an href."""
    if value and urlsplit(value).scheme in ("http", "https"):
        return value
    return ""


# Pages compiled once per process, not once per app (each runtime's app made its own Environment).
_COMPILED = CompiledTemplates()


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        bytecode_cache=_COMPILED,
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["london"] = london_time
    env.filters["iso"] = iso
    env.filters["http_url"] = http_url
    return env


def render(env: Environment, name: str, status: int = 200, **context: Any) -> web.Response:
    html = env.get_template(name).render(**context)
    return web.Response(text=html, content_type="text/html", charset="utf-8", status=status)


def safe_next(value: str | None, default: str = "/") -> str:
    """Only a path on this site: never another host (an open redirect would help phishing).

    Browsers drop tabs and newlines inside a URL and read a backslash as a slash, so
    "/<tab>/evil.example" or "/<backslash>evil.example" would leave the site: any whitespace,
    control character or backslash refuses the value, and the rest must parse as a bare path.
    """
    if not value or _NOT_IN_NEXT.search(value) or any(c.isspace() for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return default
    if parts.path.startswith("//"):
        return default
    return value


_NOT_IN_NEXT = re.compile(r"[\x00-\x20\x7f-\x9f\\]")


def page(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    """A page with the signed-in user, their menu and the session's CSRF token."""
    session = session_of(request)
    role = session.user.role if session else None
    route = request.match_info.route.name if request.match_info.http_exception is None else None

    def can(route_name: str) -> bool:
        return access_for(route_name).allows(role)

    nav = [(n, href, label) for n, href, label in NAV if session and can(n)]
    purpose = session.purpose_at(request.app[WEB].clock()) if session else None
    replay = request.app[RUNTIME].replay
    return render(
        request.app[WEB].templates,
        name,
        status=status,
        user=session.user if session else None,
        csrf_token=session.csrf_token if session else "",
        nav=nav,
        current=route,
        can=can,
        purpose=purpose,
        here=request.path_qs,
        # The demo replays a past week on a simulated clock: every page says so, and when.
        replay_week=replay.label if replay else None,
        replay_now=replay().astimezone(LONDON).strftime("%a %d %b %Y %H:%M") if replay else None,
        **context,
    )
