"""A rising-tension item explains itself: the thresholds its level change crossed and the
hourly window against the area's own baseline, drawn on the server (issue 15)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy import insert

from monitor.runtime.state import Runtime
from monitor.store.tables import level_changes
from monitor.web.charts import against_baseline
from tests.web.conftest import Client, Seeded, sign_in, state_purpose

ClientFactory = Callable[[web.Application], Awaitable[Client]]
AT = datetime(2026, 11, 5, 20, 0, tzinfo=UTC)
SERIES = [
    {"hour": (AT - timedelta(hours=3 - k)).isoformat(), "weighted": w, "baseline": 1.5}
    for k, w in enumerate((1.0, 2.0, 9.0, 14.0))
]
CONDITIONS = [
    {"measure": "weighted", "value": 14.0, "threshold": 8.0, "met": True},
    {"measure": "authors", "value": 11, "threshold": 6, "met": True},
    {"measure": "rise", "value": 9.33, "threshold": 3.0, "met": True},
]


def test_the_chart_puts_volume_and_baseline_on_one_scale() -> None:
    chart = against_baseline(SERIES, width=400.0, height=100.0)
    assert chart is not None
    assert len(chart.bars) == 4 and chart.top == 14.0
    tallest = max(chart.bars, key=lambda b: b.height)
    assert tallest.height == 96.0 and tallest.y == 4.0  # the peak reaches the top
    points = [tuple(map(float, p.split(","))) for p in chart.baseline.split()]
    assert len(points) == 4
    # the baseline (1.5 of 14) sits near the bottom, where the first hour's bar (1.0) ends
    assert all(abs(y - (100 - 1.5 * 96 / 14)) < 0.01 for _, y in points)
    assert "baseline 1.5" in chart.bars[0].label


def test_a_malformed_stored_point_is_left_out_and_nothing_gives_none() -> None:
    broken = [*SERIES, {"hour": "not a time", "weighted": 1, "baseline": 1}, {"hour": "x"}]
    chart = against_baseline(broken)
    assert chart is not None and len(chart.bars) == 4
    assert against_baseline([]) is None


async def _explained(runtime: Runtime, alert_id: int, reason: str) -> None:
    async with runtime.engine.begin() as conn:
        await conn.execute(
            insert(level_changes).values(
                area="E05001354",
                area_kind="ward",
                name="Little Horton",
                at=AT,
                from_level="elevated",
                to_level="high",
                measures={"weighted": 14.0, "conditions": CONDITIONS, "series": SERIES},
                top_labels={},
                reason=reason,
                alert_id=alert_id,
                recorded_at=AT,
            )
        )


async def test_the_alert_page_shows_what_crossed_which_threshold_and_the_window(
    aiohttp_client: ClientFactory,
    app: web.Application,
    users: dict[str, str],
    seeded: Seeded,
    runtime: Runtime,
) -> None:
    alert_id = seeded.alert_ids[0]
    await _explained(runtime, alert_id, "weighted volume 14 over 8 <script>alert(1)</script>")
    client = await aiohttp_client(app)
    csrf = await sign_in(client, "analyst")
    await state_purpose(client, csrf)
    page = await (await client.get(f"/alerts/{alert_id}")).text()
    assert "Why Little Horton went from elevated to high" in page
    for c in CONDITIONS:
        assert f'<td>{c["measure"]}</td><td class="num">{c["value"]}</td>' in page
    assert page.count('<rect class="bar-rect"') == 4
    assert '<polyline class="baseline"' in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    api = await (await client.get(f"/api/v1/alerts/{alert_id}")).json()
    (change,) = api["level_changes"]
    assert change["to_level"] == "high" and change["conditions"] == CONDITIONS
    assert [p["weighted"] for p in change["series"]] == [1.0, 2.0, 9.0, 14.0]


async def test_an_alert_without_a_level_change_shows_no_explanation(
    aiohttp_client: ClientFactory,
    app: web.Application,
    users: dict[str, str],
    seeded: Seeded,
) -> None:
    client = await aiohttp_client(app)
    csrf = await sign_in(client, "analyst")
    await state_purpose(client, csrf)
    page = await (await client.get(f"/alerts/{seeded.alert_ids[0]}")).text()
    assert "went from" not in page and "<polyline" not in page
