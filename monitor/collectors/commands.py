"""`monitor sources`: the configured sources with their stored state; `check` tries each once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import click
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.cli.context import Context, StoreNotReady, pass_context, with_store
from monitor.collectors.common import CheckResult
from monitor.collectors.config import SourceConfig, SourcesError, describe, load_sources
from monitor.collectors.registry import platform_of
from monitor.collectors.runner import build_collector
from monitor.config import Settings
from monitor.types import RawPost


def _config_file() -> Path | None:
    root = click.get_current_context().find_root()
    value = root.params.get("config_path")
    return Path(value) if value else None


def _load(ctx: Context) -> list[SourceConfig]:
    _ = ctx.settings  # the same file's settings must be valid too
    try:
        return load_sources(_config_file())
    except SourcesError as exc:
        message = f"the sources in the settings file are not usable:\n{exc}"
        raise click.ClickException(message) from None


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table, columns padded to their widest cell."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


@click.group(name="sources", invoke_without_command=True)
@pass_context
@click.pass_context
def sources(click_ctx: click.Context, ctx: Context) -> None:
    """The configured sources and how each one is doing (from the store)."""
    if click_ctx.invoked_subcommand is not None:
        return
    configs = _load(ctx)
    if not configs:
        click.echo("No sources configured. Add [[sources]] tables to the settings file.")
        return
    stored, problem = _stored_state(ctx.settings)
    rows = []
    for c in configs:
        row = stored.get(c.name, {})
        rows.append(
            [
                c.name,
                platform_of(c).kind,
                "yes" if c.enabled else "no",
                _when(row.get("last_success_at")),
                str(row.get("error_count", "-")),
                describe(c),
            ]
        )
    click.echo(table(["NAME", "KIND", "ENABLED", "LAST SUCCESS", "ERRORS", "READS"], rows))
    if problem:
        click.echo(f"\n(store not readable: {problem}; live health is on the overview page)")


def _when(value: Any) -> str:
    if value is None:
        return "never"
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else str(value)


def _stored_state(settings: Settings) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Each source's stored row, read as every reading command reads (`with_store`); the
    configured sources are listed whatever the store's state, with the reason it was not read."""
    from sqlalchemy import select

    from monitor.store.tables import sources as sources_table

    async def work(engine: AsyncEngine) -> dict[str, dict[str, Any]]:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(sources_table))).mappings().all()
        return {r["name"]: dict(r) for r in rows}

    try:
        return with_store(
            settings, work, write=False, needs=(sources_table.name,), what="sources"
        ), None
    except StoreNotReady as exc:
        return {}, exc.message
    except Exception as exc:  # unreachable: still list the config
        return {}, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"


class _NoStore:
    """`check` stores nothing: any attempt to is a bug."""

    async def deliver(self, source: str, posts: Sequence[RawPost], cursor: str | None) -> None:
        raise AssertionError("sources check must not store posts")

    async def load_cursor(self, source: str) -> str | None:
        return None

    async def delete_posts(self, post_ids: Sequence[str]) -> int:
        raise AssertionError("sources check must not delete posts")

    async def delete_author(self, platform: str, author_id: str) -> int:
        raise AssertionError("sources check must not delete posts")

    async def update_post(self, post: RawPost) -> None:
        raise AssertionError("sources check must not change posts")


async def check_sources(
    configs: Sequence[SourceConfig], timeout: float
) -> list[tuple[SourceConfig, CheckResult]]:
    """Try each source once, all at the same time, each within `timeout` seconds."""
    async with aiohttp.ClientSession() as session:

        async def one(config: SourceConfig) -> tuple[SourceConfig, CheckResult]:
            collector = build_collector(config, session, _NoStore())
            try:
                result = await asyncio.wait_for(collector.check(), timeout)
            except TimeoutError:
                result = CheckResult(False, f"no answer within {timeout:g}s")
            except Exception as exc:
                result = CheckResult(False, f"{type(exc).__name__}: {exc}")
            notes = collector.health.notes
            if notes:
                result = CheckResult(
                    result.ok, "; ".join([result.detail, *notes]), result.needs_token
                )
            return config, result

        return list(await asyncio.gather(*(one(c) for c in configs)))


@sources.command(name="check")
@click.argument("names", nargs=-1)
@click.option("--timeout", default=20.0, show_default=True, help="Seconds allowed per source.")
@pass_context
def check(ctx: Context, names: tuple[str, ...], timeout: float) -> None:
    """Validate the [[sources]] tables and try each source once (nothing is stored)."""
    configs = _load(ctx)
    if names:
        unknown = sorted(set(names) - {c.name for c in configs})
        if unknown:
            raise click.ClickException(f"no source named {', '.join(unknown)}")
        configs = [c for c in configs if c.name in names]
    else:
        configs = [c for c in configs if c.enabled]
    if not configs:
        click.echo("No sources to check.")
        return
    click.echo(f"{len(configs)} source(s) valid; trying each once...")
    results = asyncio.run(check_sources(configs, timeout))
    rows = []
    for config, result in results:
        state = "ok" if result.ok else ("NEEDS ACCESS" if result.needs_token else "FAILED")
        kind = platform_of(config).kind
        rows.append([config.name, kind, state, result.detail])
    click.echo(table(["NAME", "KIND", "RESULT", "DETAIL"], rows))
    if not all(r.ok for _, r in results):
        raise SystemExit(1)


def register(cli: click.Group) -> None:
    cli.add_command(sources)
