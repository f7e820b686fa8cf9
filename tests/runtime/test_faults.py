"""Telling an unavailable store from a bad record, with the errors the real drivers raise."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
import sqlalchemy.exc

from monitor.runtime.faults import StageFailed, is_transient, isolate


def sqlite_error(sql: str, *args: object, readonly: bool = False) -> BaseException:
    conn = sqlite3.connect(":memory:")
    conn.execute("create table t (n integer, s text)")
    if readonly:
        conn.execute("PRAGMA query_only=ON")
    try:
        conn.execute(sql, args)
    except Exception as exc:
        return exc
    raise AssertionError("no error")


def wrapped(orig: BaseException) -> BaseException:
    """As SQLAlchemy raises it, with the statement and the record's values quoted."""
    if isinstance(orig, sqlite3.OperationalError):
        return sqlalchemy.exc.OperationalError("insert ...", {"s": "connection timeout"}, orig)
    if isinstance(orig, sqlite3.Error):
        return sqlalchemy.exc.DBAPIError("insert ...", {"s": "connection timeout"}, orig)
    return sqlalchemy.exc.StatementError(str(orig), "insert ...", {"s": "timeout"}, orig)


def test_a_number_too_big_is_a_bad_record_even_when_its_text_says_timeout() -> None:
    exc = wrapped(sqlite_error("insert into t values (?, ?)", 2**63, "connection timeout"))
    assert not is_transient(exc)
    assert not is_transient(StageFailed("store", exc))


def test_a_read_only_or_locked_sqlite_file_is_an_outage() -> None:
    exc = sqlite_error("insert into t values (1, 'x')", readonly=True)
    assert "readonly" in str(exc)
    assert is_transient(wrapped(exc))
    assert is_transient(
        StageFailed("store", wrapped(sqlite3.OperationalError("database is locked")))
    )


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute INSERT"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        ConnectionRefusedError(111, "Connection refused"),
    ],
)
def test_postgresql_going_away_is_an_outage(error: BaseException) -> None:
    exc = sqlalchemy.exc.DBAPIError("insert ...", {}, error)
    assert is_transient(exc)


def test_a_postgresql_data_error_quoting_the_value_is_a_bad_record() -> None:
    orig = asyncpg.exceptions.DataError(
        "invalid input for query argument $3: 'server closed the connection timeout'"
    )
    assert not is_transient(sqlalchemy.exc.DBAPIError("insert ...", {}, orig))


async def test_isolate_finds_each_bad_record_and_keeps_the_rest() -> None:
    attempts: list[list[int]] = []

    async def attempt(part: list[int]) -> list[int]:  # type: ignore[misc]
        attempts.append(list(part))
        if 3 in part or 6 in part:
            raise ValueError("bad")
        return list(part)

    found = await isolate(list(range(8)), attempt)  # type: ignore[arg-type]
    assert sorted(x for r in found.results for x in r) == [0, 1, 2, 4, 5, 7]
    assert [x for x, _ in found.bad] == [3, 6]


async def test_isolate_stops_at_an_outage_instead_of_quarantining_everything() -> None:
    async def attempt(part: list[int]) -> list[int]:  # type: ignore[misc]
        raise sqlalchemy.exc.OperationalError("insert", {}, sqlite3.OperationalError("locked"))

    with pytest.raises(sqlalchemy.exc.OperationalError):
        await isolate([1, 2, 3], attempt)  # type: ignore[arg-type]
