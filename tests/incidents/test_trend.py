"""An incident's trend follows the posts telling its story: a wave of denials hours after a
claim went quiet is its response, not the story rising again (all posts fictional)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.incidents.test_store import engine, feed, fictional, hit, rows

__all__ = ["engine"]  # the store fixture, used by name


async def test_a_denial_wave_after_the_claim_went_quiet_does_not_make_it_rising(
    engine: AsyncEngine,
) -> None:
    claim = hit("rumour", "school")
    told = [
        fictional(i, 10 * i, "Toller", "heard Girlington primary banned Christmas, nobody told us")
        for i in range(6)
    ]
    await feed(engine, told, claim)
    (row,) = await rows(engine)
    assert row["status"] == "open" and row["trend"] == "rising"

    # Three hours after the last telling, people share the denial: the rule matches their
    # words too (the claim is in them), so the posts join the alert, as responses.
    denied = [
        fictional(
            100 + i,
            4 * 60 + 10 * i,
            "Toller",
            "Girlington primary banned Christmas? Not true, says the council. Check first",
        )
        for i in range(10)
    ]
    await feed(engine, denied, claim)
    (row,) = await rows(engine)
    assert row["response_count"] == 10 and row["post_count"] == 6
    assert row["trend"] == "falling"  # was "rising": the denials counted as its posts
