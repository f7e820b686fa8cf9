"""Pure: a rumour's velocity before and after a counter message was published.

This is shown to comms staff to judge whether a rumour slowed after they answered it. It is a
comparison, not an experiment: rumours slow down by themselves, and other things happen at the
same time. The caveat says so every time the figures are shown.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

CAVEAT = (
    "Before/after comparison only: rumours also slow down on their own and other events "
    "happen at the same time, so this is not proof that the counter message caused any change."
)


@dataclass(frozen=True, slots=True)
class CounterEffect:
    published_at: datetime
    window_hours: float
    before_posts: int
    after_posts: int
    before_per_hour: float
    after_per_hour: float  # over the part of the after-window that has passed
    after_complete: bool  # False while the after-window is still running
    change: float | None  # after / before - 1 (e.g. -0.6: 60 % slower); None without before
    caveat: str = CAVEAT

    def describe(self) -> str:
        if self.change is None:
            trend = "no posts in the window before, so no comparison"
        else:
            trend = f"{self.change:+.0%} posts per hour"
        partial = "" if self.after_complete else " (after-window not complete yet)"
        return (
            f"{self.before_per_hour:.1f}/h in the {self.window_hours:g} h before, "
            f"{self.after_per_hour:.1f}/h after{partial}: {trend}. {self.caveat}"
        )


def counter_effect(
    post_times: Sequence[datetime],
    published_at: datetime,
    window: timedelta,
    now: datetime,
) -> CounterEffect:
    """Velocity over `window` before and after `published_at`, from the rumour's post times.

    Posts at exactly the publication time count as after. Until `now` passes the end of the
    after-window, its rate is over the elapsed part only, and is marked incomplete.
    """
    times = sorted(post_times)
    lo = bisect.bisect_left(times, published_at - window)
    mid = bisect.bisect_left(times, published_at)
    after_end = min(published_at + window, max(now, published_at))
    hi = bisect.bisect_left(times, after_end)
    before = mid - lo
    after = hi - mid
    hours = window / timedelta(hours=1)
    elapsed = (after_end - published_at) / timedelta(hours=1)
    before_rate = before / hours
    after_rate = after / elapsed if elapsed > 0 else 0.0
    change = after_rate / before_rate - 1 if before else None
    return CounterEffect(
        published_at=published_at,
        window_hours=hours,
        before_posts=before,
        after_posts=after,
        before_per_hour=before_rate,
        after_per_hour=after_rate,
        after_complete=now >= published_at + window,
        change=change,
    )
