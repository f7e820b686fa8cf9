"""Run by the chaos test's delivery phase in a separate process: the real dispatcher (routing
file, notifiers, templates) delivering in a loop against a store until the test SIGKILLs it.

Its lease is one second, not the 15 s default, so a killed dispatcher's sends are free again
by the time the next process is up: the phase then takes seconds per kill, not a lease each."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

import aiohttp

from tests.alerts.conftest import env_dispatcher

LEASE = timedelta(seconds=1)


async def main(url: str, routing: str) -> None:
    async with aiohttp.ClientSession() as session:
        d = env_dispatcher(url, routing, session, lease=LEASE)
        while True:
            if await d.run_once() == 0:
                await asyncio.sleep(0.05)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
