"""Shared pieces for the alerts tests: a migrated store, alerts opened the way the pipeline
opens them, an injectable clock, routing files written inline, and real peers — an aiohttp
receiver scripted to answer 200, 202, 429, 500, 4xx or to hang, and an aiosmtpd SMTP server.

All posts and addresses are fictional.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.alerts.config import AlertConfig, load_config, parse_config
from monitor.alerts.dispatcher import Dispatcher
from monitor.alerts.render import make_environment
from monitor.alerts.service import build_notifiers
from monitor.store import db
from monitor.store.tables import alert_posts, alerts, mailbox, metadata
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "alerts" / "templates"


def env_dispatcher(
    url: str, routing: str, session: aiohttp.ClientSession, **options: Any
) -> Dispatcher:
    """The real dispatcher a child process runs (tests/chaos_dispatcher.py, crash_child.py): a
    store at `url`, the routing file, notifiers and secrets from the environment, the bundled
    templates; `options` are Dispatcher's keyword settings (lease, send_timeout)."""
    engine = db.create_engine(url)
    config = load_config(routing, os.environ)
    return Dispatcher(
        engine,
        config,
        build_notifiers(config, engine, session, os.environ),
        make_environment(TEMPLATES),
        environ=dict(os.environ),
        **options,
    )


# Tuesday 3 November 2026, 10:00 GMT: inside office and working hours.
NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
SCRIPT_PAYLOAD = (
    '(fictional) <script>alert("x")</script><img src=x onerror=alert(2)> '
    "<https://evil.example/|click here> <!channel> [link](https://evil.example/) & more"
)


def envs() -> Any:
    return make_environment(TEMPLATES)


async def make_store(url: str) -> AsyncEngine:
    """A store at `url` with every table: the migrations, then any table they lack yet."""
    engine = db.create_engine(url)
    await db.upgrade(engine)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return engine


@pytest.fixture
async def engine(migrated_sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    eng = await make_store(migrated_sqlite_url)
    try:
        yield eng
    finally:
        await eng.dispose()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


def config_from(text: str, environ: Mapping[str, str] | None = None) -> AlertConfig:
    return parse_config(text, "test-routing.yaml", environ or {})


async def open_alert(
    engine: AsyncEngine,
    labels: Mapping[str, str],
    *,
    now: datetime = NOW,
    excerpts: Sequence[str] = (),
    summary: str | None = None,
    status: str = "new",
) -> int:
    """Open an alert as monitor/store/alerts.py does (labels, key, evidence excerpts)."""
    key = ",".join(f"{k}={labels[k]}" for k in sorted(labels) if k not in ("severity", "level"))
    async with engine.begin() as conn:
        alert_id = (
            await conn.execute(
                alerts.insert()
                .values(
                    key=key,
                    labels=dict(labels),
                    summary=summary or f"{labels.get('kind', '?')} in {labels.get('area', '?')}",
                    status=status,
                    post_count=len(excerpts),
                    first_seen=now,
                    last_seen=now,
                    created_at=now,
                    updated_at=now,
                )
                .returning(alerts.c.id)
            )
        ).scalar_one()
        for i, text in enumerate(excerpts):
            await conn.execute(
                alert_posts.insert().values(
                    alert_id=alert_id,
                    post_id=f"mastodon:https://social.example/statuses/{alert_id}-{i}",
                    excerpt=text,
                    rules=["test"],
                    added_at=now,
                )
            )
    return int(alert_id)


async def set_alert(engine: AsyncEngine, alert_id: int, now: datetime, **values: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            update(alerts).where(alerts.c.id == alert_id).values(updated_at=now, **values)
        )


async def mailbox_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(mailbox).order_by(mailbox.c.id))).mappings().all()
    return [dict(r) for r in rows]


# --- a scripted HTTP receiver ----------------------------------------------------------------


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes
    at: datetime | None = None  # the test clock's time when it arrived

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ScriptedReceiver:
    """Answers each request with the next scripted reply: a status (200, 202, 429, 500, 400,
    410 …), a (status, headers) pair, or "hang" (never answers until the test ends). Once the
    script is used up it answers `then`. Every request is recorded as it arrives."""

    script: list[Any] = field(default_factory=list)
    then: Any = 200
    requests: list[Recorded] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    server: TestServer | None = None
    clock: Callable[[], datetime] | None = None

    def url(self, path: str = "/hook") -> str:
        assert self.server is not None
        return str(self.server.make_url(path))

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        at = self.clock() if self.clock is not None else None
        self.requests.append(Recorded(request.path, dict(request.headers), body, at))
        reply = self.script.pop(0) if self.script else self.then
        if reply == "hang":
            await self.release.wait()
            return web.Response(status=200)
        status, headers = reply if isinstance(reply, tuple) else (reply, {})
        return web.Response(status=status, headers=headers, text="ok" if status < 300 else "no")


@pytest.fixture
async def receiver_factory() -> AsyncIterator[Callable[..., Any]]:
    made: list[ScriptedReceiver] = []

    async def make(*script: Any, then: Any = 200, port: int | None = None) -> ScriptedReceiver:
        rec = ScriptedReceiver(list(script), then)
        app = web.Application()
        app.router.add_post("/{tail:.*}", rec.handle)
        rec.server = TestServer(app, host="127.0.0.1", port=port)
        await rec.server.start_server()
        made.append(rec)
        return rec

    yield make
    for rec in made:
        rec.release.set()
        assert rec.server is not None
        await rec.server.close()


# --- an SMTP server (aiosmtpd) ------------------------------------------------------------------


class SmtpHandler:
    """Records delivered messages; `refuse` maps a recipient to the replies its next RCPT
    commands get (e.g. ["451 4.3.0 try later"] or ["550 5.1.1 no such mailbox"] * 9)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: dict[str, list[str]] = {}
        self.rcpt_attempts: dict[str, int] = {}

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        self.rcpt_attempts[address] = self.rcpt_attempts.get(address, 0) + 1
        queue = self.refuse.get(address)
        if queue:
            return queue.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp_server() -> Any:
    from aiosmtpd.controller import Controller

    handler = SmtpHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()
