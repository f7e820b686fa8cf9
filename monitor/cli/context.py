"""What every CLI command gets: the settings, loaded once from --config and MONITOR_*, and one
way to open the store.

Opening the store (`with_store`) follows one rule for every command:

- a command that **writes** (`users add`, `governance approve`, `purge`, `erase`, silences,
  rumour status ...) first brings the schema up to this version, as `monitor run` does, so it
  works on a fresh install and never writes into an older schema;
- a command that only **reads** (`audit verify`, `governance list`, `quarantine list`,
  `alerts status`, `signals ...`) never creates or changes a store: a SQLite file that is not
  there, or tables the command needs that are missing, stop it with one message naming
  `monitor db upgrade`. A check such as `audit verify` must not answer "intact" about an empty
  store it has just made at a mistyped path, and reading must not alter the schema under a
  running service of another version.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

if TYPE_CHECKING:  # imported when a command runs, not for `monitor --help`
    from sqlalchemy.ext.asyncio import AsyncEngine

    from monitor.config import Settings

T = TypeVar("T")

# A row id as a command argument: the stores' integer columns hold up to 2^31 - 1 on PostgreSQL
# (2^63 - 1 on SQLite), and a larger number reached the driver as an OverflowError traceback.
ROW_ID = click.IntRange(1, 2**31 - 1)


class RumourId(click.ParamType[int]):
    """A rumour's id as the board shows it (`r17`) or bare (`17`)."""

    name = "rumour id"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> int:
        if isinstance(value, int):
            return ROW_ID.convert(value, param, ctx)
        text = str(value).strip()
        digits = text[1:] if text[:1] in ("r", "R") else text
        if not digits.isascii() or not digits.isdigit():
            self.fail(f"{text!r} is not a rumour id (r17, as `monitor signals rumours` shows)")
        return ROW_ID.convert(int(digits), param, ctx)


RUMOUR_ID = RumourId()
# How many rows a listing shows.
LIMIT = click.IntRange(1, 100_000)


class Context:
    """What every sub-command gets: the settings, loaded once from --config and MONITOR_*."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from monitor.config import ConfigError, load_settings
            from monitor.safeguards import audit

            try:
                self._settings = load_settings(self.config_path)
                audit.configure(self._settings)  # key this process's audit events
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
            logging.basicConfig(
                level=self._settings.log_level.upper(),
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            )
            # Libraries' routine chatter (each migration step, each job added) is noise to a
            # user; their warnings still show.
            for name in ("alembic", "apscheduler"):
                logging.getLogger(name).setLevel(
                    max(logging.WARNING, logging.getLogger().getEffectiveLevel())
                )
        return self._settings


pass_context = click.make_pass_decorator(Context)


class StoreNotReady(click.ClickException):
    """A reading command found no store, or not the tables it needs."""


def with_store(
    settings: Settings,
    work: Callable[[AsyncEngine], Awaitable[T]],
    *,
    write: bool,
    needs: Collection[str] = (),
    what: str = "",
) -> T:
    """Run `work` on an engine for the configured store and dispose of it after (see the module
    doc for when the schema is migrated first). `needs` names tables a reading command cannot do
    without, `what` says what they are ("alert", "signals") in the message."""
    import asyncio

    from monitor.store import db

    url = settings.database_url
    unusable = db.sqlite_file_problem(url)
    if unusable is not None:
        raise StoreNotReady(db.cannot_open(url, unusable))
    if not write:
        missing_file = db.missing_sqlite_file(url)
        if missing_file is not None:
            raise StoreNotReady(f"no store at {missing_file} yet: run `monitor db upgrade`")

    async def main() -> T:
        engine = db.create_engine(url)
        try:
            try:
                if write:
                    await db.upgrade(engine, post_key_secret=settings.secret("post_key"))
                else:
                    present = await db.table_names(engine)
            except db.CONNECT_ERRORS as exc:
                raise StoreNotReady(db.cannot_open(url, exc)) from None
            if not write and needs:
                absent = sorted(set(needs) - present)
                if absent:
                    raise StoreNotReady(
                        f"the store at {url} has no {what + ' ' if what else ''}tables "
                        f"({', '.join(absent)}): run `monitor db upgrade`"
                    )
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())
