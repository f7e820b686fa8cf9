"""The core commands: config, db, import, demo and run."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path

import click
from aiohttp import web

from monitor.alerts.digests import DigestService
from monitor.cli import resume_gc
from monitor.cli.context import Context, pass_context
from monitor.collectors.config import SourcesError, load_sources
from monitor.config import (
    ConfigError,
    Settings,
    mask_url_password,
    push_secret,
    setting_allowed,
    setting_fields,
    setting_help,
)
from monitor.demo import BUNDLED_SCENARIO
from monitor.demo.clock import ReplayClock, ReplaySink
from monitor.incidents import queries as incident_queries
from monitor.ingest.importer import ImportReport, import_file
from monitor.ingest.replay import file_format
from monitor.runtime.app import ROLES, open_runtime, role_parts
from monitor.runtime.pipeline import PipelineFailed
from monitor.runtime.probes import cannot_listen, probe_port, serve_probes
from monitor.runtime.state import Runtime
from monitor.store import db, overview


@click.group("config")
def config_group() -> None:
    """Inspect the settings."""


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_context
def config_show(ctx: Context, as_json: bool) -> None:
    """Print the effective settings, secrets masked."""
    values = ctx.settings.masked()
    if as_json:
        click.echo(json.dumps(values, indent=2, default=str))
        return
    width = max(len(k) for k in values)
    for name, value in values.items():
        click.echo(f"{name:<{width}}  {value}")


@config_group.command("help")
def config_help() -> None:
    """Describe every setting (name, default, help)."""
    for f in setting_fields():
        allowed = setting_allowed(f)
        click.echo(f"{f.name} (default {f.default!r})\n    {setting_help(f)}")
        if allowed:
            click.echo(f"    Allowed: {allowed}.")


@click.group("db")
def db_group() -> None:
    """Manage the store's schema."""


@db_group.command("upgrade")
@click.option(
    "--revision", default="head", show_default=True, help="Alembic revision to upgrade to."
)
@pass_context
def db_upgrade(ctx: Context, revision: str) -> None:
    """Apply the schema migrations (Alembic) to the configured database."""
    url = ctx.settings.database_url
    unusable = db.sqlite_file_problem(url)
    if unusable is not None:
        raise click.ClickException(db.cannot_open(url, unusable))
    try:
        db.upgrade_sync(url, revision, post_key_secret=ctx.settings.secret("post_key"))
    except db.CONNECT_ERRORS as exc:
        raise click.ClickException(db.cannot_open(url, exc)) from None
    click.echo(f"database at {revision}: {mask_url_password(url)}")


class _Held:
    """The runtime `main` opened, so that the stop message can say what it left undone."""

    runtime: Runtime | None = None


def _run(main: Callable[[_Held], Awaitable[int]]) -> int:
    """Run `main`, turning SIGINT/SIGTERM into a bounded drain rather than a traceback.

    The first signal drains for at most `shutdown_drain_s`; a second one stops at once. The
    stop message reports what was left unprocessed, and the exit code is 0 only when nothing
    was. A pipeline that failed for good exits 1, so a supervisor (systemd) restarts it."""
    held = _Held()

    async def wrapper() -> int:
        task = asyncio.ensure_future(main(held))
        loop = asyncio.get_running_loop()
        signals = [0]

        def on_signal() -> None:
            signals[0] += 1
            if signals[0] == 1:
                click.echo("stopping: finishing queued posts (signal again to stop now)", err=True)
            task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError):
                loop.add_signal_handler(sig, on_signal)
        try:
            return await task
        except asyncio.CancelledError:
            report = held.runtime.stop_report if held.runtime is not None else None
            if report is None:
                click.echo("stopped before the pipeline started", err=True)
                return 0 if signals[0] <= 1 else 1
            click.echo(report.message(), err=True)
            return 0 if report.drained and signals[0] <= 1 else 1
        except PipelineFailed as exc:
            report = held.runtime.stop_report if held.runtime is not None else None
            click.echo(f"error: {exc}", err=True)
            if report is not None:
                click.echo(report.message(), err=True)
            return 1

    try:
        return asyncio.run(wrapper())
    except ConfigError as exc:  # found while starting (classifier, routing, secrets): one line
        raise click.ClickException(str(exc)) from None


def _print_report(path: Path, report: ImportReport, show: int = 20) -> None:
    for problem in report.problems[:show]:
        click.echo(f"{path}:{problem.lineno}: {problem.reason}", err=True)
    if len(report.problems) > show:
        click.echo(f"... and {len(report.problems) - show} more problems", err=True)


async def _summary(rt: Runtime) -> dict[str, object]:
    async with rt.engine.connect() as conn:
        totals = await overview.totals(conn)
        places = await overview.places(conn, limit=10)
        alerts = await overview.open_alerts(conn, limit=100)
        shown = await incident_queries.list_incidents(
            conn, "shown", k=rt.settings.privacy_min_count
        )
    stats = rt.pipeline.stats
    kinds: dict[str, int] = {}
    for a in alerts:
        kinds[a["labels"].get("kind", "?")] = kinds.get(a["labels"].get("kind", "?"), 0) + 1
    return {
        "posts_in_store": totals.posts,
        "ingested_now": stats.stored,
        "duplicates": stats.duplicates,
        "rejected": stats.rejected,
        "processed": totals.processed,
        "flagged": totals.flagged,
        "open_alerts": totals.open_alerts,
        "open_alerts_by_kind": kinds,
        "top_wards": {p["ward"]: p["posts"] for p in places},
        "classifier": rt.classifier.name,
        "open_incidents": len(shown),
        "incidents": incident_queries.briefs(shown),
    }


def _echo_summary(summary: dict[str, object], as_json: bool = False) -> None:
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    for key, value in summary.items():
        if key == "incidents" and isinstance(value, list):
            click.echo("incidents:")
            for item in value:
                places = ", ".join(item["places"]) or "no named place"
                click.echo(
                    f"  [{item['status']}] {item['headline']} ({places}; "
                    f"{', '.join(item['kinds'])}; since {item['first_seen']}; "
                    f"{item['alert_count']} alerts)"
                )
            continue
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for k, v in value.items():
                click.echo(f"  {k:<28} {v}")
        else:
            click.echo(f"{key:<30} {value}")


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--speed", type=float, default=None, help="Replay speed-up; 0 = as fast as possible.")
@pass_context
def import_command(ctx: Context, files: tuple[str, ...], speed: float | None) -> None:
    """Import posts from JSONL or CSV files (see docs/import-format.md).

    Importing the same file again adds nothing; a killed import resumes where it stopped.
    """
    settings = ctx.settings
    pace = settings.demo_speed if speed is None else speed
    for name in files:
        path = Path(name)
        if not path.is_file():
            # A FIFO or a device: the import reads a file twice (its checksum names the
            # resume cursor), and a pipe gives its data only once.
            raise click.ClickException(f"{name}: not a regular file; save the posts to a file")
        try:
            file_format(path)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None

    async def main(held: _Held) -> int:
        bad = 0
        async with open_runtime(settings) as rt:
            held.runtime = rt
            resume_gc()  # started: what it built is frozen, the posts are not
            for name in files:
                path = Path(name)
                report = await import_file(
                    path, rt.pipeline, batch_size=settings.ingest_batch_size, speed=pace
                )
                await rt.pipeline.drain()
                _print_report(path, report)
                bad += len(report.problems)
                click.echo(
                    f"{path}: {report.lines} lines, {report.delivered} delivered, "
                    f"{report.skipped_committed} already committed, "
                    f"{len(report.problems)} problems"
                )
            # What an earlier, killed run stored but never processed is processed too.
            await rt.pipeline.drain()
            s = rt.pipeline.stats
            click.echo(
                f"stored {s.stored} new posts, {s.duplicates} duplicates skipped, "
                f"{s.rejected} rejected, {s.quarantined} quarantined"
            )
            if s.quarantined:
                click.echo(
                    f"{s.quarantined} records failed on their own and wait in the quarantine: "
                    "see `monitor quarantine list`",
                    err=True,
                )
        return 1 if bad or s.quarantined else 0

    sys.exit(_run(main))


async def _serve(rt: Runtime, settings: Settings, config: Path | None = None) -> web.AppRunner:
    from monitor.web.server import create_app

    # The admin Sources page edits the [[sources]] of the settings file this process read.
    runner = web.AppRunner(create_app(settings, rt, sources_file=config), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.web_host, settings.web_port)
    try:
        await site.start()
    except OSError as exc:  # the port is taken (another demo?), or the address is not ours
        await runner.cleanup()
        message = cannot_listen(settings.web_host, settings.web_port, "web_port", exc, "web_host")
        raise ConfigError(message) from exc
    click.echo(f"web UI on http://{settings.web_host}:{settings.web_port}/  (Ctrl-C to stop)")
    return runner


@click.command("demo")
@click.option("--once", is_flag=True, help="Replay as fast as possible, print a summary, exit.")
@click.option("--speed", type=float, default=None, help="Replay speed-up (default: setting).")
@click.option(
    "--scenario",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="JSONL file to replay (import format). Default: the demo_scenario setting, else the "
    "bundled fictional Bradford week.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the summary as one JSON document (scripts)."
)
@pass_context
def demo_command(
    ctx: Context, once: bool, speed: float | None, scenario: str | None, as_json: bool
) -> None:
    """Replay the bundled fictional Bradford scenario through the real pipeline.

    Without --once, the web UI is served while the replay runs and afterwards, with one demo
    account per role whose fresh passwords are printed here.
    """
    # The replayed posts are fictional and on no platform: re-checking them there before a page
    # or a notification shows them could only fail (one warning per look-up, and a wait).
    settings = ctx.settings.with_overrides(recheck_after_hours=0)
    if not once:
        settings = settings.with_overrides(demo_accounts=True)
    path = Path(scenario or settings.demo_scenario or BUNDLED_SCENARIO)
    pace = 0.0 if once else (settings.demo_speed if speed is None else speed)

    async def main(held: _Held) -> int:
        clock = ReplayClock.for_file(path)
        async with open_runtime(settings, replay=clock) as rt:
            held.runtime = rt
            rt.pipeline.on_processed(clock.on_processed)
            runner = None if once else await _serve(rt, settings)
            follow = None if once else asyncio.create_task(_follow_digests(rt, clock))
            resume_gc()  # started: what it built is frozen, the replay is not
            try:
                click.echo(
                    f"replaying {path.name} (fictional posts, the week {clock.label}) ...",
                    err=True,
                )
                report = await import_file(
                    path,
                    ReplaySink(rt.pipeline, clock),
                    batch_size=settings.ingest_batch_size,
                    speed=pace,
                    progress=_progress_printer(),
                )
                await rt.pipeline.drain()
                sent = await _close_digests(rt, clock)
                if not as_json:
                    _print_report(path, report)
                summary = await _summary(rt)
                summary["replayed_week"] = clock.label
                summary["digests_sent"] = sent
                _echo_summary(summary, as_json)
                if runner is not None:
                    click.echo("replay finished; still serving the web UI (Ctrl-C to stop)")
                    await asyncio.Event().wait()
            finally:
                if follow is not None:
                    follow.cancel()
                if runner is not None:
                    await runner.cleanup()
        return 0

    sys.exit(_run(main))


async def _digests_ready(rt: Runtime) -> DigestService | None:
    """The digest service once the alert side started (leadership starts it); None when
    alerts do not deliver (alerts_deliver off)."""
    for _ in range(100):
        if rt.alerts is not None and rt.alerts.digests is not None:
            return rt.alerts.digests
        if rt.alerts is None or not rt.alerts.deliver:
            return None
        await asyncio.sleep(0.1)
    return None


async def _follow_digests(rt: Runtime, clock: ReplayClock) -> None:
    """While the replay runs: send each digest as the replayed (processed) week crosses its
    schedule, so the mailbox fills day by day as it did that week."""
    digests = await _digests_ready(rt)
    while digests is not None:
        await digests.replay_until(clock.processed)
        await asyncio.sleep(1.0)


async def _close_digests(rt: Runtime, clock: ReplayClock) -> list[str]:
    digests = await _digests_ready(rt)
    if digests is None:
        return []
    sent = await digests.close_replay(clock.end)
    dispatcher = rt.alerts.dispatcher if rt.alerts is not None else None
    # The background dispatcher's round ends before the clock jumps: its leases run on the
    # replay clock, and a jump of days would let the round below claim (and send again) the
    # deliveries still in flight, whose outcomes then could not be recorded.
    running = dispatcher is not None and dispatcher.running
    if dispatcher is not None and running:
        await dispatcher.stop()
    # The week is closed at its last digest (the Monday morning after): what was held for
    # office hours or still grouping is due by then, and is delivered now.
    until = digests.replayed_until()
    if until is not None:
        clock.close(until)
    if dispatcher is not None:
        try:
            # Until nothing is due: a round sends at most its concurrency, and with the
            # background loop stopped no later round would send the rest before --once exits.
            while await dispatcher.run_once():
                pass
        finally:
            if running:  # a failed closing round must not leave the served demo without one
                await dispatcher.start()
    return [f"{name} {period}" for name, period in sent]


def _progress_printer() -> Callable[[ImportReport], None]:
    shown = [0]

    def show(report: ImportReport) -> None:
        if report.delivered - shown[0] >= 1000:
            shown[0] = report.delivered
            click.echo(f"  {report.delivered} posts delivered", err=True)

    return show


@click.command("run")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="all",
    show_default=True,
    help="What this process does: everything (all), or one part of a scaled-out service "
    "over PostgreSQL and a Redis stream (see docs/deployment.md).",
)
@pass_context
def run_command(ctx: Context, role: str) -> None:
    """Run the service until stopped: collectors, pipeline, alerts and the web UI."""
    settings = ctx.settings
    parts = role_parts(role)
    if "serve" in parts:
        try:
            push_secret(settings)  # refuse a weak or malformed push secret before starting
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
    try:
        sources = load_sources(ctx.config_path) if "collect" in parts else []
    except SourcesError as exc:
        raise click.ClickException(str(exc)) from None
    if "collect" in parts and not sources and role == "collector":
        raise click.ClickException("role collector: no [[sources]] in the settings file")

    async def main(held: _Held) -> int:
        async with open_runtime(settings, role=role, sources=sources) as rt:
            held.runtime = rt
            click.echo(
                f"role {role}: {len(sources)} sources, queue "
                f"{'redis' if settings.queue_url else 'in-process'}, "
                f"classifier {rt.classifier.name}",
                err=True,
            )
            runner: web.AppRunner | None
            if "serve" in parts:
                runner = await _serve(rt, settings, ctx.config_path)
            else:  # no web UI: /healthz, /readyz and /metrics alone on this role's port
                runner = await serve_probes(rt)
                if runner is not None:
                    click.echo(
                        f"role {role}: /healthz, /readyz and /metrics on http://"
                        f"{settings.health_host}:{probe_port(settings, role)}/",
                        err=True,
                    )
            resume_gc()  # started and serving: what it built is frozen
            try:
                # Until stopped, or until the pipeline fails for good (then exit non-zero).
                await rt.pipeline.wait_failed()
            finally:
                if runner is not None:
                    await runner.cleanup()
        return 0

    sys.exit(_run(main))


def register(cli: click.Group) -> None:
    for command in (config_group, db_group, import_command, demo_command, run_command):
        cli.add_command(command)
