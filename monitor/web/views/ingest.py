"""POST /api/v1/ingest: partners and other tools push posts in the import schema.

Requests are signed the Standard Webhooks way (webhook-id, webhook-timestamp,
webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">) with the secret in
the environment variable that `push_secret_env` names; without it the endpoint is off. The
body is JSON lines (one post per line, as `docs/import-format.md`) or a JSON array of the same
objects. Bad records are reported by position and the rest accepted; a repeated webhook-id is
acknowledged without delivering again (posts are idempotent by id anyway).

202 means durable: the posts are in the store (or on the Redis stream when scaled out) before
the answer, so a crash after it loses none. When the store is unavailable the answer is 503
with Retry-After, and the sender keeps them.
"""

from __future__ import annotations

import hmac
import json
import time
from collections import OrderedDict

from aiohttp import web

from monitor.alerts.notifiers.webhook import sign
from monitor.config import ConfigError, push_secret
from monitor.ingest.replay import (
    TOO_MANY_DIGITS,
    ImportProblem,
    parse_json_record,
    parse_jsonl_line,
)
from monitor.runtime.pipeline import NotAccepted, PipelineFailed
from monitor.runtime.state import RUNTIME
from monitor.types import RawPost

routes = web.RouteTableDef()

MAX_BODY_BYTES = 5 * 1024 * 1024
TOLERANCE_SECONDS = 300  # Standard Webhooks: refuse stale or future-dated messages
RECENT_IDS = web.AppKey("push_recent_ids", OrderedDict)
SEEN_IDS_KEPT = 10_000


def _problem(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def verify_signature(secret: str, headers: dict[str, str], body: bytes, now: float) -> str | None:
    """None when the request is signed with `secret` and fresh; else why not."""
    try:
        msg_id = headers["webhook-id"]
        timestamp = int(headers["webhook-timestamp"])
        signatures = headers["webhook-signature"].split(" ")
    except KeyError as exc:
        return f"missing header {exc.args[0]}"
    except ValueError:
        return "webhook-timestamp must be Unix seconds"
    if not (msg_id.isascii() and all(s.isascii() for s in signatures)):
        # Signatures are base64 and ids are ours to compare: a non-ASCII byte cannot match
        # (compare_digest raises TypeError on such strings; signing one raised too).
        return "signature does not match"
    # Compared as integers: a 400-digit timestamp does not fit a float (OverflowError, a 500).
    if abs(int(now) - timestamp) > TOLERANCE_SECONDS:
        return "webhook-timestamp is more than 5 minutes from now"
    expected = sign(secret, msg_id, timestamp, body)
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        return "signature does not match"
    return None


def parse_body(body: bytes) -> tuple[list[RawPost], list[dict[str, object]]]:
    """Posts and per-record problems from JSON lines or a JSON array."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"body is not UTF-8 (byte {exc.start})") from None
    posts: list[RawPost] = []
    problems: list[dict[str, object]] = []
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"body is not valid JSON: {exc.msg} at {exc.pos}") from None
        except RecursionError:
            raise ValueError("body is not valid JSON: nested too deeply") from None
        except ValueError:  # Python's guard on integers of over 4,300 digits
            raise ValueError(f"body is not valid JSON: {TOO_MANY_DIGITS}") from None
        if not isinstance(items, list):
            raise ValueError("body must be one JSON array or JSON lines")
        for number, item in enumerate(items, start=1):
            try:
                posts.append(parse_json_record(item, number))
            except ImportProblem as problem:
                problems.append({"record": number, "reason": problem.reason})
        return posts, problems
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            posts.append(parse_jsonl_line(line, number))
        except ImportProblem as problem:
            problems.append({"record": number, "reason": problem.reason})
    return posts, problems


async def read_body(request: web.Request, limit: int) -> bytes | None:
    """The whole request body, or None when it is over `limit` bytes.

    `StreamReader.read(n)` returns what has arrived so far, not n bytes: a large body read
    that way was verified on its first chunk and refused as badly signed.
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@routes.post("/api/v1/ingest", name="api_ingest")
async def ingest(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    try:
        secret = push_secret(rt.settings)
    except ConfigError as exc:
        return _problem(503, f"push endpoint misconfigured: {exc}")
    if not secret:
        return _problem(404, "the push endpoint is off: set push_secret_env")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _problem(413, f"body over {MAX_BODY_BYTES} bytes")
    body = await read_body(request, MAX_BODY_BYTES)
    if body is None:
        return _problem(413, f"body over {MAX_BODY_BYTES} bytes")
    headers = {k.lower(): v for k, v in request.headers.items()}
    why = verify_signature(secret, headers, body, time.time())
    if why is not None:
        return _problem(401, why)
    seen = request.app[RECENT_IDS]
    msg_id = headers["webhook-id"]
    if msg_id in seen:
        return web.json_response({"accepted": 0, "duplicate": True, "problems": []}, status=200)
    try:
        posts, problems = parse_body(body)
    except ValueError as exc:
        return _problem(400, str(exc))
    if posts:
        # Accepted means durable: stored (or on the Redis stream) before the 202, so a crash
        # right after it loses nothing. When that is not possible now, say so: the sender
        # keeps the posts and retries (a repeated webhook-id is harmless).
        try:
            await rt.pipeline.accept("push", posts)
        except (NotAccepted, PipelineFailed) as exc:
            response = _problem(503, f"not accepted, retry later: {exc}")
            response.headers["Retry-After"] = "5"
            return response
    seen[msg_id] = True
    while len(seen) > SEEN_IDS_KEPT:
        seen.popitem(last=False)
    return web.json_response({"accepted": len(posts), "problems": problems}, status=202)
