"""POST /api/v1/ingest: signed pushes from partners, in the import schema."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from monitor.alerts.notifiers.webhook import sign
from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.runtime.app import open_runtime
from monitor.runtime.state import Runtime
from monitor.store.tables import posts
from monitor.web.server import create_app
from tests.web.conftest import ensure_tables

SECRET = "whsec_" + base64.b64encode(b"fictional-partner-shared-secret-32").decode()
ENV = "MONITOR_TEST_PUSH_SECRET"


def record(n: int, **extra: object) -> dict[str, object]:
    return {
        "platform": "partner",
        "id": f"fictional-{n}",
        "text": f"(fictional) Heard the library in Manningham is closing, is it true? {n}",
        "created_at": "2026-11-03T10:00:00+00:00",
        "author": f"partner-author-{n}",
        **extra,
    }


def signed(body: bytes, msg_id: str = "msg_1", secret: str = SECRET) -> dict[str, str]:
    ts = int(time.time())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, msg_id, ts, body),
        "content-type": "application/x-ndjson",
    }


@dataclass
class Pusher:
    client: TestClient
    runtime: Runtime

    async def post(self, body: bytes, headers: dict[str, str] | None = None) -> ClientResponse:
        return await self.client.post("/api/v1/ingest", data=body, headers=headers)


@pytest.fixture
async def push_client(
    settings: Settings, aiohttp_client, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Pusher]:
    monkeypatch.setenv(ENV, SECRET)
    settings = replace(settings, push_secret_env=ENV)
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        await ensure_tables(rt.engine)
        yield Pusher(await aiohttp_client(create_app(settings, rt)), rt)


async def stored(pusher: Pusher) -> int:
    rt = pusher.runtime
    await rt.pipeline.drain()
    async with rt.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(posts))).scalar_one())


async def test_a_signed_push_is_stored_and_bad_records_reported(push_client: Pusher) -> None:
    body = "\n".join(
        [json.dumps(record(1)), "{not json", json.dumps(record(2)), json.dumps({"id": "x"})]
    ).encode()
    resp = await push_client.post(body, signed(body))
    assert resp.status == 202
    result = await resp.json()
    assert result["accepted"] == 2
    assert [p["record"] for p in result["problems"]] == [2, 4]
    assert await stored(push_client) == 2


async def test_unsigned_tampered_or_stale_pushes_are_refused(push_client: Pusher) -> None:
    body = json.dumps(record(1)).encode()
    assert (await push_client.post(body)).status == 401
    headers = signed(body)
    tampered = body.replace(b"Manningham", b"Heaton")
    assert (await push_client.post(tampered, headers)).status == 401
    wrong = signed(body, secret="whsec_" + base64.b64encode(b"another-secret").decode())
    assert (await push_client.post(body, wrong)).status == 401
    stale = signed(body)
    old = int(stale["webhook-timestamp"]) - 3600
    stale.update(
        {"webhook-timestamp": str(old), "webhook-signature": sign(SECRET, "msg_1", old, body)}
    )
    assert (await push_client.post(body, stale)).status == 401
    for header, value in (("webhook-signature", "v1,é"), ("webhook-id", "msg_é")):
        odd = {**signed(body), header: value}  # not ASCII: cannot match, never a 500
        assert (await push_client.post(body, odd)).status == 401, header
    assert await stored(push_client) == 0


async def test_a_json_array_works_and_a_repeated_message_id_delivers_once(
    push_client: Pusher,
) -> None:
    body = json.dumps([record(1), record(2), record(3)]).encode()
    first = await push_client.post(body, signed(body, "m-7"))
    again = await push_client.post(body, signed(body, "m-7"))
    assert (first.status, (await first.json())["accepted"]) == (202, 3)
    assert again.status == 200 and (await again.json())["duplicate"] is True
    assert await stored(push_client) == 3


async def test_html_in_pushed_posts_is_stored_as_text(push_client: Pusher) -> None:
    body = json.dumps(
        record(9, text="<p>(fictional) <script>alert(1)</script>Meeting in Toller</p>", html=True)
    ).encode()
    assert (await push_client.post(body, signed(body))).status == 202
    rt = push_client.runtime
    await rt.pipeline.drain()
    async with rt.engine.connect() as conn:
        text = (await conn.execute(select(posts.c.text))).scalar_one()
    assert "<script>" not in text and "alert(1)" not in text and "Meeting in Toller" in text


async def test_the_endpoint_is_off_without_a_secret(settings: Settings, aiohttp_client) -> None:
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        client = await aiohttp_client(create_app(settings, rt))
        body = json.dumps(record(1)).encode()
        resp = await client.post("/api/v1/ingest", data=body, headers=signed(body))
        assert resp.status == 404
