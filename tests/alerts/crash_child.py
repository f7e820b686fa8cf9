"""Run by test_crash.py in a separate process: one dispatcher round at a given time, against a
store and a webhook that never answers — so the test can kill this process mid-send."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime

import aiohttp

from monitor.alerts.config import load_config
from monitor.alerts.dispatcher import Dispatcher
from monitor.alerts.render import make_environment
from monitor.alerts.service import build_notifiers
from monitor.store import db

from .conftest import TEMPLATES


async def main(url: str, routing: str, at: str) -> None:
    engine = db.create_engine(url)
    config = load_config(routing, os.environ)
    async with aiohttp.ClientSession() as session:
        d = Dispatcher(
            engine,
            config,
            build_notifiers(config, engine, session, os.environ),
            make_environment(TEMPLATES),
            environ=dict(os.environ),
            send_timeout=600,
        )
        print("sending", flush=True)
        await d.run_once(datetime.fromisoformat(at))
    print("finished", flush=True)  # never reached: the test kills this process first


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
