"""Reading ids, numbers, days, times and JSON bodies from requests: anything out of range is
a 4xx.

Row ids are integer columns (2^31 - 1 on PostgreSQL, 2^63 - 1 on SQLite): a larger number in a
URL reached the driver and came back as a 500. An id here is ASCII digits within the smaller
range, else the row cannot exist and the answer is 404.

Days and times are likewise read only within `FIRST_DAY` .. `LAST_DAY`: Python's dates run
from year 1 to 9999, and a page that steps a day, a week or a digest period past
"9999-12-31" raised OverflowError (a 500) where the user had only typed a date.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from aiohttp import web

from monitor.types import is_utf8, within_calendar

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


def parse_day(value: str | None) -> date | None:
    """A day from ISO text ("2026-11-05") within FIRST_DAY .. LAST_DAY, else None."""
    try:
        day = date.fromisoformat(value or "")
    except ValueError:
        return None
    return day if within_calendar(day) else None


def parse_instant(value: str | None) -> datetime | None:
    """A time with its UTC offset from ISO text, on a day within FIRST_DAY .. LAST_DAY, else
    None (a time without an offset says no instant)."""
    try:
        when = datetime.fromisoformat(value or "")
    except ValueError:
        return None
    if when.tzinfo is None or not within_calendar(when.date()):
        return None
    return when


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored as sent, or None: a NUL character (PostgreSQL refuses it in
    text, SQLite keeps it) or a lone surrogate (no encoding can write it)."""
    if "\x00" in text:
        return "text may not contain NUL characters"
    if not is_utf8(text):
        return "text must be valid Unicode (a lone surrogate was sent)"
    return None


def _finite(value: str) -> float:
    number = float(value)
    if not math.isfinite(number):  # "1e400" reads as infinity
        raise ValueError(f"{value[:20]}: not a finite number")
    return number


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON may carry")


def _strings(value: Any) -> Iterator[str]:
    """Every key and string in a parsed JSON document (the parser bounds its depth)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from (k for k in item if isinstance(k, str))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body; 400 with a reason when it is not one, or when it holds
    text no store can keep (`text_problem`) or a number Python cannot hold."""
    body = await request.read()  # cached, and bounded by the app's client_max_size (413)
    try:
        data = json.loads(
            body.decode("utf-8"), parse_float=_finite, parse_constant=_refuse_constant
        )
    except UnicodeDecodeError:
        raise _bad("the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise _bad(f"the body is not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise _bad("the JSON body is nested too deeply") from None
    except ValueError as exc:  # a number of more than 4,300 digits, infinity, NaN
        raise _bad(f"the body has a number that cannot be read: {str(exc)[:80]}") from None
    if not isinstance(data, dict):
        raise _bad("send a JSON object")
    for text in _strings(data):
        if problem := text_problem(text):
            raise _bad(problem)
    return data


def _bad(reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": reason}), content_type="application/json")
