"""Fixtures for the web tests: a runtime on a temporary store, the app, accounts per role, and
fictional posts delivered through the real pipeline (keyword classifier, shipped rules)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientResponse, ClientSession, web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.runtime.app import open_runtime
from monitor.runtime.state import Runtime
from monitor.store.tables import metadata
from monitor.types import RawPost
from monitor.web import accounts
from monitor.web.accounts import Passwords
from monitor.web.permissions import ROLES
from monitor.web.server import create_app

PASSWORD = "correct horse battery staple"
T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def ensure_tables(engine: AsyncEngine) -> None:
    """Tables appended since the last migration (the lead writes migrations from the metadata
    later); on a store that has them already this does nothing."""
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all, checkfirst=True)


@pytest.fixture
def passwords() -> Passwords:
    return Passwords(PasswordHasher.from_parameters(CHEAPEST))


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        await ensure_tables(rt.engine)
        yield rt


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)

    @staticmethod
    def now_utc() -> datetime:
        return datetime.now(UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
def app(
    settings: Settings, runtime: Runtime, passwords: Passwords, clock: Clock
) -> web.Application:
    # The live stream polls the store at the setting's floor (0.2 s; 3 s by default): the tests
    # of what it reports waited out a whole default poll for each event they read.
    quick = settings.with_overrides(web_events_poll_seconds=0.2)
    return create_app(quick, runtime, passwords=passwords, clock=clock)


Client = TestClient[Any, web.Application]


@pytest.fixture
async def client(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]], app: web.Application
) -> Client:
    return await aiohttp_client(app)


async def add_user(rt: Runtime, passwords: Passwords, name: str, role: str) -> None:
    async with rt.engine.begin() as conn:
        await accounts.add_user(conn, passwords, name, role, PASSWORD, datetime.now(UTC))


@pytest.fixture
async def users(runtime: Runtime, passwords: Passwords) -> dict[str, str]:
    """One account per role, named after it (plus a second analyst): role -> user name."""
    for role in ROLES:
        await add_user(runtime, passwords, role, role)
    await add_user(runtime, passwords, "analyst2", "analyst")
    return {role: role for role in ROLES}


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


async def sign_in(client: Client | ClientSession, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form like a browser; returns the session's CSRF token."""
    form = await client.get("/login")
    token = csrf_of(await form.text())
    done = await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        allow_redirects=False,
    )
    assert done.status == 303, await done.text()
    home = await client.get("/")
    assert home.status == 200
    return csrf_of(await home.text())


async def state_purpose(client: Client, csrf: str, choice: str = "triage") -> None:
    done = await client.post(
        "/purpose",
        data={"choice": choice, "details": "test", "csrf_token": csrf, "next": "/"},
        allow_redirects=False,
    )
    assert done.status == 303, await done.text()


@dataclass
class Seeded:
    alert_ids: list[int]


HOSTILE_POSTS = (
    "(fictional) Send them back, simple as. Not welcome here in Manningham",
    "(fictional) They don't belong here, kick them out of Manningham",
    "(fictional) Get them out of Toller, they are not welcome here",
)


def raw(i: int, text: str, when: datetime = T0, url: str | None = None) -> RawPost:
    return RawPost(
        platform="mastodon",
        native_id=f"https://social.example/users/fictional{i}/statuses/{1000 + i}",
        text=text,
        created_at=when + timedelta(minutes=i),
        author_id=f"https://social.example/users/fictional{i}",
        source="test",
        url=url,
        language="en",
    )


async def deliver(rt: Runtime, texts: tuple[str, ...] | list[str], start: int = 0) -> None:
    posts = [raw(start + i, t) for i, t in enumerate(texts)]
    await rt.pipeline.deliver("test", posts, None)
    await rt.pipeline.drain()


@pytest.fixture
async def seeded(runtime: Runtime) -> Seeded:
    """A few fictional hostile posts in two wards: they open alerts through the pipeline."""
    await deliver(runtime, HOSTILE_POSTS)
    from sqlalchemy import select

    from monitor.store.tables import alerts

    async with runtime.engine.connect() as conn:
        ids = [r[0] for r in (await conn.execute(select(alerts.c.id).order_by(alerts.c.id)))]
    assert ids, "the fictional hostile posts opened no alert"
    return Seeded(ids)


async def seed_rumour(rt: Runtime, post_texts: tuple[str, ...] = ()) -> int:
    """A rumour cluster as the signals stage stores one, with some of the stored posts as members
    (direct rows: the stage's clustering is tested in tests/signals)."""
    from sqlalchemy import insert, select

    from monitor.store.tables import posts, rumour_posts, rumours

    now = datetime.now(UTC)
    async with rt.engine.begin() as conn:
        await conn.execute(
            insert(rumours).values(
                id=900,
                status="watching",
                registered=False,
                claim_text=None,
                representative="(fictional) Apparently the old mill is being turned into flats",
                first_seen=T0,
                last_seen=T0 + timedelta(hours=3),
                post_count=3,
                author_count=3,
                places={"Toller": 2, "Manningham": 1},
                stance={"support": 2, "query": 1},
                velocity=1.0,
                acceleration=0.0,
                spreading=True,
                centroid_count=0,
                revision=0,
                created_at=now,
                updated_at=now,
            )
        )
        rows = (await conn.execute(select(posts.c.id, posts.c.created_at, posts.c.text))).all()
        for r in rows:
            if not post_texts or r.text in post_texts:
                await conn.execute(
                    insert(rumour_posts).values(
                        rumour_id=900,
                        post_id=r.id,
                        created_at=r.created_at,
                        how="similar",
                        similarity=0.8,
                        stance="support",
                        place="Toller",
                        state="member",
                        added_at=now,
                    )
                )
    return 900


async def response_text(response: ClientResponse) -> str:
    """The response's text as a reader would get it: a Word export (a zip) by the text of its
    document, anything else decoded as UTF-8."""
    raw = await response.read()
    if raw[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(raw)) as document:
            return document.read("word/document.xml").decode("utf-8")
    return raw.decode("utf-8")
