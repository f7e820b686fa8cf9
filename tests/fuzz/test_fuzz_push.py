"""Fuzz the push endpoint through a real aiohttp server: signed bodies of mutated records, JSON
lines, arrays and junk, and hostile signature headers. Never a 500; every record is accepted or
reported by number; and every accepted post is stored (nothing the endpoint took is lost)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from monitor.alerts.notifiers.webhook import sign
from monitor.store.tables import posts
from tests.fuzz.strategies import HOSTILE_STRINGS, any_json, fuzz, mutate
from tests.fuzz.test_fuzz_import import GOOD
from tests.web.test_push_ingest import SECRET, Pusher, push_client

__all__ = ["push_client"]

_ids = itertools.count()


def _signed(body: bytes, msg_id: str) -> dict[str, str]:
    ts = int(time.time())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(SECRET, msg_id, ts, body),
    }


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, int | None]:
    """A body and how many records it holds (None: not a records body at all)."""
    data = draw(st.data())
    records: list[Any] = []
    for _ in range(draw(st.integers(0, 5))):
        record = mutate(data, GOOD)
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            record["id"] = f"fz{next(_ids)}-{record['id']}"  # unique: dedup must not hide a loss
        records.append(record)
    shape = draw(st.integers(0, 3))
    if shape == 0:
        return json.dumps(records).encode(), len(records)
    if shape == 1:
        lines = [json.dumps(r) for r in records]
        # JSON lines whose first line is an array read as one array body: count unknown.
        as_array = bool(lines) and lines[0].startswith("[")
        return "\n".join(lines).encode(), None if as_array else len(lines)
    if shape == 2:
        return json.dumps(draw(any_json)).encode(), None
    return draw(st.binary(max_size=200)), None


async def _stored(pusher: Pusher) -> int:
    await pusher.runtime.pipeline.drain()
    async with pusher.runtime.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(posts))).scalar_one())


async def test_signed_pushes_of_anything(push_client: Pusher) -> None:
    loop = asyncio.get_running_loop()
    accepted = [0]
    before = await _stored(push_client)

    def call(body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        async def go() -> tuple[int, Any]:
            resp = await push_client.post(body, headers)
            try:
                return resp.status, await resp.json()
            except (ValueError, TypeError):
                return resp.status, await resp.text()

        return asyncio.run_coroutine_threadsafe(go(), loop).result(timeout=60)

    @fuzz
    @given(case=bodies())
    def one(case: tuple[bytes, int | None]) -> None:
        body, count = case
        status, reply = call(body, _signed(body, f"fuzz-{next(_ids)}"))
        assert status in (202, 400), (status, reply)
        if status == 202:
            problems = reply["problems"]
            assert all(p["reason"] for p in problems)
            if count is not None:  # each record accepted or reported, none dropped
                assert reply["accepted"] + len(problems) == count, reply
            accepted[0] += reply["accepted"]

    await asyncio.to_thread(one)
    assert await _stored(push_client) - before == accepted[0]  # nothing accepted was lost


async def test_hostile_signature_headers_are_refused_not_crashed(push_client: Pusher) -> None:
    loop = asyncio.get_running_loop()
    header_value = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=30)).map(
        lambda s: "".join(c for c in s if c.isprintable() and c not in "\r\n")
    )

    @fuzz
    @given(
        msg_id=header_value,
        timestamp=st.one_of(
            header_value,
            st.integers().map(str),
            st.sampled_from(["9" * 400, "-" + "9" * 400, "9" * 5000, "1e9", " 1"]),
        ),
        signature=header_value,
    )
    def one(msg_id: str, timestamp: str, signature: str) -> None:
        body = json.dumps([GOOD]).encode()
        headers = {"webhook-id": msg_id, "webhook-timestamp": timestamp}
        headers["webhook-signature"] = signature
        resp = asyncio.run_coroutine_threadsafe(push_client.post(body, headers), loop).result(60)
        assert resp.status == 401

    await asyncio.to_thread(one)
