"""A process killed between sending and marking as sent: the message goes again once, with the
same idempotency key, after the dead sender's lease runs out — and never a third time."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.alerts import outbox
from monitor.alerts.dispatcher import Dispatcher
from monitor.alerts.notifiers.local import LocalNotifier
from monitor.alerts.render import Message
from monitor.alerts.service import build_notifiers
from monitor.store.tables import deliveries

from .conftest import NOW, ROOT, Clock, config_from, envs, mailbox_rows, open_alert

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ROUTING = """
route:
  receiver: hooks
  group_wait: 0s
  repeat_interval: 0s
  routes:
    - matchers: [kind=local]
      receiver: queue
receivers:
  - name: hooks
    webhook: [{url_env: T_WEBHOOK_URL, secret_env: T_WEBHOOK_SECRET, timeout: 60s, optional: true}]
  - name: queue
    local: [{mailbox: team}]
"""


async def test_killed_mid_send_sends_again_once_with_the_same_key(
    sqlite_url: str, engine: AsyncEngine, receiver_factory: Callable[..., Any], tmp_path: Path
) -> None:
    hook = await receiver_factory("hang", then=200)
    env = {"T_WEBHOOK_URL": hook.url(), "T_WEBHOOK_SECRET": SECRET}
    config = config_from(ROUTING, env)
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING)
    await open_alert(engine, {"kind": "threat", "area": "Toller"})
    async with engine.begin() as conn:
        await outbox.route_changed_alerts(conn, config, NOW, env)

    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.alerts.crash_child",
            sqlite_url,
            str(routing),
            NOW.isoformat(),
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(300):  # the child has sent: the receiver holds the request
            if hook.requests:
                break
            await asyncio.sleep(0.1)
        assert len(hook.requests) == 1, child.stderr.read().decode() if child.poll() else ""
    finally:
        child.kill()  # SIGKILL: no cleanup, no chance to mark anything
        child.wait(timeout=30)
    async with engine.connect() as conn:
        (row,) = (await conn.execute(select(deliveries))).mappings().all()
    assert (row["status"], row["attempts"]) == ("sending", 1)

    clock = Clock(NOW + timedelta(minutes=1))
    async with aiohttp.ClientSession() as session:
        d = Dispatcher(
            engine,
            config,
            build_notifiers(config, engine, session, env),
            envs(),
            environ=env,
            clock=clock,
            rng=random.Random(1),
            lease=timedelta(minutes=2),
        )
        await d.run_once(clock.now)
        assert len(hook.requests) == 1  # the dead sender's lease still runs: not yet
        await d.run_once(clock.advance(minutes=2))
        assert len(hook.requests) == 2
        first, second = hook.requests
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        for _ in range(5):
            await d.run_once(clock.advance(minutes=10))
    assert len(hook.requests) == 2  # at most once more, never again
    async with engine.connect() as conn:
        (row,) = (await conn.execute(select(deliveries))).mappings().all()
    assert (row["status"], row["attempts"]) == ("sent", 2)


class Killed(BaseException):
    """Stands for the process dying right after a send returned."""


class DiesAfterSending:
    channel = "local"

    def __init__(self, inner: LocalNotifier) -> None:
        self.inner = inner

    async def send(self, message: Message, recipient: str, key: str, now: Any) -> Any:
        await self.inner.send(message, recipient, key, now)
        raise Killed


async def test_the_local_mailbox_keeps_one_copy_after_a_crash(engine: AsyncEngine) -> None:
    config = config_from(ROUTING)
    await open_alert(engine, {"kind": "local", "area": "Toller"})
    async with engine.begin() as conn:
        await outbox.route_changed_alerts(conn, config, NOW, {})
    dying = Dispatcher(
        engine,
        config,
        {("queue", "local#0"): DiesAfterSending(LocalNotifier(engine))},
        envs(),
        environ={},
    )
    try:
        await dying.run_once(NOW)
    except Killed:
        pass
    assert len(await mailbox_rows(engine)) == 1
    clock = Clock(NOW + timedelta(minutes=5))
    again = Dispatcher(
        engine,
        config,
        {("queue", "local#0"): LocalNotifier(engine)},
        envs(),
        environ={},
        clock=clock,
    )
    await again.run_once(clock.now)
    await again.run_once(clock.advance(minutes=5))
    assert len(await mailbox_rows(engine)) == 1  # sent again, stored once (same key)
    async with engine.connect() as conn:
        (row,) = (await conn.execute(select(deliveries))).mappings().all()
    assert (row["status"], row["attempts"]) == ("sent", 2)
