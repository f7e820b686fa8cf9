"""Reading ids, numbers and JSON bodies from requests: anything out of range is a 4xx.

Row ids are integer columns (2^31 - 1 on PostgreSQL, 2^63 - 1 on SQLite): a larger number in a
URL reached the driver and came back as a 500. An id here is ASCII digits within the smaller
range, else the row cannot exist and the answer is 404.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

MAX_ID = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")


def parse_id(value: str | None) -> int | None:
    """A row id from text: ASCII digits in 1 .. 2^31 - 1, else None."""
    if not value or not _DIGITS.fullmatch(value):
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


def path_id(request: web.Request, name: str) -> int:
    """The id in the URL's `{name}` segment, or 404 (no row can have an id out of range)."""
    number = parse_id(request.match_info.get(name))
    if number is None:
        raise web.HTTPNotFound(text="no such item")
    return number


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body; 400 with a reason when it is not one."""
    body = await request.read()  # cached, and bounded by the app's client_max_size (413)
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise _bad("the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise _bad(f"the body is not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise _bad("the JSON body is nested too deeply") from None
    if not isinstance(data, dict):
        raise _bad("send a JSON object")
    return data


def _bad(reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": reason}), content_type="application/json")
