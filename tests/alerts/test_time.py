"""Time windows and digest schedules in Europe/London wall-clock time, across both clock
changes of 2026 (29 March: 01:00 GMT → 02:00 BST; 25 October: 02:00 BST → 01:00 GMT)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.alerts.schedule import ScheduleError, parse_cron, period_key

from .conftest import config_from

WINDOWS = """
route: {receiver: x}
receivers: [{name: x, local: [{}]}]
time_intervals:
  - name: office-hours
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{start_time: 08:00, end_time: 18:00}]   # unquoted: YAML reads 18:00 as 1080
  - name: christmas
    time_intervals:
      - months: [december]
        days_of_month: ['24:26']
"""


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def office() -> tuple[object, ...]:
    return config_from(WINDOWS).window(["office-hours"])


def test_office_hours_are_wall_clock_hours_in_london() -> None:
    from monitor.alerts.windows import is_active

    win = office()
    assert is_active(win, utc(2026, 1, 6, 8, 0))  # 08:00 GMT
    assert not is_active(win, utc(2026, 1, 6, 7, 59))
    assert is_active(win, utc(2026, 7, 7, 7, 0))  # 08:00 BST
    assert not is_active(win, utc(2026, 7, 7, 17, 0))  # 18:00 BST: closed (end exclusive)
    assert not is_active(win, utc(2026, 7, 11, 12, 0))  # a Saturday


def test_next_opening_skips_the_weekend_and_follows_the_clock_change() -> None:
    from monitor.alerts.windows import next_active

    win = office()
    # Friday 27 March 19:00 GMT → Monday 30 March 08:00 BST, which is 07:00 UTC.
    assert next_active(win, utc(2026, 3, 27, 19, 0)) == utc(2026, 3, 30, 7, 0)
    # Friday 23 October 19:00 BST → Monday 26 October 08:00 GMT.
    assert next_active(win, utc(2026, 10, 23, 18, 0)) == utc(2026, 10, 26, 8, 0)
    # Already open: now.
    assert next_active(win, utc(2026, 10, 26, 9, 0)) == utc(2026, 10, 26, 9, 0)


def test_days_of_month_and_months() -> None:
    from monitor.alerts.windows import is_active, next_active

    xmas = config_from(WINDOWS).window(["christmas"])
    assert is_active(xmas, utc(2026, 12, 25, 12))
    assert not is_active(xmas, utc(2026, 12, 27, 12))
    assert next_active(xmas, utc(2026, 6, 1)) == utc(2026, 12, 24, 0)


def fires(expr: str, start: datetime, n: int) -> list[datetime]:
    cron = parse_cron(expr)
    out, at = [], start
    for _ in range(n):
        at = cron.next_fire(at)
        out.append(at)
    return out


def test_a_daily_digest_keeps_to_0700_uk_time_across_both_changes() -> None:
    spring = fires("0 7 * * *", utc(2026, 3, 27, 12), 3)
    assert spring == [utc(2026, 3, 28, 7), utc(2026, 3, 29, 6), utc(2026, 3, 30, 6)]
    autumn = fires("0 7 * * *", utc(2026, 10, 23, 12), 3)
    assert autumn == [utc(2026, 10, 24, 6), utc(2026, 10, 25, 7), utc(2026, 10, 26, 7)]


def test_periods_run_from_the_previous_fire_and_are_named_by_local_time() -> None:
    cron = parse_cron("0 7 * * *")
    spring = cron.period(utc(2026, 3, 29, 6))
    assert spring.end - spring.start == timedelta(hours=23)
    assert spring.key == "2026-03-29T07:00"
    autumn = cron.period(utc(2026, 10, 25, 7))
    assert autumn.end - autumn.start == timedelta(hours=25)
    weekly = parse_cron("0 8 * * mon")
    assert weekly.period(utc(2026, 3, 30, 7)).start == utc(2026, 3, 23, 8)  # 167 hours
    assert weekly.period(utc(2026, 10, 26, 8)).start == utc(2026, 10, 19, 7)  # 169 hours


def test_latest_fire_is_the_period_due_now() -> None:
    cron = parse_cron("30 7 * * mon-fri")
    # Sunday 29 March 12:00 BST: the latest weekday brief was Friday 27 March 07:30 GMT.
    assert cron.latest_fire(utc(2026, 3, 29, 11)) == utc(2026, 3, 27, 7, 30)
    assert cron.latest_fire(utc(2026, 3, 30, 6, 30)) == utc(2026, 3, 30, 6, 30)  # exactly then
    assert period_key(utc(2026, 3, 30, 6, 30)) == "2026-03-30T07:30"


@pytest.mark.parametrize(
    "expr", ["30 1 * * *", "0 * * * *", "0 0-2 * * *", "0 */1 * * *", "0 7 * *"]
)
def test_schedules_that_could_fall_in_the_changing_hour_or_are_malformed_are_refused(
    expr: str,
) -> None:
    with pytest.raises(ScheduleError):
        parse_cron(expr)


def test_every_day_of_a_year_has_exactly_one_distinct_period() -> None:
    got = fires("0 7 * * *", utc(2025, 12, 31, 12), 365)
    keys = [period_key(f) for f in got]
    assert len(set(keys)) == 365
    assert all(k.endswith("T07:00") for k in keys)
