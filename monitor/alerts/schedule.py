"""Pure: when digests run, in Europe/London wall-clock time, and which period each run covers.

A schedule is a five-field crontab line ("0 7 * * *": 07:00 every day, GMT in winter and BST in
summer). A run at fire time T covers the period from the previous fire time up to T, so the
daily digest on the morning the clocks go forward covers 23 hours and on the morning they go
back 25. Each period is named by its local wall-clock fire time ("2026-03-29T07:00"), which
is what `digest_runs` claims: one row per (digest, period), whichever instance gets there first.

Hour 1 is refused. In London the clocks change at 01:00 GMT / 02:00 BST, so 01:xx is skipped
in March and happens twice in October; APScheduler 3.x's CronTrigger fires twice in the repeated
hour and can loop there (agronholm/apscheduler#1021). Every other wall time exists exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

LONDON = ZoneInfo("Europe/London")
CHANGE_HOUR = 1
_LOOKBACK = (timedelta(days=1, hours=2), timedelta(days=8), timedelta(days=32), timedelta(days=367))


class ScheduleError(ValueError):
    """A schedule line that cannot be used; the message says why."""


@dataclass(frozen=True)
class Cron:
    expr: str
    trigger: CronTrigger

    def next_fire(self, after: datetime) -> datetime:
        """The first fire time strictly after `after`."""
        fire = self.trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
        if fire is None:
            raise ScheduleError(f"schedule {self.expr!r} never fires again")
        return fire  # type: ignore[no-any-return]

    def latest_fire(self, at: datetime) -> datetime | None:
        """The last fire time at or before `at` (None when it has not fired within a year)."""
        for back in _LOOKBACK:
            found: datetime | None = None
            fire = self.trigger.get_next_fire_time(None, at - back)
            while fire is not None and fire <= at:
                found = fire
                fire = self.next_fire(fire)
            if found is not None:
                return found
        return None

    def period(self, fire: datetime) -> Period:
        """The period a run at `fire` covers: (previous fire, fire]."""
        start = self.latest_fire(fire - timedelta(microseconds=1))
        if start is None:
            start = fire - timedelta(days=1)
        return Period(start=start, end=fire, key=period_key(fire))


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    key: str


def period_key(fire: datetime) -> str:
    return fire.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


def parse_cron(expr: str) -> Cron:
    fields = expr.split()
    if len(fields) != 5:
        raise ScheduleError(
            f"schedule {expr!r} must have five fields: minute hour day-of-month month weekday "
            '(e.g. "0 7 * * *" for 07:00 every day)'
        )
    if CHANGE_HOUR in _hours(fields[1]):
        raise ScheduleError(
            f"schedule {expr!r} can run between 01:00 and 01:59, the hour the clocks change in "
            "the UK (skipped in March, repeated in October); choose another hour"
        )
    try:
        trigger = CronTrigger.from_crontab(expr, timezone=LONDON)
    except ValueError as exc:
        raise ScheduleError(f"schedule {expr!r}: {exc}") from None
    return Cron(expr=expr, trigger=trigger)


def _hours(field: str) -> set[int]:
    hours: set[int] = set()
    for part in field.split(","):
        rng, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if rng == "*":
                lo, hi = 0, 23
            elif "-" in rng:
                a, b = rng.split("-", 1)
                lo, hi = int(a), int(b)
            else:
                lo = int(rng)
                hi = 23 if step_text else lo
        except ValueError:
            raise ScheduleError(f"hour field {field!r} is not understood") from None
        if step < 1 or not (0 <= lo <= 23 and 0 <= hi <= 23):
            raise ScheduleError(f"hour field {field!r} must use hours 0–23")
        hours.update(range(lo, hi + 1, step))
    return hours
