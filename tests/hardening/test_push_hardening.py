"""Findings 13, 14, 17 (push endpoint) and 2 and 4 (numbers and dates at the boundary)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from monitor.classify.keyword import KeywordClassifier
from monitor.cli import cli
from monitor.config import ConfigError, Settings, push_secret
from monitor.runtime.app import open_runtime
from monitor.store.tables import posts
from monitor.web.server import create_app
from tests.web.test_push_ingest import ENV, Pusher, push_client, record, signed, stored

__all__ = ["push_client"]  # the fixture, re-exported for pytest


@pytest.fixture
async def unprocessed_push_client(push_client: Pusher) -> AsyncIterator[Pusher]:
    """The push endpoint with the pipeline's worker stopped while it is idle (so no batch is
    cut short): a 202 still means the posts are in the store, and they stay there unprocessed.
    For the large pushes, where processing thousands of posts no test looks at took the stop
    at the end 9-20 s (the whole drain budget)."""
    pipeline = push_client.runtime.pipeline
    await pipeline.drain()  # the worker has resumed and waits for work
    await pipeline.stop(drain=False)
    yield push_client


async def stored_unprocessed(pusher: Pusher) -> int:
    async with pusher.runtime.engine.connect() as conn:
        query = select(func.count()).select_from(posts).where(posts.c.processed_at.is_(None))
        return int((await conn.execute(query)).scalar_one())


def _secret(key: bytes) -> str:
    return "whsec_" + base64.b64encode(key).decode()


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("whsec_", "0-byte key"),
        (_secret(b"k"), "1-byte key"),
        (_secret(b"x" * 23), "23-byte key"),
        ("whsec_not base64!!", "base64"),
        (base64.b64encode(b"x" * 32).decode(), "whsec_"),
    ],
)
def test_weak_or_malformed_push_secrets_are_refused_at_start_up(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, secret: str, why: str
) -> None:
    monkeypatch.setenv(ENV, secret)
    settings = replace(settings, push_secret_env=ENV)
    with pytest.raises(ConfigError, match=why):
        push_secret(settings)
    with pytest.raises(ConfigError, match=why):
        create_app(settings)
    result = CliRunner().invoke(cli, ["run", "--role", "web"], env={"MONITOR_PUSH_SECRET_ENV": ENV})
    assert result.exit_code != 0 and why in result.output and "Traceback" not in result.output


def test_a_strong_secret_is_accepted(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, _secret(b"s" * 24))
    assert push_secret(replace(settings, push_secret_env=ENV)) == _secret(b"s" * 24)


@pytest.mark.parametrize("size_mb", [0.5, 4])
async def test_a_large_push_under_the_limit_is_verified_on_its_whole_body(
    unprocessed_push_client: Pusher, size_mb: float
) -> None:
    push_client = unprocessed_push_client
    padding = "x" * 2000
    lines = []
    n = 0
    while sum(map(len, lines)) < size_mb * 1024 * 1024:
        lines.append(json.dumps(record(n, text=f"(fictional) Toller {n} {padding}")))
        n += 1
    body = "\n".join(lines).encode()
    resp = await push_client.post(body, signed(body, f"big-{size_mb}"))
    assert resp.status == 202, await resp.text()
    assert (await resp.json())["accepted"] == n
    assert await stored_unprocessed(push_client) == n


async def test_a_ten_thousand_record_batch_is_accepted_whole(
    unprocessed_push_client: Pusher,
) -> None:
    push_client = unprocessed_push_client
    body = "\n".join(json.dumps(record(n)) for n in range(10_000)).encode()
    resp = await push_client.post(body, signed(body, "batch-10k"))
    assert resp.status == 202, await resp.text()
    assert (await resp.json())["accepted"] == 10_000
    assert await stored_unprocessed(push_client) == 10_000


async def test_a_body_over_the_limit_is_refused_with_413(push_client: Pusher) -> None:
    body = b"x" * (5 * 1024 * 1024 + 1)
    assert (await push_client.post(body, signed(body))).status == 413


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b"{" + b'"a":[' * 50_000 + b"]" * 50_000 + b"}",
        json.dumps([{"platform": "partner", "id": "x", "text": [[[[[[[]]]]]]]}]).encode(),
        b'{"platform": "partner"',
        b"[1, 2",
        b"\xff\xfe",
    ],
)
async def test_deep_nesting_and_malformed_bodies_get_a_4xx_not_a_500(
    push_client: Pusher, body: bytes
) -> None:
    resp = await push_client.post(body, signed(body))
    assert 400 <= resp.status < 500 or resp.status == 202
    assert resp.status != 500


@pytest.mark.parametrize(
    "created_at",
    ["0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59+00:00",
     "1999-12-31T23:59:59+00:00", "2199-01-01T00:00:00Z"],
)  # fmt: skip
async def test_dates_outside_the_plausible_range_are_refused_per_record(
    push_client: Pusher, created_at: str
) -> None:
    body = "\n".join([json.dumps(record(1)), json.dumps(record(2, created_at=created_at))]).encode()
    resp = await push_client.post(body, signed(body))
    assert resp.status == 202
    result = await resp.json()
    assert result["accepted"] == 1
    assert [p["record"] for p in result["problems"]] == [2]
    assert "created_at" in result["problems"][0]["reason"]
    assert await stored(push_client) == 1


async def test_huge_engagement_counts_are_clamped_to_the_column_and_the_post_kept(
    push_client: Pusher,
) -> None:
    body = json.dumps(record(1, likes=2**63, reposts=2**31, replies=10**40)).encode()
    resp = await push_client.post(body, signed(body))
    assert resp.status == 202 and (await resp.json())["accepted"] == 1
    rt = push_client.runtime
    await rt.pipeline.drain()
    async with rt.engine.connect() as conn:
        row = (await conn.execute(select(posts))).one()
    assert (row.like_count, row.repost_count, row.reply_count) == (2**31 - 1,) * 3


async def test_the_existing_good_secret_still_opens_the_endpoint(
    settings: Settings, aiohttp_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV, _secret(b"p" * 32))
    settings = replace(settings, push_secret_env=ENV)
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        client = await aiohttp_client(create_app(settings, rt))
        body = json.dumps(record(1)).encode()
        resp = await client.post(
            "/api/v1/ingest", data=body, headers=signed(body, secret=_secret(b"p" * 32))
        )
        assert resp.status == 202


async def test_an_unpaired_surrogate_in_an_id_or_source_is_a_record_problem_not_a_503(
    push_client: Pusher,
) -> None:
    # json.dumps writes the lone surrogate as the escape "\ud800", as a broken sender would.
    body = "\n".join(
        [
            json.dumps(record(1, source="\ud800")),
            json.dumps(record(2, id="x\udfff")),
            json.dumps(record(3)),
        ]
    ).encode()
    resp = await push_client.post(body, signed(body))
    assert resp.status == 202
    result = await resp.json()
    assert result["accepted"] == 1 and [p["record"] for p in result["problems"]] == [1, 2]
    assert await stored(push_client) == 1


async def test_a_nul_in_an_id_source_or_language_is_a_record_problem(push_client: Pusher) -> None:
    # SQLite stored these; PostgreSQL refused the source (and then its quarantine row), which
    # stopped the pipeline: the same push must be answered the same on either store.
    body = "\n".join(
        [
            json.dumps(record(1, source="partner\x00feed")),
            json.dumps(record(2, id="x\x00y")),
            json.dumps(record(3, lang="en\x00")),
            json.dumps(record(4, text="(fictional) a NUL \x00 in the text is removed")),
        ]
    ).encode()
    resp = await push_client.post(body, signed(body))
    assert resp.status == 202
    result = await resp.json()
    assert result["accepted"] == 1 and [p["record"] for p in result["problems"]] == [1, 2, 3]
    assert all("NUL character" in p["reason"] for p in result["problems"])
    assert await stored(push_client) == 1


async def test_a_number_of_thousands_of_digits_is_a_record_problem_not_a_refused_push(
    push_client: Pusher,
) -> None:
    # Python refuses to read an integer of over 4,300 digits with a plain ValueError, which
    # the handler took for a bad body: the whole push was a 400 and its good posts were lost.
    huge = json.dumps(record(2)).replace("}", ', "likes": 1' + "0" * 5000 + "}")
    body = "\n".join([json.dumps(record(1)), huge, json.dumps(record(3))]).encode()
    resp = await push_client.post(body, signed(body))
    assert resp.status == 202, await resp.text()
    result = await resp.json()
    assert result["accepted"] == 2 and [p["record"] for p in result["problems"]] == [2]
    assert "more than 4,300 digits" in result["problems"][0]["reason"]
    assert await stored(push_client) == 2
    # In a JSON array the body is one document: refused whole, saying why.
    array = b"[" + huge.encode() + b"]"
    resp = await push_client.post(array, signed(array, msg_id="msg_2"))
    assert resp.status == 400 and "more than 4,300 digits" in (await resp.json())["error"]
