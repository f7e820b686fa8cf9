"""The bounds every post must meet before it is stored, shared by every boundary (file import,
the push endpoint, each collector through ingest), so that no stage downstream meets a value
it cannot hold or compute with.

- Engagement counts (likes, reposts, replies) are *clamped* to 0 .. 2^31 - 1, the range of the
  integer columns on PostgreSQL (SQLite's 2^63 is wider): a count that large is noise from the
  source, the post itself is still good evidence, and the counts are only display and ranking
  hints, so refusing the whole post for one would lose more than it protects.
- `created_at` is *refused* outside [2000-01-01, now + 1 day]: a post from year 1 or 9999 is a
  broken record, not a post, and a date that far out overflows the time arithmetic of the
  signals (windows, baselines) for every batch it later meets. A day of slack allows for
  clocks that run ahead.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

MAX_COUNT = 2**31 - 1
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


def clamp_count(value: int) -> int:
    """An engagement count within what every store's integer column holds."""
    return min(max(0, value), MAX_COUNT)


def created_at_problem(when: datetime, now: datetime) -> str | None:
    """Why `when` cannot be a post's time (None when it can)."""
    if when.tzinfo is None:
        return "has no UTC offset"
    if when < EARLIEST:
        return f"{when.isoformat()} is before {EARLIEST.date().isoformat()}"
    if when > now + FUTURE_SLACK:
        return f"{when.isoformat()} is more than a day in the future"
    return None


# A lone UTF-16 surrogate (from a JSON "\\ud800" escape) cannot be encoded as UTF-8, so no store
# can hold it: post text has them removed by ingest's normalisation; an id, link or name
# carrying one is refused.
_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(value: str | None) -> bool:
    return value is not None and _SURROGATE.search(value) is not None


def has_nul(value: str | None) -> bool:
    """Whether `value` holds U+0000, which PostgreSQL's text columns refuse (SQLite keeps it).

    Post text has it removed by ingest's normalisation. A file or push record with one in any
    other field is refused, as for a lone surrogate; the record schema refuses it in the fields
    stored as given (platform, source). Let through, a source label with one was stored on
    SQLite but on PostgreSQL failed its whole batch and then its own quarantine row (which
    repeats the source), so the pipeline stopped, and a re-run stopped on it again.
    """
    return value is not None and "\x00" in value
