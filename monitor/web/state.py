"""What the web layer keeps beside the runtime: password hashing, the sign-in limiter, the
page templates, a clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from jinja2 import Environment

from monitor.config import Settings
from monitor.types import utcnow
from monitor.web.accounts import Passwords
from monitor.web.ratelimit import LoginLimiter
from monitor.web.sessions import Session


@dataclass
class WebState:
    settings: Settings
    passwords: Passwords
    limiter: LoginLimiter
    templates: Environment  # monitor.web.render.make_environment()
    clock: Callable[[], datetime] = utcnow
    cache: dict[str, Any] = field(default_factory=dict)  # parsed boundaries and the like
    # Set when the server stops: open event streams end at once, not when aiohttp's shutdown
    # timeout cancels them (monitor.web.views.events).
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def session_idle(self) -> timedelta:
        return timedelta(minutes=self.settings.web_session_idle_minutes)

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.settings.web_session_hours)

    @property
    def purpose_lifetime(self) -> timedelta:
        return timedelta(minutes=self.settings.web_purpose_minutes)


WEB = web.AppKey("web", WebState)
SESSION_KEY = web.RequestKey("session", Session)  # absent when signed out
AUDIT_DETAIL_KEY = web.RequestKey("audit_detail", dict[str, Any])  # what an audited view showed


def session_of(request: web.Request) -> Session | None:
    return request.get(SESSION_KEY)


def require_session(request: web.Request) -> Session:
    """The session of a route the guard has already let through as signed in."""
    session = session_of(request)
    if session is None:  # the permission table let a signed-out request through: refuse
        raise web.HTTPUnauthorized(text="sign in first")
    return session


def note_audit(request: web.Request, **detail: Any) -> None:
    """Add to the audit event the guard writes for this evidence view or export."""
    if AUDIT_DETAIL_KEY not in request:
        request[AUDIT_DETAIL_KEY] = {}
    request[AUDIT_DETAIL_KEY].update(detail)
