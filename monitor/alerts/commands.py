"""`monitor alerts …` and `monitor digest …`: check the routing file, see where a label set
goes, manage silences, see the outbox, and preview or send digests."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.alerts import outbox
from monitor.alerts.config import AlertConfig, AlertConfigError, load_config, parse_duration
from monitor.alerts.digests import DigestService
from monitor.alerts.dispatcher import Dispatcher
from monitor.alerts.matchers import MatcherError
from monitor.alerts.render import check_templates, london, make_environment
from monitor.alerts.service import TABLES, build_notifiers
from monitor.alerts.silence_store import add_silence, expire_silence, load_silences
from monitor.alerts.silences import SilenceError
from monitor.cli.context import ROW_ID, Context, pass_context, with_store
from monitor.config import ConfigError, Settings, alerts_routing_file, resolve_home
from monitor.store.tables import notifications
from monitor.types import CALENDAR, within_calendar

T = TypeVar("T")
LONDON_HELP = "a date and time, UK time (e.g. 2026-03-29T07:00)"


def _home(settings: Settings) -> Path:
    try:
        return resolve_home(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _config(settings: Settings, path: Path | None = None) -> AlertConfig:
    source = path or alerts_routing_file(settings, _home(settings))
    try:
        return load_config(source)
    except AlertConfigError as exc:
        raise click.ClickException(f"the routing file is not usable:\n{exc}") from None


def _with_engine(
    settings: Settings, fn: Callable[[AsyncEngine], Awaitable[T]], *, write: bool = False
) -> T:
    return with_store(settings, fn, write=write, needs=TABLES, what="alert")


def _when(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not {LONDON_HELP}") from None
    if value.tzinfo is None:
        from zoneinfo import ZoneInfo

        value = value.replace(tzinfo=ZoneInfo("Europe/London"))
    if not within_calendar(value.date()):
        # Schedules and silences step hours and days from it: near year 1 or 9999 that ran
        # off Python's calendar (OverflowError, "never fires again") as a traceback.
        raise click.BadParameter(f"{text!r}: a time {CALENDAR}")
    return value.astimezone(UTC)


# --- monitor alerts ---------------------------------------------------------------------------


@click.group("alerts")
def alerts_group() -> None:
    """Alert routing, silences and the notification outbox."""


@alerts_group.command("check")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Routing file to check. Default: the one the settings name.",
)
@pass_context
def check_command(ctx: Context, path: Path | None) -> None:
    """Validate the routing file: every problem with its line, then what it sets up; and
    the message templates beside it."""
    config = _config(ctx.settings, path)
    templates = _home(ctx.settings) / "alerts" / "templates"
    problems = check_templates(make_environment(templates), templates)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise click.ClickException("the message templates are not usable (above)")
    click.echo(f"{config.source}: OK")
    click.echo(f"  routes: {sum(1 for _ in config.route.walk())}")
    for receiver in config.receivers.values():
        on = [i.label for i in config.active_integrations(receiver.name)]
        off = [i.label for i in receiver.integrations if i.label not in on]
        extra = f" (switched off: {', '.join(off)})" if off else ""
        click.echo(f"  receiver {receiver.name}: {', '.join(on) or 'nothing active'}{extra}")
    now = datetime.now(UTC)
    for spec in config.digests.values():
        click.echo(
            f"  digest {spec.name}: '{spec.cron.expr}' UK time, "
            f"next {london(spec.cron.next_fire(now))}"
            f" → {', '.join(spec.receivers)}"
        )
    for warning in config.warnings():
        click.echo(f"warning: {warning}", err=True)


@alerts_group.command("route")
@click.option(
    "--label",
    "labels",
    multiple=True,
    required=True,
    metavar="NAME=VALUE",
    help="A label of the alert; repeat for each label.",
)
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Routing file to route by. Default: the one the settings name.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def route_command(ctx: Context, labels: tuple[str, ...], path: Path | None, as_json: bool) -> None:
    """Print which receivers an alert with these labels reaches, and through which routes."""
    config = _config(ctx.settings, path)
    label_set: dict[str, str] = {}
    for item in labels:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r}: write NAME=VALUE", param_hint="--label")
        label_set[name.strip()] = value.strip()
    routes = config.match(label_set)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "route": r.label(),
                        "receiver": r.options.receiver,
                        "group_by": list(r.options.group_by),
                        "group_wait": r.options.group_wait.total_seconds(),
                        "active_time_intervals": list(r.options.active_time_intervals),
                    }
                    for r in routes
                ],
                indent=2,
            )
        )
        return
    for r in routes:
        o = r.options
        window = (
            f", held outside {'/'.join(o.active_time_intervals)}" if o.active_time_intervals else ""
        )
        click.echo(
            f"{o.receiver}\t(route {r.label()}, line {r.line}; group by {', '.join(o.group_by)}, "
            f"wait {_fmt(o.group_wait)}, repeat {_fmt(o.repeat_interval)}{window})"
        )


def _fmt(d: timedelta) -> str:
    seconds = int(d.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@alerts_group.command("status")
@pass_context
def status_command(ctx: Context) -> None:
    """Notifications by receiver and state; 'held' are waiting for a time window to open."""

    async def run(engine: AsyncEngine) -> list[dict[str, Any]]:
        async with engine.connect() as conn:
            return await outbox.outbox_counts(conn, datetime.now(UTC))

    rows = _with_engine(ctx.settings, run)
    if not rows:
        click.echo("the outbox is empty")
    states = ("pending", "held", "queued", "sent", "silenced", "inhibited", "cancelled", "failed")
    for row in rows:
        parts = [f"{s} {row[s]}" for s in states if row.get(s)]
        click.echo(f"{row['receiver']}: {', '.join(parts)}")


@alerts_group.group("silence")
def silence_group() -> None:
    """Mute alerts matching labels for a while, saying why (every change is audited)."""


@silence_group.command("add")
@click.option(
    "--match",
    "matchers",
    multiple=True,
    required=True,
    metavar="MATCHER",
    help='e.g. area=Manningham or kind=~"rumour.*"; repeat to narrow.',
)
@click.option("--reason", required=True, help="Why (kept with the silence and in the audit log).")
@click.option("--by", "created_by", required=True, help="Who is silencing.")
@click.option("--duration", default=None, help="How long, e.g. 4h or 2d (at most 30 days).")
@click.option("--until", "until", default=None, help=f"Or until when: {LONDON_HELP}.")
@click.option("--start", "start", default=None, help=f"From when (default now): {LONDON_HELP}.")
@pass_context
def silence_add(
    ctx: Context,
    matchers: tuple[str, ...],
    reason: str,
    created_by: str,
    duration: str | None,
    until: str | None,
    start: str | None,
) -> None:
    """Add a silence. It must end: give --duration or --until."""
    now = datetime.now(UTC)
    starts = _when(start) if start else now
    if (duration is None) == (until is None):
        raise click.UsageError("give exactly one of --duration or --until: a silence must end")
    try:
        ends = starts + parse_duration(duration) if duration else _when(until)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--duration") from None

    async def run(engine: AsyncEngine) -> int:
        async with engine.begin() as conn:
            return await add_silence(
                conn,
                matchers=list(matchers),
                reason=reason,
                created_by=created_by,
                starts_at=starts,
                ends_at=ends,
                now=now,
            )

    try:
        silence_id = _with_engine(ctx.settings, run, write=True)
    except (SilenceError, MatcherError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"silence {silence_id} until {london(ends)}")


@silence_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include ended and expired silences.")
@pass_context
def silence_list(ctx: Context, show_all: bool) -> None:
    """List silences (active ones unless --all)."""
    now = datetime.now(UTC)

    async def run(engine: AsyncEngine) -> list[Any]:
        async with engine.connect() as conn:
            return await load_silences(conn, now, include_ended=show_all)

    found = _with_engine(ctx.settings, run)
    if not found:
        click.echo("no silences")
    for s in found:
        state = (
            "active"
            if s.active(now)
            else ("expired" if s.expired_at else "ended" if s.ends_at <= now else "pending")
        )
        matchers = " ".join(str(m) for m in s.matchers)
        click.echo(
            f"{s.id}\t{state}\t{matchers}\tuntil {london(s.ends_at)}\tby {s.created_by}: {s.reason}"
        )


@silence_group.command("expire")
@click.argument("silence_id", type=ROW_ID)
@click.option("--by", required=True, help="Who is ending the silence.")
@click.option("--reason", default="", help="Why (kept in the audit log).")
@pass_context
def silence_expire(ctx: Context, silence_id: int, by: str, reason: str) -> None:
    """End a silence now."""

    async def run(engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            await expire_silence(conn, silence_id, by=by, reason=reason, now=datetime.now(UTC))

    try:
        _with_engine(ctx.settings, run, write=True)
    except SilenceError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"silence {silence_id} expired")


# --- monitor digest ---------------------------------------------------------------------------


@click.group("digest")
def digest_group() -> None:
    """Scheduled digests: list, preview without sending, or send now."""


def _digests(settings: Settings, engine: AsyncEngine) -> DigestService:
    from monitor.alerts import chart

    home = _home(settings)
    config = _config(settings)
    paths = [p.strip() for p in settings.alerts_boundaries.split(",") if p.strip()]
    return DigestService(
        engine,
        config,
        make_environment(home / "alerts" / "templates"),
        environ=dict(os.environ),
        public_url=settings.alerts_public_url,
        boundaries=chart.load_boundaries(paths) if paths else None,
        min_count=settings.privacy_min_count,
    )


@digest_group.command("list")
@pass_context
def digest_list(ctx: Context) -> None:
    """The digests, their schedules (UK time) and next run."""
    config = _config(ctx.settings)
    now = datetime.now(UTC)
    for spec in config.digests.values():
        click.echo(
            f"{spec.name}\t'{spec.cron.expr}'\tnext {london(spec.cron.next_fire(now))}\t"
            f"→ {', '.join(spec.receivers)}\t{spec.title}"
        )


@digest_group.command("preview")
@click.argument("name")
@click.option(
    "--at", "at", default=None, help=f"Preview the period due at this time: {LONDON_HELP}."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "html", "json"]),
    default="text",
    show_default=True,
    help="The e-mail's text or HTML, or the digest's content as JSON.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of the terminal.",
)
@pass_context
def digest_preview(ctx: Context, name: str, at: str | None, fmt: str, out: Path | None) -> None:
    """Render a digest for its latest period without claiming or sending it."""
    when = _when(at)

    async def run(engine: AsyncEngine) -> Any:
        from jinja2 import TemplateError

        service = _digests(ctx.settings, engine)
        try:
            return await service.preview(name, when)
        except KeyError as exc:
            raise click.ClickException(str(exc.args[0])) from None
        except (TemplateError, RecursionError, UnicodeDecodeError, OSError) as exc:
            # A template edited into a mistake: say which, not a traceback.
            raise click.ClickException(
                f"the digest's template cannot be rendered ({exc.__class__.__name__}: "
                f"{str(exc)[:200]}); `monitor alerts check` lists template problems"
            ) from None

    message = _with_engine(ctx.settings, run)
    if fmt == "html":
        body = message.html
    elif fmt == "json":
        body = json.dumps(dict(message.data), indent=2, default=str)
    else:
        body = f"Subject: {message.subject}\n\n{message.text}"
    if out is not None:
        out.write_text(body, encoding="utf-8")
        click.echo(f"wrote {out}")
    else:
        click.echo(body)


@digest_group.command("send")
@click.argument("name")
@click.option("--at", "at", default=None, help=f"Send the period due at this time: {LONDON_HELP}.")
@click.option("--wait", default=60.0, show_default=True, help="Seconds to wait for delivery.")
@pass_context
def digest_send(ctx: Context, name: str, at: str | None, wait: float) -> None:
    """Send a digest's latest period now, unless it was already sent (then nothing happens)."""
    settings = ctx.settings
    when = _when(at)

    async def run(engine: AsyncEngine) -> str:
        service = _digests(settings, engine)
        try:
            run_id = await service.run(name, when)
        except KeyError as exc:
            raise click.ClickException(str(exc.args[0])) from None
        if run_id is None:
            return "already sent for this period (or not yet due): nothing to do"
        async with aiohttp.ClientSession() as session:
            notifiers = build_notifiers(service.config, engine, session, os.environ)
            dispatcher = Dispatcher(
                engine,
                service.config,
                notifiers,
                service.envs,
                environ=dict(os.environ),
                public_url=settings.alerts_public_url,
            )
            deadline = asyncio.get_running_loop().time() + wait
            while asyncio.get_running_loop().time() < deadline:
                await dispatcher.run_once()
                async with engine.connect() as conn:
                    states = (
                        (
                            await conn.execute(
                                select(notifications.c.status).where(
                                    notifications.c.digest_run_id == run_id
                                )
                            )
                        )
                        .scalars()
                        .all()
                    )
                if all(s in ("sent", "failed") for s in states):
                    return (
                        f"sent: {states.count('sent')} delivered, {states.count('failed')} failed"
                    )
                await asyncio.sleep(1)
        return "claimed and queued; the running service will finish delivering it"

    click.echo(_with_engine(settings, run, write=True))


def register(cli: click.Group) -> None:
    cli.add_command(alerts_group)
    cli.add_command(digest_group)
