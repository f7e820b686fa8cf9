"""Areas: tension level per ward and locality now and over time, a ward map and a table."""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

from aiohttp import web

from monitor.classify.languages import not_scored_notes, not_scored_short
from monitor.runtime.state import RUNTIME
from monitor.store import languages as language_store
from monitor.web import geo
from monitor.web.queries import areas as area_queries
from monitor.web.render import page
from monitor.web.state import WEB, WebState

routes = web.RouteTableDef()
log = logging.getLogger(__name__)
SHADES = ("level", "flagged")


def level_names(state: WebState) -> list[str]:
    return [n.strip() for n in state.settings.signals_levels.split(",") if n.strip()]


def ward_map(state: WebState) -> tuple[geo.Map | None, str | None]:
    """The parsed boundaries (cached per file and modification time), or why there are none."""
    path = geo.boundaries_path(state.settings.web_boundaries)
    if path is None:
        return None, "No ward boundaries are configured (setting web_boundaries)."
    try:
        key = f"map:{path}:{path.stat().st_mtime_ns}"
    except OSError:
        return None, f"The boundaries file {path} cannot be read."
    if key not in state.cache:
        try:
            state.cache[key] = geo.load_map(path)
        except geo.BoundaryError as exc:
            log.warning("%s", exc)
            return None, str(exc)
    value = state.cache[key]
    return (value if isinstance(value, geo.Map) else None), None


def _bands(values: list[int]) -> list[int]:
    """Four bands of flagged volume (0, then thirds of the maximum), for the flagged shading."""
    top = max(values, default=0)
    return [0 if v == 0 or top == 0 else min(3, 1 + (3 * v - 1) // top) for v in values]


def shade_map(
    the_map: geo.Map, wards: list[dict[str, Any]], shade: str, scale_top: int
) -> list[dict[str, Any]]:
    by_name = {w["name"].casefold(): w for w in wards}
    rows = [by_name.get(s.name.casefold()) for s in the_map.shapes]
    if shade == "flagged":
        bands = _bands([r["flagged"] if r else 0 for r in rows])
    else:
        # Spread whatever the scale's length is over the four colour classes.
        bands = [
            -1 if r is None or r["level"] is None else round(3 * r["level"] / max(1, scale_top))
            for r in rows
        ]
    return [
        {"shape": s, "row": r, "band": b}
        for s, r, b in zip(the_map.shapes, rows, bands, strict=True)
    ]


@routes.get("/areas", name="areas")
async def areas_page(request: web.Request) -> web.Response:
    state = request.app[WEB]
    shade = request.query.get("shade", "level")
    shade = shade if shade in SHADES else "level"
    names = level_names(state)
    async with request.app[RUNTIME].engine.connect() as conn:
        table = await area_queries.area_table(
            conn,
            names[0],
            min_count=request.app[RUNTIME].settings.privacy_min_count,
        )
        days, series = await area_queries.daily_flagged(conn)
        history = await area_queries.level_history(
            conn, limit=50, min_count=request.app[RUNTIME].settings.privacy_min_count
        )
        covered = getattr(request.app[RUNTIME].classifier, "covered_languages", None)
        unscored = await language_store.not_scored(conn, covered)
        unscored_wards = await language_store.not_scored_by_ward(conn, covered)
    the_map, map_problem = ward_map(state)
    has_levels = any(w["recorded"] for w in table["ward"])
    return page(
        request,
        "areas.html",
        title="Areas",
        wards=table["ward"],
        localities=table["locality"],
        days=days,
        series=series,
        history=history,
        levels=names,
        has_levels=has_levels,
        shade=shade,
        the_map=the_map,
        map_problem=map_problem,
        shapes=shade_map(the_map, table["ward"], shade, len(names) - 1) if the_map else [],
        not_scored=not_scored_notes(unscored),
        not_scored_ward={w: not_scored_short(c) for w, c in unscored_wards.items()},
    )


@routes.get("/areas.csv", name="areas_csv")
async def areas_csv(request: web.Request) -> web.Response:
    async with request.app[RUNTIME].engine.connect() as conn:
        table = await area_queries.area_table(
            conn,
            level_names(request.app[WEB])[0],
            min_count=request.app[RUNTIME].settings.privacy_min_count,
        )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["kind", "area", "level", "posts", "flagged_posts", "distinct_authors"])
    for kind in ("ward", "locality"):
        for r in table[kind]:
            writer.writerow(
                [kind, r["name"], r["level_name"] or "", r["posts"], r["flagged"], r["authors"]]
            )
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="areas.csv"'},
    )
