"""Reading a platform's HTTP response body with a ceiling.

aiohttp's `resp.json()` and `resp.text()` read whatever the server sends into memory. A feed
already stopped at MAX_RESPONSE_BYTES; the Mastodon and Reddit clients did not, so one server
answering with gigabytes (broken, or hostile) could take the collector's memory. Every body a
collector reads now goes through here: too large, not UTF-8, not JSON or nested too deep is a
`MalformedPayload`, counted in the source's health like any other bad page, and polling goes on.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from monitor.collectors.common import MalformedPayload

# A Mastodon page of 40 statuses or a Reddit listing of 100 is well under 1 MB; a busy news
# feed a few MB.
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
# An error page only gives a hint for the log (`body_hint`).
MAX_ERROR_BYTES = 64 * 1024


async def read_capped(resp: aiohttp.ClientResponse, what: str, limit: int) -> bytes:
    """The body, or MalformedPayload once it passes `limit` bytes (reading stops there)."""
    declared = resp.content_length
    if declared is not None and declared > limit:
        raise MalformedPayload(f"{what}: response larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise MalformedPayload(f"{what}: response larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(resp: aiohttp.ClientResponse, what: str) -> Any:
    """The JSON document of the body (at most MAX_RESPONSE_BYTES)."""
    body = await read_capped(resp, what, MAX_RESPONSE_BYTES)
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedPayload(f"{what}: response is not UTF-8") from None
    except ValueError:
        raise MalformedPayload(f"{what}: response is not JSON") from None
    except RecursionError:
        raise MalformedPayload(f"{what}: response JSON is nested too deeply") from None


async def error_text(resp: aiohttp.ClientResponse) -> str:
    """The start of an error response's body as text, for a hint in the log."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(16 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_ERROR_BYTES:
            break
    return b"".join(chunks)[:MAX_ERROR_BYTES].decode("utf-8", errors="replace")
