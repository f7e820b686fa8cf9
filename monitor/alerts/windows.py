"""Pure: time windows in the shape of Alertmanager's `time_intervals` — weekdays, times of day,
days of the month and months, in a named time zone (default Europe/London).

A receiver's route may name windows in `active_time_intervals`; outside them its notifications
are *held* until the next window opens (and counted while held) — never dropped. Escalations
only happen inside their `during` window (working hours).

Local times are the wall clock: "08:00" is 08:00 GMT in winter and 08:00 BST in summer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
SEARCH_DAYS = 400  # a window that never opens within a year is a configuration error


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: int  # minutes after local midnight, inclusive
    end: int  # minutes after local midnight, exclusive; 1440 = midnight at the end of the day


@dataclass(frozen=True, slots=True)
class TimeInterval:
    """One entry of a window: every condition given must hold (empty means any)."""

    weekdays: frozenset[int] = frozenset()  # 0 = Monday
    times: tuple[TimeRange, ...] = ()
    days_of_month: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()  # 1 = January
    location: ZoneInfo = LONDON

    def day_matches(self, day: date) -> bool:
        return (
            (not self.weekdays or day.weekday() in self.weekdays)
            and (not self.days_of_month or day.day in self.days_of_month)
            and (not self.months or day.month in self.months)
        )

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(self.location)
        if not self.day_matches(local.date()):
            return False
        if not self.times:
            return True
        minute = local.hour * 60 + local.minute
        return any(r.start <= minute < r.end for r in self.times)


def is_active(intervals: Iterable[TimeInterval], at: datetime) -> bool:
    """True when `at` falls inside any of the intervals (a window made of several entries)."""
    return any(i.contains(at) for i in intervals)


def next_active(intervals: Sequence[TimeInterval], at: datetime) -> datetime:
    """`at` itself when the window is open, else the first instant (UTC) it opens after `at`."""
    if not intervals or is_active(intervals, at):
        return at
    best: datetime | None = None
    for interval in intervals:
        candidate = _next_start(interval, at)
        if candidate is not None and (best is None or candidate < best):
            best = candidate
    if best is None:
        raise ValueError("time window never opens within a year")
    return best


def _next_start(interval: TimeInterval, at: datetime) -> datetime | None:
    local_day = at.astimezone(interval.location).date()
    starts = sorted({r.start for r in interval.times}) or [0]
    for offset in range(SEARCH_DAYS):
        day = local_day + timedelta(days=offset)
        if not interval.day_matches(day):
            continue
        for minute in starts:
            local = datetime.combine(day, time(minute // 60, minute % 60), interval.location)
            instant = _exists(local).astimezone(UTC)
            if instant > at and interval.contains(instant):
                return instant
    return None


def _exists(local: datetime) -> datetime:
    """A wall time skipped by the spring change (01:30 on the last Sunday of March in London)
    is taken as the first moment after the gap, as the wall clock shows it."""
    round_trip = local.astimezone(UTC).astimezone(local.tzinfo)
    if round_trip.replace(tzinfo=None) != local.replace(tzinfo=None):
        return round_trip
    return local


def parse_weekdays(items: Iterable[str]) -> frozenset[int]:
    return frozenset(_parse_ranges(items, WEEKDAYS, 0, "weekday"))


def parse_months(items: Iterable[str]) -> frozenset[int]:
    return frozenset(m + 1 for m in _parse_ranges(items, MONTHS, 0, "month", numbers_from=1))


def parse_days_of_month(items: Iterable[str | int]) -> frozenset[int]:
    days: set[int] = set()
    for item in items:
        text = str(item)
        lo, _, hi = text.partition(":")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise ValueError(f"day of month {text!r} is not a number or range like 1:7") from None
        if not (1 <= a <= b <= 31):
            raise ValueError(f"day of month {text!r} must be between 1 and 31")
        days.update(range(a, b + 1))
    return frozenset(days)


def parse_clock(value: str | int) -> int:
    """Minutes after midnight from "HH:MM". YAML 1.1 reads an unquoted 18:00 as the number
    1080 (base 60), so a number is taken as minutes."""
    if isinstance(value, int):
        minutes = value
    else:
        hh, sep, mm = str(value).strip().partition(":")
        if not sep or not hh.isdigit() or not mm.isdigit() or len(mm) != 2:
            raise ValueError(f"time {value!r} must look like 08:30")
        minutes = int(hh) * 60 + int(mm)
        if int(mm) >= 60:
            raise ValueError(f"time {value!r} has more than 59 minutes")
    if not 0 <= minutes <= 1440:
        raise ValueError(f"time {value!r} must lie between 00:00 and 24:00")
    return minutes


def parse_time_range(start: str | int, end: str | int) -> TimeRange:
    a, b = parse_clock(start), parse_clock(end)
    if a >= b:
        raise ValueError(
            f"time range starts at or after it ends ({start} – {end}); split a range that "
            "crosses midnight into two"
        )
    return TimeRange(a, b)


def _parse_ranges(
    items: Iterable[str], names: Sequence[str], base: int, what: str, numbers_from: int = 0
) -> set[int]:
    out: set[int] = set()
    for item in items:
        text = str(item).strip().lower()
        lo, _, hi = text.partition(":")
        a = _index(lo, names, what, numbers_from)
        b = _index(hi or lo, names, what, numbers_from)
        if b < a:
            raise ValueError(f"{what} range {item!r} runs backwards")
        out.update(range(a + base, b + base + 1))
    return out


def _index(text: str, names: Sequence[str], what: str, numbers_from: int) -> int:
    if text.isdigit() and numbers_from:
        n = int(text) - numbers_from
        if 0 <= n < len(names):
            return n
    if text in names:
        return names.index(text)
    raise ValueError(f"unknown {what} {text!r} (use one of {', '.join(names)})")
