"""Small SVG charts drawn on the server (attributes only: the CSP allows no inline styles).

Each chart comes with the numbers as a table on the page, for screen readers and for anyone
who prefers figures to bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True, slots=True)
class Marker:
    x: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: float
    height: float
    bars: tuple[Bar, ...]
    markers: tuple[Marker, ...]
    top: int  # the value of the tallest bar, for the axis label


def _bar(i: int, slot: float, height: float, h: float, label: str) -> Bar:
    """The i-th slot's bar, `h` tall and standing on the bottom edge (a pixel between bars)."""
    return Bar(
        round(i * slot, 2), round(height - h, 2), round(max(slot - 1, 0.5), 2), round(h, 2), label
    )


def _middle(i: int, slot: float) -> float:
    """x at the middle of the i-th slot: where a line's point or a tick label sits."""
    return round(i * slot + slot / 2, 2)


def hourly_bars(
    points: Sequence[tuple[datetime, int]],
    markers: Sequence[tuple[datetime, str]] = (),
    width: float = 640.0,
    height: float = 120.0,
) -> Chart | None:
    """One bar per hour from the first to the last point (gaps drawn as empty hours)."""
    if not points:
        return None
    start = min(t for t, _ in points)
    end = max(t for t, _ in points)
    hours = int((end - start).total_seconds() // 3600) + 1
    slot = width / max(hours, 1)
    top = max(n for _, n in points) or 1
    bars = []
    for t, n in points:
        i = int((t - start).total_seconds() // 3600)
        h = (height - 4) * n / top
        bars.append(_bar(i, slot, height, h, f"{t:%a %d %b %H:00}: {n}"))
    marks = []
    for t, label in markers:
        if start <= t <= end.replace(minute=59):
            marks.append(Marker(round((t - start).total_seconds() / 3600 * slot, 2), label))
    return Chart(width, height, tuple(bars), tuple(marks), top)


def stacked(
    parts: Sequence[tuple[str, int]], width: float = 320.0
) -> list[tuple[str, float, float, int]]:
    """(name, x, width, count) segments of one horizontal bar, in the order given."""
    total = sum(n for _, n in parts)
    if total == 0:
        return []
    out = []
    x = 0.0
    for name, n in parts:
        w = width * n / total
        out.append((name, round(x, 2), round(w, 2), n))
        x += w
    return out


@dataclass(frozen=True, slots=True)
class BaselineChart:
    """Hourly flagged volume as bars, the area's own baseline for those hours as a line."""

    width: float
    height: float
    bars: tuple[Bar, ...]
    baseline: str  # SVG polyline points through the middle of each hour's slot
    top: float
    ticks: tuple[Marker, ...] = ()  # labels under the bars (x at a slot's middle)


def against_baseline(
    series: Sequence[dict[str, object]], width: float = 480.0, height: float = 120.0
) -> BaselineChart | None:
    """The window a rising-tension item was decided on, hour by hour, against its baseline.

    `series` is what the signals stage stores with a level change: `hour` (ISO time),
    `weighted` (flagged volume that hour) and `baseline` (the area's usual volume for that hour
    of the week). Both share one scale, so a bar towering over the line is the rise itself."""
    points = []
    for p in series:
        try:
            at = datetime.fromisoformat(str(p["hour"]))
            weighted = float(str(p["weighted"]))
            baseline = float(str(p["baseline"]))
        except (KeyError, ValueError):
            continue  # a malformed stored point is left out, never a 500
        points.append((at, max(weighted, 0.0), max(baseline, 0.0)))
    if not points:
        return None
    top = max(max(w, b) for _, w, b in points) or 1.0
    slot = width / len(points)
    scale = (height - 4) / top
    bars = []
    line = []
    for i, (at, weighted, baseline) in enumerate(points):
        h = weighted * scale
        bars.append(
            _bar(
                i,
                slot,
                height,
                h,
                f"{at.astimezone(LONDON):%a %d %b %H:00}: "
                f"{weighted:g} flagged, baseline {baseline:g}",
            )
        )
        line.append(f"{_middle(i, slot)},{round(height - baseline * scale, 2)}")
    return BaselineChart(width, height, tuple(bars), " ".join(line), round(top, 3))


def draft_against_published(
    points: Sequence[tuple[date, int, int]], width: float = 640.0, height: float = 120.0
) -> BaselineChart | None:
    """A rule backtest's volume over time: posts a draft matches each day as bars, those the
    published version matches as a line on the same scale (days without posts drawn empty)."""
    if not points:
        return None
    by_day = {d: (n, m) for d, n, m in points}
    first, last = min(by_day), max(by_day)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    top = max(max(n, m) for n, m in by_day.values()) or 1
    slot = width / len(days)
    scale = (height - 4) / top
    bars = []
    line = []
    for i, day in enumerate(days):
        draft, published = by_day.get(day, (0, 0))
        h = draft * scale
        bars.append(
            _bar(i, slot, height, h, f"{day:%a %d %b}: draft {draft}, published {published}")
        )
        line.append(f"{_middle(i, slot)},{round(height - published * scale, 2)}")
    every = max(1, len(days) // 8)  # at most about eight day labels
    ticks = tuple(
        Marker(_middle(i, slot), f"{day:%a %d}") for i, day in enumerate(days) if i % every == 0
    )
    return BaselineChart(width, height, tuple(bars), " ".join(line), float(top), ticks)


@dataclass(frozen=True, slots=True)
class Tick:
    at: float  # x (time axis) or y (value axis) in the plot's own coordinates
    label: str


@dataclass(frozen=True, slots=True)
class Segment:
    x: float
    y: float
    width: float
    height: float
    part: str  # which series (a stance, a level): the CSS class colours it
    label: str
    href: str | None = None  # drill-down: the page with the posts behind this bar


@dataclass(frozen=True, slots=True)
class TimeChart:
    """Stacked bars on a time axis with labelled ticks on both axes; `left` and `bottom` are
    the margins the axis labels sit in (the plot is `width` x `height` inside them)."""

    width: float
    height: float
    left: float
    bottom: float
    segments: tuple[Segment, ...]
    markers: tuple[Marker, ...]
    xticks: tuple[Tick, ...]
    yticks: tuple[Tick, ...]
    top: int
    step_hours: int  # hours per bar

    @property
    def outer_width(self) -> float:
        return self.left + self.width + 8

    @property
    def outer_height(self) -> float:
        return self.height + self.bottom + 8


TICK_STEPS = (1, 2, 3, 6, 12, 24, 48, 72, 168, 336, 720)


def _tick_step(hours: int, most: int = 8) -> int:
    return next((s for s in TICK_STEPS if hours / s <= most), TICK_STEPS[-1])


def stacked_timeline(
    points: Sequence[tuple[datetime, dict[str, int]]],
    parts: Sequence[str],
    markers: Sequence[tuple[datetime, str]] = (),
    *,
    step_hours: int = 1,
    start: datetime | None = None,
    end: datetime | None = None,
    link: str | None = None,
    width: float = 640.0,
    height: float = 140.0,
) -> TimeChart | None:
    """One stacked bar per `step_hours` from `start` (default: the first point) to `end`, parts
    in the order given; time ticks in UK time (a day's name at midnight, else the hour).
    `link`, with {start} and {end} in it, makes each bar a link to the posts behind it."""
    if not points and start is None:
        return None
    step = timedelta(hours=step_hours)
    first = start or min(t for t, _ in points)
    last = end or max(t for t, _ in points)
    slots = max(int((last - first) / step) + 1, 1)
    slot = width / slots
    totals = [sum(v.values()) for _, v in points]
    top = max([*totals, 1])
    scale = (height - 4) / top
    segments = []
    for t, values in points:
        i = int((t - first) / step)
        if not 0 <= i < slots:
            continue
        y = height
        local = t.astimezone(LONDON)
        href = None
        if link is not None:
            href = link.format(start=quote(_iso(t)), end=quote(_iso(t + step)))
        for part in parts:
            n = int(values.get(part, 0))
            if n <= 0:
                continue
            h = n * scale
            y -= h
            segments.append(
                Segment(
                    round(i * slot, 2),
                    round(y, 2),
                    round(max(slot - 1, 0.5), 2),
                    round(h, 2),
                    part,
                    f"{local:%a %d %b %H:00}: {n} {part}",
                    href,
                )
            )
    hours = slots * step_hours
    every = max(_tick_step(hours), step_hours)
    xticks = []
    tick = first.astimezone(LONDON).replace(minute=0, second=0, microsecond=0)
    while tick.hour % min(every, 24) and every <= 24:
        tick += timedelta(hours=1)
    while tick <= last + step:
        x = (tick - first) / step * slot
        if 0 <= x <= width:
            label = f"{tick:%a %d %b}" if tick.hour == 0 or every >= 24 else f"{tick:%H:00}"
            xticks.append(Tick(round(x, 2), label))
        tick += timedelta(hours=every)
    yticks = tuple(Tick(round(height - v * scale, 2), str(v)) for v in sorted({0, top // 2, top}))
    marks = []
    for t, label in markers:
        if first <= t <= last + step:
            marks.append(Marker(round((t - first) / step * slot, 2), label))
    return TimeChart(
        width, height, 40.0, 30.0, tuple(segments), tuple(marks), tuple(xticks), yticks, top,
        step_hours,
    )  # fmt: skip


def _iso(t: datetime) -> str:
    return t.astimezone(LONDON).isoformat(timespec="minutes")
