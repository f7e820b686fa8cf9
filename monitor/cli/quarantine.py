"""`monitor quarantine list|retry`: records that failed a pipeline stage on their own.

Retry after fixing the cause (a rule pack, a setting, an upgrade): each record goes through
the pipeline again; those that still fail return to the quarantine with one more attempt.
"""

from __future__ import annotations

import asyncio
import json

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.cli.context import ROW_ID, Context, pass_context, with_store
from monitor.runtime.app import open_runtime
from monitor.store import quarantine
from monitor.store.tables import quarantine as quarantine_table


@click.group("quarantine")
def quarantine_group() -> None:
    """Records that failed a pipeline stage on their own: list them, retry them."""


@quarantine_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@click.option(
    "--limit",
    type=click.IntRange(1, 100_000),
    default=200,
    show_default=True,
    help="Most records listed (oldest first); the total is always given.",
)
@pass_context
def quarantine_list(ctx: Context, as_json: bool, limit: int) -> None:
    """List quarantined records: stage, error, attempts (never an author, id or link)."""

    async def work(engine: AsyncEngine) -> tuple[list[quarantine.Entry], int]:
        async with engine.connect() as conn:
            return await quarantine.entries(conn, limit=limit), await quarantine.count(conn)

    entries, total = with_store(
        ctx.settings, work, write=False, needs=(quarantine_table.name,), what="quarantine"
    )
    for e in entries:
        shown = e.shown()
        if as_json:
            click.echo(json.dumps(shown, default=str))
        else:
            click.echo(
                f"{e.id:>6}  {e.stage:<10} attempts {e.attempts:<3} {e.source:<20} {e.error}"
            )
    if not as_json:
        click.echo(f"{total} records in the quarantine")


@quarantine_group.command("retry")
@click.argument("ids", nargs=-1, type=ROW_ID)
@click.option("--all", "retry_all", is_flag=True, help="Retry every quarantined record.")
@pass_context
def quarantine_retry(ctx: Context, ids: tuple[int, ...], retry_all: bool) -> None:
    """Run quarantined records through the pipeline again (after a fix). Exit 1 if any
    failed again or was not in the quarantine."""
    if not ids and not retry_all:
        raise click.UsageError("name record ids (see `monitor quarantine list`) or --all")

    async def main() -> tuple[int, int, list[int]]:
        async with open_runtime(ctx.settings) as rt:
            async with rt.engine.connect() as conn:
                held = await quarantine.entries(
                    conn, None if retry_all else ids, limit=1_000_000 if retry_all else len(ids)
                )
            chosen = [e.id for e in held]
            missing = [] if retry_all else sorted(set(ids) - set(chosen))
            return (*await rt.pipeline.retry_quarantined(chosen), missing)

    done, failed, missing = asyncio.run(main())
    if missing:  # a typo, or retried or purged already: say so rather than "0 went through"
        click.echo(
            "not in the quarantine: "
            + ", ".join(str(i) for i in missing)
            + " (see `monitor quarantine list`)",
            err=True,
        )
    click.echo(f"{done} went through, {failed} failed again and stay in the quarantine")
    raise SystemExit(1 if failed or missing else 0)


def register(cli: click.Group) -> None:
    cli.add_command(quarantine_group)
