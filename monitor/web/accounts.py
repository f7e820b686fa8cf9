"""Local accounts: argon2id password hashes and the `users` table.

Hashing and verifying are deliberately slow (tens of milliseconds to a second): they run in a
thread so the event loop keeps serving, and an unknown name is checked against a dummy hash so
that the time taken does not reveal which names exist.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store.tables import users
from monitor.web.permissions import ROLES

MIN_PASSWORD_CHARS = 12
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")


class AccountError(ValueError):
    """A name, role or password that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class User:
    username: str
    role: str
    disabled: bool = False


class Passwords:
    """argon2id hashing off the event loop. Tests pass a cheap `PasswordHasher`."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        if stored is None:
            if self._dummy is None:
                self._dummy = await self.hash("not a real password, for timing only")
            stored = self._dummy
            await asyncio.to_thread(self._check, stored, password)
            return False
        return await asyncio.to_thread(self._check, stored, password)

    def _check(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def check_new(username: str, role: str, password: str) -> None:
    if not USERNAME.match(username):
        raise AccountError(
            f"user name {username!r}: use 2-63 lower-case letters, digits, '.', '_' or '-'"
        )
    if role not in ROLES:
        raise AccountError(f"role {role!r}: choose one of {', '.join(ROLES)}")
    check_password(username, password)


# zxcvbn's score: 3 is "safely unguessable" (about 10^10 guesses), the least an account that
# opens evidence about people should have. Its lists hold the most common passwords, names and
# words, and it sees through repeats, sequences, keyboard walks, dates and l33t.
MIN_PASSWORD_SCORE = 3
CONTEXT_WORDS = ("monitor", "community", "tension", "council", "bradford", "kirklees")


def check_password(username: str, password: str) -> None:
    """Refuse a short, common or easily guessed password, saying why."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"password: at least {MIN_PASSWORD_CHARS} characters")
    from zxcvbn import zxcvbn  # late: its word lists take a moment to load

    # zxcvbn refuses more than 72 characters (and its run time grows with length); a password
    # whose first 72 characters are strong is strong.
    result = zxcvbn(password[:72], user_inputs=[username, *CONTEXT_WORDS])
    if int(result["score"]) < MIN_PASSWORD_SCORE:
        feedback = result.get("feedback") or {}
        why = feedback.get("warning") or "it is too easy to guess"
        hint = " ".join(feedback.get("suggestions") or [])
        raise AccountError(f"password: {why.rstrip('.')}. {hint}".strip())


async def add_user(
    conn: AsyncConnection,
    passwords: Passwords,
    username: str,
    role: str,
    password: str,
    now: datetime,
) -> User:
    check_new(username, role, password)
    if await get_user(conn, username) is not None:
        raise AccountError(f"user {username!r} already exists")
    await conn.execute(
        users.insert().values(
            username=username,
            password_hash=await passwords.hash(password),
            role=role,
            created_at=now,
            disabled=False,
        )
    )
    return User(username, role)


async def set_password(
    conn: AsyncConnection, passwords: Passwords, username: str, password: str
) -> None:
    check_password(username, password)
    done = await conn.execute(
        update(users)
        .where(users.c.username == username)
        .values(password_hash=await passwords.hash(password), disabled=False)
    )
    if not done.rowcount:
        raise AccountError(f"no user {username!r}")


async def set_disabled(conn: AsyncConnection, username: str, disabled: bool) -> None:
    done = await conn.execute(
        update(users).where(users.c.username == username).values(disabled=disabled)
    )
    if not done.rowcount:
        raise AccountError(f"no user {username!r}")


async def get_user(conn: AsyncConnection, username: str) -> User | None:
    row = (
        await conn.execute(
            select(users.c.username, users.c.role, users.c.disabled).where(
                users.c.username == username
            )
        )
    ).first()
    return None if row is None else User(row.username, row.role, bool(row.disabled))


async def list_users(conn: AsyncConnection) -> list[User]:
    rows = await conn.execute(
        select(users.c.username, users.c.role, users.c.disabled).order_by(users.c.username)
    )
    return [User(r.username, r.role, bool(r.disabled)) for r in rows.all()]


async def authenticate(
    conn: AsyncConnection, passwords: Passwords, username: str, password: str
) -> User | None:
    """The user when the password is right and the account enabled; None otherwise."""
    row = (
        await conn.execute(
            select(users.c.username, users.c.role, users.c.disabled, users.c.password_hash).where(
                users.c.username == username
            )
        )
    ).first()
    ok = await passwords.verify(None if row is None else row.password_hash, password)
    if row is None or not ok or row.disabled:
        return None
    return User(row.username, row.role)


async def set_role(conn: AsyncConnection, username: str, role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"role {role!r}: choose one of {', '.join(ROLES)}")
    done = await conn.execute(update(users).where(users.c.username == username).values(role=role))
    if not done.rowcount:
        raise AccountError(f"no user {username!r}")
