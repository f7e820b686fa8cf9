"""Small SVG charts drawn on the server (attributes only: the CSP allows no inline styles).

Each chart comes with the numbers as a table on the page, for screen readers and for anyone
who prefers figures to bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


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
