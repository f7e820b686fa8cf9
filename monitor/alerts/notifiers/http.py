"""The one HTTP POST the Teams, Slack and webhook notifiers share: bounded time, and every
failure mapped to an outcome rather than an exception."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from monitor.alerts.notifiers import Outcome, http_outcome


async def post(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
) -> Outcome:
    try:
        async with session.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as resp:
            text = await resp.text(errors="replace")
            return http_outcome(resp.status, resp.headers, text)
    except TimeoutError:
        return Outcome.retry(f"no answer within {timeout:.0f}s")
    except aiohttp.ClientError as exc:
        return Outcome.retry(f"{type(exc).__name__}: {exc}")
