"""Small SVG charts drawn on the server (attributes only: the CSP allows no inline styles).

Each chart comes with the numbers as a table on the page, for screen readers and for anyone
who prefers figures to bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
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
        bars.append(
            Bar(
                round(i * slot, 2),
                round(height - h, 2),
                round(max(slot - 1, 0.5), 2),
                round(h, 2),
                f"{t:%a %d %b %H:00}: {n}",
            )
        )
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
            Bar(
                round(i * slot, 2),
                round(height - h, 2),
                round(max(slot - 1, 0.5), 2),
                round(h, 2),
                f"{at.astimezone(LONDON):%a %d %b %H:00}: "
                f"{weighted:g} flagged, baseline {baseline:g}",
            )
        )
        line.append(f"{round(i * slot + slot / 2, 2)},{round(height - baseline * scale, 2)}")
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
            Bar(
                round(i * slot, 2),
                round(height - h, 2),
                round(max(slot - 1, 0.5), 2),
                round(h, 2),
                f"{day:%a %d %b}: draft {draft}, published {published}",
            )
        )
        line.append(f"{round(i * slot + slot / 2, 2)},{round(height - published * scale, 2)}")
    return BaselineChart(width, height, tuple(bars), " ".join(line), float(top))
