"""Finding 15: sign-in throttling by name and address with growing delays, shared through the
store, and no lockout a stranger can cause; weak and common passwords refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.store import db
from monitor.web.accounts import AccountError, check_password
from monitor.web.ratelimit import NAME_CAP, LoginLimiter, delay
from tests.web.conftest import PASSWORD, Client, Clock, csrf_of

T = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def test_delays_start_after_the_free_tries_and_double_up_to_the_cap() -> None:
    cap = timedelta(minutes=15)
    assert [delay(n, 3, cap).total_seconds() for n in range(7)] == [0, 0, 0, 1, 2, 4, 8]
    assert delay(40, 3, cap) == cap


@pytest.fixture
async def engine(migrated_store_url: str) -> AsyncIterator[AsyncEngine]:
    """The throttle's upsert differs by dialect: each test runs on SQLite and PostgreSQL."""
    engine = db.create_engine(migrated_store_url)
    await db.upgrade(engine)
    yield engine
    await engine.dispose()


async def _fail(limiter: LoginLimiter, engine: AsyncEngine, name: str, addr: str, at: datetime):  # type: ignore[no-untyped-def]
    async with engine.begin() as conn:
        await limiter.failed(conn, limiter.keys(name, addr), at)


async def _wait(
    limiter: LoginLimiter, engine: AsyncEngine, name: str, addr: str, at: datetime
) -> float:
    async with engine.connect() as conn:
        return await limiter.retry_after(conn, limiter.keys(name, addr), at)


async def test_a_stranger_failing_from_many_addresses_cannot_lock_the_real_user_out(
    engine: AsyncEngine,
) -> None:
    limiter = LoginLimiter(free_failures=5, window_seconds=900)
    for i in range(200):  # a spray against one name from 200 addresses
        await _fail(limiter, engine, "comms", f"203.0.113.{i}", T)
    # From the real user's own address the wait is the name's short cap, not 15 minutes.
    wait = await _wait(limiter, engine, "comms", "10.1.2.3", T)
    assert 0 < wait <= NAME_CAP.total_seconds()
    assert await _wait(limiter, engine, "comms", "10.1.2.3", T + NAME_CAP) == 0


async def test_one_address_guessing_one_name_waits_longer_and_longer(engine: AsyncEngine) -> None:
    limiter = LoginLimiter(free_failures=3, window_seconds=900)
    waits = []
    at = T
    for _ in range(8):
        at += timedelta(seconds=await _wait(limiter, engine, "sam", "198.51.100.7", at))
        await _fail(limiter, engine, "sam", "198.51.100.7", at)
        waits.append(await _wait(limiter, engine, "sam", "198.51.100.7", at))
    assert waits[:2] == [0, 0]
    assert all(b >= a for a, b in zip(waits, waits[1:], strict=False)) and waits[-1] >= 16
    # Other people behind the same office address are not held up by sam's typos.
    assert await _wait(limiter, engine, "kim", "198.51.100.7", at) == 0


async def test_counts_are_shared_by_every_web_process_through_the_store(
    engine: AsyncEngine,
) -> None:
    one, two = LoginLimiter(free_failures=2), LoginLimiter(free_failures=2)
    for limiter in (one, two, one, two):
        await _fail(limiter, engine, "sam", "192.0.2.1", T)
    assert await _wait(two, engine, "sam", "192.0.2.1", T) > 0
    assert await _wait(one, engine, "sam", "192.0.2.1", T) > 0


async def test_a_right_password_clears_the_names_count_and_old_failures_are_forgotten(
    engine: AsyncEngine,
) -> None:
    limiter = LoginLimiter(free_failures=2, window_seconds=60)
    for _ in range(4):
        await _fail(limiter, engine, "sam", "192.0.2.1", T)
    assert await _wait(limiter, engine, "sam", "192.0.2.1", T) > 0
    assert await _wait(limiter, engine, "sam", "192.0.2.1", T + timedelta(seconds=61)) == 0
    async with engine.begin() as conn:
        await limiter.succeeded(conn, limiter.keys("sam", "192.0.2.1"))
    assert await _wait(limiter, engine, "sam", "192.0.2.1", T) == 0


async def test_the_table_holds_no_names_or_addresses(engine: AsyncEngine) -> None:
    limiter = LoginLimiter()
    await _fail(limiter, engine, "sam", "192.0.2.1", T)
    async with engine.connect() as conn:
        keys = (await conn.exec_driver_sql("select key from login_throttle")).scalars().all()
    assert len(keys) == 3 and not any("sam" in k or "192.0.2" in k for k in keys)


@pytest.mark.parametrize(
    "password", ["aaaaaaaaaaaa", "password1234", "qwertyuiop12", "manningham123", "short"]
)
def test_weak_and_common_passwords_are_refused_with_a_reason(password: str) -> None:
    with pytest.raises(AccountError, match="password: .+"):
        check_password("sam", password)


def test_a_strong_passphrase_is_accepted() -> None:
    check_password("sam", PASSWORD)


async def test_the_sign_in_form_shows_the_wait_and_the_real_user_gets_in_soon(
    client: Client, users: dict[str, str], clock: Clock
) -> None:
    form = await client.get("/login")
    token = csrf_of(await form.text())
    statuses = []
    for _ in range(14):
        r = await client.post(
            "/login",
            data={"username": "comms", "password": "guess-guess-guess", "csrf_token": token},
        )
        statuses.append(r.status)
    assert statuses[:5] == [401] * 5 and 429 in statuses
    refused = await client.post(
        "/login", data={"username": "comms", "password": PASSWORD, "csrf_token": token}
    )
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
    clock.advance(minutes=16)  # the longest wait, not a lockout
    ok = await client.post(
        "/login",
        data={"username": "comms", "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )
    assert ok.status == 303
