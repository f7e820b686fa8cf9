"""Lawful protest and criticism of the council are never flagged by the shipped rules: posted
through the real pipeline, they open no alert, while calls to gather against people still do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.runtime.app import open_runtime
from monitor.store.tables import alerts
from monitor.types import RawPost

T0 = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
LAWFUL = (
    # protest about policies and services
    "Peaceful protest outside City Hall on Saturday at 2pm against the library closures",
    "Protest tonight 6pm outside the council offices, enough is enough with these cuts, be there",
    "Demo on Saturday at City Hall: stand up for our NHS, bring your mates",
    "Climate strike this Friday, meet at Centenary Square at 10am, make some noise!",
    "Unison members: rally at City Hall at 12 noon Thursday over the pay offer. Be there!",
    "Save our Millbeck library! March from the market to the town hall Saturday 11am",
    # criticism of the council
    "Bradford Council are a disgrace, the bins haven't been collected for three weeks",
    "The council has wasted millions on this scheme, councillors should resign",
    "Absolutely fuming at the council for closing Millbeck library, enough is enough",
    "Council tax up again and the roads in Eastbrook are a state. Useless lot, vote them out",
)
AGAINST_PEOPLE = (
    "Everyone get down to the Greyfield Hotel at 7pm tonight. Enough is enough, show them",
    "Protest at Eastbrook mosque after prayers friday, be there, they're not welcome",
)


def _raw(i: int, text: str) -> RawPost:
    return RawPost(
        platform="bluesky", native_id=f"at://did:plc:fictionallawful{i}/app.bsky.feed.post/{i}",
        text=f"(fictional) {text}", created_at=T0 + timedelta(minutes=i),
        author_id=f"did:plc:fictionallawful{i}", language="en", source="test",
    )  # fmt: skip


async def test_lawful_protest_and_criticism_open_no_alert_but_hostility_still_does(
    settings: Settings,
) -> None:
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:

        async def open_alerts() -> int:
            async with rt.engine.connect() as conn:
                return int(
                    (await conn.execute(select(func.count()).select_from(alerts))).scalar_one()
                )

        await rt.pipeline.deliver("test", [_raw(i, t) for i, t in enumerate(LAWFUL)], None)
        await rt.pipeline.drain()
        assert await open_alerts() == 0
        start = len(LAWFUL)
        hostile = [_raw(start + i, t) for i, t in enumerate(AGAINST_PEOPLE)]
        await rt.pipeline.deliver("test", hostile, None)
        await rt.pipeline.drain()
        assert await open_alerts() >= 1
