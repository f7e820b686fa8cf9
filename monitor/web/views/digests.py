"""Digests (history and preview) and the local mailbox, for every role.

These pages render a digest's stored data with the web's own template, which shows levels,
counts and alert summaries and leaves out any excerpts a digest may carry: liaison officers
read digests, and they never see post text. Mailbox messages may quote posts, so the
mailbox is an evidence page (not for liaison; purpose asked, views audited), and each reader
sees only the messages whose alerts their role may open (monitor/privacy/mailbox_access.py).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.alerts.schedule import ScheduleError
from monitor.config import ConfigError
from monitor.runtime.state import RUNTIME
from monitor.store.tables import digest_runs
from monitor.types import FIRST_DAY, LAST_DAY
from monitor.web.params import parse_day, path_id
from monitor.web.render import LONDON, page
from monitor.web.state import WEB, note_audit, session_of

routes = web.RouteTableDef()
log = logging.getLogger(__name__)
STRIP = ("excerpt", "excerpts", "map_uri")


def without_text(value: Any) -> Any:
    """A digest view with every excerpt removed (recursively)."""
    if isinstance(value, dict):
        return {k: without_text(v) for k, v in value.items() if k not in STRIP}
    if isinstance(value, list):
        return [without_text(v) for v in value]
    return value


async def recent_runs(conn: AsyncConnection, limit: int = 100) -> list[dict[str, Any]]:
    stmt = (
        select(
            digest_runs.c.id,
            digest_runs.c.digest,
            digest_runs.c.period,
            digest_runs.c.period_start,
            digest_runs.c.period_end,
            digest_runs.c.late,
            digest_runs.c.claimed_at,
            digest_runs.c.subject,
        )
        .order_by(digest_runs.c.claimed_at.desc(), digest_runs.c.id.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in (await conn.execute(stmt)).all()]


def _config(request: web.Request) -> tuple[Any, str | None]:
    from monitor.alerts.service import load_alert_config

    rt = request.app[RUNTIME]
    try:
        return load_alert_config(rt.settings, rt.home), None
    except (ConfigError, OSError) as exc:
        return None, str(exc)


@routes.get("/digests", name="digests")
async def digests_page(request: web.Request) -> web.Response:
    config, problem = _config(request)
    async with request.app[RUNTIME].engine.connect() as conn:
        runs = await recent_runs(conn)
    specs = list(config.digests.values()) if config is not None else []
    return page(
        request,
        "digests.html",
        title="Digests",
        runs=runs,
        specs=specs,
        problem=problem,
        today=_data_now(request).astimezone(LONDON).date().isoformat(),
    )


def _data_now(request: web.Request) -> datetime:
    """ "Now" for the data: the demo's simulated time in a replay, else the web clock."""
    replay = request.app[RUNTIME].replay
    return replay() if replay is not None else request.app[WEB].clock()


@routes.get("/digests/{run_id:\\d+}", name="digest")
async def digest_page(request: web.Request) -> web.Response:
    """A digest that was sent, from the data stored with its run."""
    run_id = path_id(request, "run_id")
    async with request.app[RUNTIME].engine.connect() as conn:
        row = (await conn.execute(select(digest_runs).where(digest_runs.c.id == run_id))).first()
    if row is None:
        raise web.HTTPNotFound(text="no such digest")
    view = without_text(dict(row.data or {}))
    return page(
        request, "digest.html", title=row.subject or row.digest, view=view, run=dict(row._mapping)
    )


@routes.get("/digests/{run_id:\\d+}.docx", name="digest_docx")
async def digest_docx_export(request: web.Request) -> web.Response:
    """The sent digest as a Word document (the weekly Community Tension Summary is filed and
    forwarded as one); an export: a purpose first, and audited."""
    from monitor.web.digest_docx import digest_docx

    run_id = path_id(request, "run_id")
    async with request.app[RUNTIME].engine.connect() as conn:
        row = (await conn.execute(select(digest_runs).where(digest_runs.c.id == run_id))).first()
    if row is None:
        raise web.HTTPNotFound(text="no such digest")
    view = without_text(dict(row.data or {}))
    note_audit(request, digest_run=run_id, digest=row.digest)
    name = f"{row.digest}-{row.period_start:%Y-%m-%d}.docx"
    return web.Response(
        body=digest_docx(view, row.claimed_at),
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@routes.get("/digests/preview/{name}", name="digest_preview")
async def preview_page(request: web.Request) -> web.Response:
    """The digest as it would be for the period due now, or at the end of ?at=YYYY-MM-DD."""
    from monitor.alerts.digests import digest_view

    name = request.match_info["name"]
    config, problem = _config(request)
    spec = config.digests.get(name) if config is not None else None
    if spec is None:
        raise web.HTTPNotFound(text=problem or f"no digest named {name}")
    now = _data_now(request)
    at = request.query.get("at", "")
    if at:  # the period due at the end of that UK day
        day = parse_day(at)
        if day is None:
            raise web.HTTPBadRequest(
                text=f"at: a day as YYYY-MM-DD, {FIRST_DAY} to {LAST_DAY}, not {at[:40]!r}"
            )
        now = datetime.combine(day, time(23, 59), LONDON).astimezone(UTC)
    try:
        fire = spec.cron.latest_fire(now) or spec.cron.next_fire(now - timedelta(days=8))
    except ScheduleError as exc:
        raise web.HTTPNotFound(text=f"no {name} digest is due around then: {exc}") from None
    period = spec.cron.period(fire)
    async with request.app[RUNTIME].engine.connect() as conn:
        view = await digest_view(
            conn,
            spec,
            period,
            late=False,
            now=now,
            covered_languages=getattr(request.app[RUNTIME].classifier, "covered_languages", None),
        )
    return page(
        request,
        "digest.html",
        title=f"Preview: {spec.title}",
        view=without_text(view),
        run=None,
        preview=name,
    )


@routes.get("/mailbox", name="mailbox")
async def mailbox_page(request: web.Request) -> web.Response:
    from monitor.store.mailbox import list_messages

    box = request.query.get("box") or None
    session = session_of(request)
    role = session.user.role if session else ""
    settings = request.app[RUNTIME].settings
    async with request.app[RUNTIME].engine.connect() as conn:
        try:
            # Only what this role may read: a message carries its alerts' excerpts.
            messages = await list_messages(
                conn, role, limit=50, box=box, sro_mailbox=settings.privacy_sro_mailbox
            )
        except Exception:  # the mailbox table may not exist yet: say so, do not fail
            log.warning("mailbox not readable", exc_info=True)
            messages = None
    return page(request, "mailbox.html", title="Mailbox", messages=messages, box=box or "")
