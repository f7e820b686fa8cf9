"""Run by the chaos test's delivery phase in a separate process: the real dispatcher (routing
file, notifiers, templates) delivering in a loop against a store until the test SIGKILLs it.

Its lease is one second, not the 15 s default, so a killed dispatcher's sends are free again
by the time the next process is up: the phase then takes seconds per kill, not a lease each."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta

import aiohttp

from monitor.alerts.config import load_config
from monitor.alerts.dispatcher import Dispatcher
from monitor.alerts.render import make_environment
from monitor.alerts.service import build_notifiers
from monitor.store import db
from tests.alerts.conftest import TEMPLATES

LEASE = timedelta(seconds=1)


async def main(url: str, routing: str) -> None:
    engine = db.create_engine(url)
    config = load_config(routing, os.environ)
    async with aiohttp.ClientSession() as session:
        d = Dispatcher(
            engine,
            config,
            build_notifiers(config, engine, session, os.environ),
            make_environment(TEMPLATES),
            environ=dict(os.environ),
            lease=LEASE,
        )
        while True:
            if await d.run_once() == 0:
                await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
