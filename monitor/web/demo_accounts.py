"""Demo accounts: one per role, with fresh random passwords, only when `demo_accounts` is on.

There are no default passwords: each start makes new ones and prints them to the console
(never to a log or the store), so a demo left running cannot be entered with a known password.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.safeguards import audit
from monitor.web import accounts
from monitor.web.permissions import ROLES


def demo_username(role: str) -> str:
    return f"demo-{role}"


async def ensure_demo_accounts(
    conn: AsyncConnection, passwords: accounts.Passwords, now: datetime
) -> list[tuple[str, str, str]]:
    """(user name, role, password) for each role; existing demo accounts get a new password."""
    made = []
    for role in ROLES:
        name = demo_username(role)
        password = secrets.token_urlsafe(12)
        existing = await accounts.get_user(conn, name)
        if existing is None:
            await accounts.add_user(conn, passwords, name, role, password, now)
        else:
            await accounts.set_password(conn, passwords, name, password)
        made.append((name, role, password))
    await audit.record(conn, "system", "demo_accounts", None, {"users": [m[0] for m in made]}, now)
    return made


def banner(made: list[tuple[str, str, str]], url: str) -> str:
    width = max(len(name) for name, _, _ in made)
    lines = [f"Demo accounts for {url} (new passwords each start; demo only):"]
    lines += [f"  {name:<{width}}  {password}   ({role})" for name, role, password in made]
    return "\n".join(lines)
