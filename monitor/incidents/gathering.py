"""Pure: the when and where of a call to gather ("Centenary Square, Friday 19:00").

Where: the gazetteer landmark (else neighbourhood) the calls name most often — the place
matcher already found them, so no new place list is needed — else the street or square they
name most often as written ("outside the mosque on Carlisle Road"): no gazetteer lists every
street, and a call's meeting point is what the police liaison needs. When: the day and time
the calls name most often, read from day words (weekday names, today, tonight, tomorrow) and
clock times (7pm, 7.30pm, 19:00, noon), with relative days resolved against each post's own
time in the council's time zone. Only what the posts say is reported; nothing is guessed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.incidents.model import Gathering, PostFacts

LONDON = ZoneInfo("Europe/London")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_ABBREVIATIONS = {d[:3]: i for i, d in enumerate(DAYS)} | {"tues": 1, "thurs": 3}
_WEEKDAY = re.compile(
    r"\b(" + "|".join(DAYS) + r"|mon|tues?|wed|thu(?:rs)?|fri|sat|sun)\b", re.IGNORECASE
)
_RELATIVE = re.compile(r"\b(today|tonight|this evening|tomorrow|tmrw|tmw)\b", re.IGNORECASE)
_AMPM = re.compile(r"\b(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)\b", re.IGNORECASE)
_CLOCK = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b")
_NAMED = {"noon": (12, 0), "midday": (12, 0), "midnight": (0, 0)}
_NAMED_RE = re.compile(r"\b(noon|midday|midnight)\b", re.IGNORECASE)
PLACE_KINDS = ("landmark", "neighbourhood")
# A street or square as people write it: capitalised words before a street word.
_STREET = re.compile(
    r"\b((?:[A-Z][a-z']+\s+){1,3})"
    r"(Road|Street|Lane|Avenue|Square|Terrace|Crescent|Parade|Drive|Place|Way|Green)\b"
)
# Capitalised words that start a sentence or an instruction, not a street's name
# ("Meet Carlisle Road 7pm", "Everyone outside Carlisle Road").
_NOT_A_NAME = frozenset(
    "meet meeting everyone everybody outside be at on in near by down up to the top bottom "
    "end of all get come see you there here pass it sharing share join us we our tonight "
    "today tomorrow and or from".split()
    + list(DAYS)
)


def clock_time(text: str) -> str | None:
    """The first clock time the text names, as HH:MM (24-hour)."""
    m = _AMPM.search(text)
    if m:
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
        if 1 <= hour <= 12 and minute < 60:
            hour = hour % 12 + (12 if m.group(3).lower() == "pm" else 0)
            return f"{hour:02d}:{minute:02d}"
    m = _CLOCK.search(text)
    if m:
        return f"{int(m.group(1)):02d}:{m.group(2)}"
    m = _NAMED_RE.search(text)
    if m:
        hour, minute = _NAMED[m.group(1).lower()]
        return f"{hour:02d}:{minute:02d}"
    return None


def day_named(text: str, posted: datetime) -> str | None:
    """The day the text names: a weekday, or today/tonight/tomorrow from the post's time."""
    m = _WEEKDAY.search(text)
    if m:
        word = m.group(1).lower()
        index = DAYS.index(word) if word in DAYS else _DAY_ABBREVIATIONS.get(word)
        if index is not None:
            return DAYS[index].capitalize()
    m = _RELATIVE.search(text)
    if m:
        local = posted.astimezone(LONDON)
        ahead = 1 if m.group(1).lower() in ("tomorrow", "tmrw", "tmw") else 0
        return (local + timedelta(days=ahead)).strftime("%A")
    return None


def street_named(text: str) -> str | None:
    """The first street or square the text names as written ("Carlisle Road"), if any."""
    for m in _STREET.finditer(text):
        words = m.group(1).split()
        while words and words[0].lower() in _NOT_A_NAME:
            words.pop(0)
        if words:
            return " ".join([*words, m.group(2)])
    return None


def extract(posts: Iterable[PostFacts]) -> Gathering | None:
    """The most named place and day/time over these calls to gather; None without calls."""
    places: Counter[str] = Counter()
    streets: Counter[str] = Counter()
    times: Counter[str] = Counter()
    n = 0
    for post in posts:
        n += 1
        named = {p.name for p in post.places if p.kind == PLACE_KINDS[0]} or {
            p.name for p in post.places if p.kind == PLACE_KINDS[1]
        }
        places.update(named)
        text = post.text or ""
        street = None if named else street_named(text)
        if street:
            streets[street] += 1
        day, at = day_named(text, post.at), clock_time(text)
        when = " ".join(part for part in (day, at) if part)
        if when:
            times[when] += 1
    if not n:
        return None
    where = _most(places) or _most(streets)
    # A full "day time" beats a bare day or time named more often by fewer words.
    full = Counter({w: c for w, c in times.items() if " " in w})
    said = _most(full) or _most(times)
    if where is None and said is None:
        return None
    return Gathering(where=where, when=said, posts=n)


def _most(counts: Counter[str]) -> str | None:
    if not counts:
        return None
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
