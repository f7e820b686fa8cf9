"""A problem shown on the page a form redirects back to, which no one else can put there.

A form's refusal ("incident 5 is already merged into 3") travels in the redirect's query
string. Read back from any `?problem=` it would let a link written by anyone put words of
their choosing on a trusted page, in its alert box (escaped, but still a page staff trust).
So the redirect carries a check: an HMAC of the message keyed by the signed-in session's CSRF
token, which only the server and that session's pages know. A message without a valid check
is not shown.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

from aiohttp import web

from monitor.web.state import require_session, session_of

MAX_CHARS = 300


def _check(key: str, message: str) -> str:
    digest = hmac.new(key.encode(), message.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:32]


def problem_query(request: web.Request, message: str) -> str:
    """The query string that shows `message` to this session on the page redirected to."""
    message = message[:MAX_CHARS]
    key = require_session(request).csrf_token
    return urlencode({"problem": message, "check": _check(key, message)})


def problem_shown(request: web.Request) -> str | None:
    """The `?problem=` this session's own form put in the URL, else None."""
    message = request.query.get("problem", "")
    session = session_of(request)
    if not message or session is None or len(message) > MAX_CHARS:
        return None
    sent = request.query.get("check", "")
    return message if hmac.compare_digest(sent, _check(session.csrf_token, message)) else None
