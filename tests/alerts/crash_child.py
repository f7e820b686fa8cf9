"""Run by test_crash.py in a separate process: one dispatcher round at a given time, against a
store and a webhook that never answers — so the test can kill this process mid-send."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

import aiohttp

from .conftest import env_dispatcher


async def main(url: str, routing: str, at: str) -> None:
    async with aiohttp.ClientSession() as session:
        d = env_dispatcher(url, routing, session, send_timeout=600)
        print("sending", flush=True)
        await d.run_once(datetime.fromisoformat(at))
    print("finished", flush=True)  # never reached: the test kills this process first


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
