"""The web app on the demo data, in-process on an ephemeral port: for the browser tests and the
README screenshots (`scripts/screenshots`)."""

from __future__ import annotations

import contextlib
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.config import Settings
from monitor.ingest.importer import import_file
from monitor.runtime.app import open_runtime
from monitor.runtime.state import Runtime
from monitor.store.tables import metadata
from monitor.types import Classifier
from monitor.web import accounts
from monitor.web.permissions import ROLES
from monitor.web.server import create_app

SCENARIO = Path(__file__).resolve().parent.parent / "data" / "demo" / "bradford-scenario.jsonl"


async def ensure_tables(engine: AsyncEngine) -> None:
    """Create tables the migrations do not have yet (newly appended ones); else nothing."""
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all, checkfirst=True)


@dataclass
class DemoSite:
    url: str
    runtime: Runtime
    passwords: dict[str, str]  # user name -> password; users are named after their roles


@contextlib.asynccontextmanager
async def serve(app: web.Application, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve `app` on a free port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
        sock.close()


@contextlib.asynccontextmanager
async def demo_site(
    settings: Settings,
    *,
    classifier: Classifier | None = None,
    hasher: accounts.Passwords | None = None,
    scenario: Path = SCENARIO,
) -> AsyncIterator[DemoSite]:
    """The demo scenario imported through the real pipeline, one account per role, served."""
    passwords = hasher or accounts.Passwords()
    async with open_runtime(settings, classifier=classifier) as rt:
        await ensure_tables(rt.engine)
        await import_file(scenario, rt.pipeline, batch_size=settings.ingest_batch_size, speed=0)
        await rt.pipeline.drain()
        made: dict[str, str] = {}
        async with rt.engine.begin() as conn:
            for role in ROLES:
                made[role] = secrets.token_urlsafe(12)
                await accounts.add_user(conn, passwords, role, role, made[role], datetime.now(UTC))
        app = create_app(settings, rt, passwords=passwords)
        async with serve(app) as url:
            yield DemoSite(url, rt, made)
