"""Trends: posts over time for a place (with its level), a rumour or an incident in a date range,
each bar linking to the posts behind it for roles that may read posts; liaison officers get the
same counts without links or text."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

from monitor.runtime.state import Runtime
from tests.web.conftest import T0, Client, Seeded, seed_rumour, sign_in, state_purpose

DAY = T0.date().isoformat()


async def test_area_trend_links_each_bar_to_its_posts(
    client: Client, users: dict[str, str], seeded: Seeded, runtime: Runtime
) -> None:
    csrf = await sign_in(client, "analyst")
    api = await (await client.get(f"/api/v1/trends?area=ward:Toller&from={DAY}&to={DAY}")).json()
    assert api["of"] == "Toller" and api["step_hours"] == 1
    assert sum(s["counts"].get("flagged", 0) for s in api["series"]) >= 1
    assert len(api["levels"]) == 24  # one level per hour of the day
    page = await (await client.get(f"/trends?area=ward:Toller&from={DAY}&to={DAY}")).text()
    assert 'class="tick"' in page and 'type="date"' in page
    links = re.findall(r'<a href="(/trends/posts\?[^"]+)"', page)
    assert links, "every bar links to its posts"
    first = links[0].replace("&amp;", "&")
    assert (await client.get(first, allow_redirects=False)).status == 303  # a purpose first
    await state_purpose(client, csrf)
    posts = await client.get(first)
    body = await posts.text()
    assert posts.status == 200 and "(fictional)" in body and "social.example" not in body
    start = unquote(first.split("start=")[1].split("&")[0])
    assert start.startswith(DAY)


async def test_rumour_trend_and_liaison_sees_counts_without_links(
    client: Client, users: dict[str, str], seeded: Seeded, runtime: Runtime
) -> None:
    rumour = await seed_rumour(runtime)
    await sign_in(client, "comms")
    api = await (await client.get(f"/api/v1/trends?rumour={rumour}&from={DAY}")).json()
    assert api["parts"] == ["support", "deny", "query", "comment"]
    assert sum(s["counts"].get("support", 0) for s in api["series"]) >= 1
    client.session.cookie_jar.clear()
    await sign_in(client, "liaison")
    page = await (await client.get(f"/trends?rumour={rumour}&from={DAY}&to={DAY}")).text()
    assert "/trends/posts" not in page and "old mill" not in page
    assert (await client.get(f"/trends?area=nowhere&from={DAY}&to=bad")).status == 200
    wide = (T0 + timedelta(days=9)).isoformat()
    refused = await client.get(f"/trends/posts?start={T0.isoformat()}&end={wide}")
    assert refused.status == 403


async def test_days_and_times_beyond_any_calendar_are_read_as_absent_or_refused(
    client: Client, users: dict[str, str], seeded: Seeded, runtime: Runtime
) -> None:
    # Python's dates end at 9999-12-31: stepping a day past it was an OverflowError (a 500).
    csrf = await sign_in(client, "analyst")
    await state_purpose(client, csrf)
    for query in ("to=9999-12-31", "to=0001-01-01", "from=0001-01-01&to=0001-01-02"):
        for path in ("/trends", "/api/v1/trends"):
            reply = await client.get(f"{path}?area=ward:Toller&{query}")
            assert reply.status == 200, (path, query)
    api = await (await client.get("/api/v1/trends?area=ward:Toller&to=9999-12-31")).json()
    assert api["series"], "an impossible end day is ignored: the latest days are shown"
    for start, end in (
        ("9999-12-30T00:00:00+00:00", "9999-12-31T00:00:00+00:00"),
        ("0001-01-01T00:00:00+00:00", "0001-01-02T00:00:00+00:00"),
    ):
        posts = await client.get(f"/trends/posts?start={start}&end={end}")
        assert posts.status == 400 and "ISO times" in await posts.text()
