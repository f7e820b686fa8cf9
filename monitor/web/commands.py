"""`monitor users add | list | disable | enable | password`: local accounts for the web UI."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.cli.context import Context, pass_context, with_store
from monitor.config import Settings
from monitor.safeguards import audit
from monitor.store.tables import users as users_table
from monitor.types import is_utf8
from monitor.web import accounts, sessions
from monitor.web.permissions import ROLES

T = TypeVar("T")


def _run(
    settings: Settings, work: Callable[[AsyncConnection], Awaitable[T]], *, write: bool = True
) -> T:
    """`work` in one transaction; a listing reads the store as it is (see `with_store`)."""

    async def in_transaction(engine: AsyncEngine) -> T:
        async with engine.begin() as conn:
            return await work(conn)

    try:
        return with_store(
            settings, in_transaction, write=write, needs=(users_table.name,), what="account"
        )
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None


def _password(env_name: str | None) -> str:
    if env_name:
        secret = os.environ.get(env_name)
        if not secret:
            raise click.ClickException(f"${env_name} is not set or empty")
        if not is_utf8(secret):
            raise click.ClickException(f"${env_name} is not UTF-8 text")
        return secret
    typed: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return typed


@click.group("users")
def users_group() -> None:
    """Local accounts for the web UI (argon2 hashes; no default passwords)."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account may see.")
@click.option(
    "--password-env",
    metavar="VAR",
    default=None,
    help="Read the password from this environment variable instead of prompting.",
)
@pass_context
def add_command(ctx: Context, name: str, role: str, password_env: str | None) -> None:
    """Add an account. Liaison accounts see aggregates and digests, never posts."""
    password = _password(password_env)
    now = datetime.now(UTC)

    async def work(conn: AsyncConnection) -> None:
        await accounts.add_user(conn, accounts.Passwords(), name, role, password, now)
        await audit.record(conn, "cli", "user_added", None, {"user": name, "role": role}, now)

    _run(ctx.settings, work)
    click.echo(f"added {name} ({role})")


@users_group.command("list")
@pass_context
def list_command(ctx: Context) -> None:
    """Accounts with their roles (staff accounts, not the people in posts)."""

    async def work(conn: AsyncConnection) -> list[accounts.User]:
        return await accounts.list_users(conn)

    for user in _run(ctx.settings, work, write=False):
        click.echo(f"{user.username:<24} {user.role:<8} {'disabled' if user.disabled else ''}")


def _set_disabled(ctx: Context, name: str, disabled: bool) -> None:
    now = datetime.now(UTC)

    async def work(conn: AsyncConnection) -> int:
        await accounts.set_disabled(conn, name, disabled)
        ended = await sessions.end_all_for(conn, name) if disabled else 0
        action = "user_disabled" if disabled else "user_enabled"
        await audit.record(conn, "cli", action, None, {"user": name}, now)
        return ended

    ended = _run(ctx.settings, work)
    state = "disabled" if disabled else "enabled"
    click.echo(f"{name} {state}" + (f"; {ended} session(s) ended" if ended else ""))


@users_group.command("disable")
@click.argument("name")
@pass_context
def disable_command(ctx: Context, name: str) -> None:
    """Stop an account signing in; its open sessions end now."""
    _set_disabled(ctx, name, True)


@users_group.command("enable")
@click.argument("name")
@pass_context
def enable_command(ctx: Context, name: str) -> None:
    """Let a disabled account sign in again."""
    _set_disabled(ctx, name, False)


@users_group.command("password")
@click.argument("name")
@click.option(
    "--password-env",
    metavar="VAR",
    default=None,
    help="Read the password from this environment variable instead of prompting.",
)
@pass_context
def password_command(ctx: Context, name: str, password_env: str | None) -> None:
    """Set a new password; the account's open sessions end."""
    password = _password(password_env)
    now = datetime.now(UTC)

    async def work(conn: AsyncConnection) -> None:
        await accounts.set_password(conn, accounts.Passwords(), name, password)
        await sessions.end_all_for(conn, name)
        await audit.record(conn, "cli", "user_password_set", None, {"user": name}, now)

    _run(ctx.settings, work)
    click.echo(f"password set for {name}")


def register(cli: click.Group) -> None:
    cli.add_command(users_group)
