"""Pure: the picture of levels by place over a digest's period — a grid (places × time slices,
coloured by the highest level alerted, with the number of flagged posts) that renders as an
HTML table in any mail client and as a text table where HTML is not shown, and, where ward
boundaries are configured, a ward map as an SVG image.

Everything here is aggregate: places and counts, never a post or an author.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
LEVELS = ("normal", "elevated", "high", "critical")
LEVEL_RANK = {name: i + 1 for i, name in enumerate(LEVELS)}
SEVERITY_LEVEL = {"low": "normal", "medium": "elevated", "high": "high", "critical": "critical"}
FILL = {
    "": "#f2f2f2",
    "normal": "#dff0d8",
    "elevated": "#fff3bf",
    "high": "#ffc078",
    "critical": "#e03131",
}
ATTRIBUTION = (
    "Contains National Statistics data © Crown copyright and database right; "
    "Contains OS data © Crown copyright and database right (Open Government Licence v3)"
)


def level_of(labels: Mapping[str, str]) -> str:
    """An alert's level: its `level` label, else one derived from `severity`, else ''."""
    level = labels.get("level", "")
    if level in LEVEL_RANK:
        return level
    return SEVERITY_LEVEL.get(labels.get("severity", ""), "")


def slices(start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
    """Equal time slices of a period: 4-hour ones for a day or less, days for longer."""
    hours = (end - start).total_seconds() / 3600
    n = max(1, round(hours / 24)) if hours > 36 else max(1, round(hours / 4))
    step = (end - start) / n
    out = []
    for i in range(n):
        a, b = start + step * i, start + step * (i + 1)
        local = a.astimezone(LONDON)
        label = local.strftime("%a %d") if hours > 36 else local.strftime("%H:%M")
        out.append((a, b, label))
    return out


@dataclass(frozen=True)
class Cell:
    level: str
    count: int


@dataclass(frozen=True)
class Row:
    area: str
    cells: tuple[Cell, ...]
    peak: str
    total: int


def level_grid(
    start: datetime,
    end: datetime,
    flagged: Iterable[tuple[str, datetime]],
    alerted: Iterable[tuple[str, str, datetime, datetime]],
    limit: int = 15,
) -> dict[str, Any]:
    """`flagged`: (area, post time) of flagged posts; `alerted`: (area, level, first, last seen)
    of alerts. Returns JSON-able data: bucket labels, rows (busiest first) and the legend."""
    cuts = slices(start, end)
    counts: dict[str, list[int]] = {}
    levels: dict[str, list[str]] = {}

    def index(at: datetime) -> int | None:
        for i, (a, b, _) in enumerate(cuts):
            if a < at <= b:
                return i
        return None

    for area, at in flagged:
        i = index(at)
        if i is not None:
            counts.setdefault(area, [0] * len(cuts))[i] += 1
    for area, level, first, last in alerted:
        if level not in LEVEL_RANK:
            continue
        row = levels.setdefault(area, [""] * len(cuts))
        for i, (a, b, _) in enumerate(cuts):
            if first <= b and last >= a and LEVEL_RANK[level] > LEVEL_RANK.get(row[i], 0):
                row[i] = level
    rows = []
    for area in set(counts) | set(levels):
        c = counts.get(area, [0] * len(cuts))
        lv = levels.get(area, [""] * len(cuts))
        peak = max(lv, key=lambda x: LEVEL_RANK.get(x, 0))
        rows.append(
            Row(area, tuple(Cell(lvl, n) for lvl, n in zip(lv, c, strict=True)), peak, sum(c))
        )
    rows.sort(key=lambda r: (-LEVEL_RANK.get(r.peak, 0), -r.total, r.area))
    return {
        "buckets": [label for _, _, label in cuts],
        "rows": [
            {
                "area": r.area,
                "peak": r.peak,
                "total": r.total,
                "cells": [{"level": c.level, "count": c.count} for c in r.cells],
            }
            for r in rows[:limit]
        ],
        "more": max(0, len(rows) - limit),
        "legend": list(LEVELS),
    }


def grid_text(grid: Mapping[str, Any]) -> str:
    """The same grid as monospace text: count and a level letter (n, e, H, C) per cell."""
    letters = {"": " ", "normal": "n", "elevated": "e", "high": "H", "critical": "C"}
    rows = grid["rows"]
    if not rows:
        return "  No flagged posts in any place in this period.\n"
    width = max(12, *(len(r["area"]) for r in rows))
    head = " " * (width + 2) + " ".join(f"{b:>6}" for b in grid["buckets"]) + "   peak"
    lines = [head]
    for r in rows:
        cells = " ".join(f"{c['count'] or '':>5}{letters[c['level']]}" for c in r["cells"])
        lines.append(f"  {r['area']:<{width}}{cells}   {r['peak'] or '-'}")
    if grid.get("more"):
        lines.append(f"  … and {grid['more']} more places")
    lines.append(
        "  (number: flagged posts; letter: highest level alerted — "
        "n normal, e elevated, H high, C critical)"
    )
    return "\n".join(lines) + "\n"


# --- ward map ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Boundary:
    name: str
    rings: tuple[tuple[tuple[float, float], ...], ...]  # outer rings, lon/lat


NAME_KEYS = ("WD13NM", "WD23NM", "WD22NM", "WD21NM", "WD19NM", "wd_name", "name", "NAME")


def load_boundaries(paths: Sequence[str | Path]) -> list[Boundary]:
    """Ward polygons from GeoJSON files (WGS84), named by the usual ONS name properties."""
    out = []
    for path in paths:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        for feature in data.get("features", []):
            props = feature.get("properties") or {}
            name = next((str(props[k]) for k in NAME_KEYS if props.get(k)), None)
            geom = feature.get("geometry") or {}
            if name is None or geom.get("type") not in ("Polygon", "MultiPolygon"):
                continue
            polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
            rings = tuple(tuple((float(x), float(y)) for x, y, *_ in poly[0]) for poly in polys)
            out.append(Boundary(name, rings))
    return out


def ward_map_svg(boundaries: Sequence[Boundary], peaks: Mapping[str, str], width: int = 480) -> str:
    """An SVG map: each ward filled by its peak level in the period; names in <title>."""
    points = [p for b in boundaries for ring in b.rings for p in ring]
    if not points:
        return ""
    lon0, lon1 = min(p[0] for p in points), max(p[0] for p in points)
    lat0, lat1 = min(p[1] for p in points), max(p[1] for p in points)
    kx = math.cos(math.radians((lat0 + lat1) / 2))  # equirectangular, fine at ward scale
    span_x, span_y = (lon1 - lon0) * kx or 1.0, (lat1 - lat0) or 1.0
    height = max(1, round(width * span_y / span_x))
    scale = width / span_x
    lowered = {k.lower(): v for k, v in peaks.items()}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
    ]
    for b in boundaries:
        d = " ".join(
            "M"
            + " L".join(f"{(x - lon0) * kx * scale:.1f},{(lat1 - y) * scale:.1f}" for x, y in ring)
            + " Z"
            for ring in b.rings
        )
        level = lowered.get(b.name.lower(), "")
        parts.append(
            f'<path d="{d}" fill="{FILL[level]}" stroke="#666" stroke-width="0.6">'
            f"<title>{escape(b.name)}: {escape(level or 'no alerts')}</title></path>"
        )
    parts.append("</svg>")
    return "".join(parts)


def svg_data_uri(svg: str) -> str:
    """For an <img src=…>: an SVG shown as an image runs no scripts."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
