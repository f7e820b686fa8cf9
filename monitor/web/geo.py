"""Ward boundaries from GeoJSON drawn as SVG paths on the server (no map tiles, no script).

Longitude and latitude are projected equirectangularly with longitude scaled by the cosine of
the middle latitude, which is accurate enough over a district. Points closer than half a pixel
to the previous one are dropped, so the page stays small.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Ring = list[tuple[float, float]]
NAME_KEY = re.compile(r"^(WD\d{2}NM|wd\d{2}nm|name|NAME|Name)$")
CODE_KEY = re.compile(r"^(WD\d{2}CD|wd\d{2}cd|code|CODE)$")
DEFAULT_BOUNDARIES = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "geo" / "bradford-wards-2013.geojson"
)


class BoundaryError(ValueError):
    """A boundaries file that cannot be drawn; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Area:
    name: str
    code: str
    rings: tuple[Ring, ...]


@dataclass(frozen=True, slots=True)
class Shape:
    name: str
    code: str
    d: str  # SVG path data
    label_x: float
    label_y: float


@dataclass(frozen=True, slots=True)
class Map:
    width: float
    height: float
    shapes: tuple[Shape, ...]
    attribution: str
    source: str


def _prop(props: dict[str, Any], pattern: re.Pattern[str]) -> str:
    for key, value in props.items():
        if pattern.match(key) and value:
            return str(value)
    return ""


def _polygons(geometry: dict[str, Any]) -> Iterator[list[list[float]]]:
    kind = geometry.get("type")
    coords = geometry.get("coordinates") or []
    if kind == "Polygon":
        yield from coords
    elif kind == "MultiPolygon":
        for polygon in coords:
            yield from polygon


def parse(data: dict[str, Any], source: str = "boundaries") -> list[Area]:
    if data.get("type") != "FeatureCollection":
        raise BoundaryError(f"{source}: not a GeoJSON FeatureCollection")
    areas: list[Area] = []
    for i, feature in enumerate(data.get("features") or []):
        props = feature.get("properties") or {}
        name = _prop(props, NAME_KEY)
        if not name:
            raise BoundaryError(f"{source}: feature {i} has no name property (WD..NM or name)")
        rings = tuple(
            [(float(p[0]), float(p[1])) for p in ring]
            for ring in _polygons(feature.get("geometry") or {})
            if len(ring) >= 3
        )
        if rings:
            areas.append(Area(name, _prop(props, CODE_KEY), rings))
    if not areas:
        raise BoundaryError(f"{source}: no polygons")
    return areas


def project(
    areas: Sequence[Area], width: float = 640.0, pad: float = 8.0
) -> tuple[float, tuple[Shape, ...]]:
    """Shapes scaled to `width` pixels; returns (height, shapes). North is up."""
    lons = [x for a in areas for r in a.rings for x, _ in r]
    lats = [y for a in areas for r in a.rings for _, y in r]
    lon0, lon1, lat0, lat1 = min(lons), max(lons), min(lats), max(lats)
    k = math.cos(math.radians((lat0 + lat1) / 2))
    span_x = max((lon1 - lon0) * k, 1e-9)
    span_y = max(lat1 - lat0, 1e-9)
    scale = (width - 2 * pad) / span_x
    height = span_y * scale + 2 * pad

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return (pad + (lon - lon0) * k * scale, pad + (lat1 - lat) * scale)

    shapes = []
    for area in areas:
        parts: list[str] = []
        sx = sy = 0.0
        n = 0
        for ring in area.rings:
            pts: list[tuple[float, float]] = []
            for lon, lat in ring:
                p = xy(lon, lat)
                if not pts or abs(p[0] - pts[-1][0]) + abs(p[1] - pts[-1][1]) >= 0.5:
                    pts.append(p)
            if len(pts) < 3:
                continue
            parts.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + " Z")
            for x, y in pts:
                sx, sy, n = sx + x, sy + y, n + 1
        if parts:
            shapes.append(Shape(area.name, area.code, " ".join(parts), sx / n, sy / n))
    return height, tuple(shapes)


def attribution_for(path: Path) -> str:
    """The licence text beside the file (LICENCE.txt), as the licence requires it shown."""
    for name in ("LICENCE.txt", "LICENSE.txt", "ATTRIBUTION.txt"):
        licence = path.parent / name
        if licence.is_file():
            lines = [
                line.strip()
                for line in licence.read_text(encoding="utf-8", errors="replace").splitlines()
            ]
            return " ".join(line for line in lines if line and not set(line) <= {"-", "=", "_"})
    return ""


def load_map(path: Path, width: float = 640.0) -> Map:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BoundaryError(f"{path}: cannot read GeoJSON ({exc})") from None
    height, shapes = project(parse(data, str(path)), width)
    return Map(width, round(height, 1), shapes, attribution_for(path), path.name)


def boundaries_path(setting: str) -> Path | None:
    """The configured file; or, when unset, the demo's Bradford wards beside the checkout."""
    if setting:
        return Path(setting).expanduser()
    return DEFAULT_BOUNDARIES if DEFAULT_BOUNDARIES.is_file() else None
