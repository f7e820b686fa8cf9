"""Windowed rules count the same whether the posts go through one run, a run split by a
restart, or two workers sharing the store (issue 13, finding 6). The real pipeline, keyword
classifier and a small windowed rule pack; every post is fictional."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.rules.loader import RuleSetHolder
from monitor.rules.service import RuleService
from monitor.runtime.app import open_runtime
from monitor.runtime.state import Runtime
from monitor.store.tables import post_labels, posts
from monitor.types import RawPost
from tests.conftest import ROOT

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
PACK = """\
id: queues
version: "1.0.0"
owner: tests
purpose: Food bank queues (a test pack).
review_by: 2027-06-30
"""
RULES = """\
rules:
  - id: food_bank_queue_busy
    description: Food bank queues reported in one ward by several people within an hour.
    query: '"food bank"'
    place: any
    window:
      per: ward
      within: 1h
      count: ">= 3"
      distinct_authors: ">= 2"
    labels: {kind: tension, topic: food_bank_queue, severity: low}
    examples:
      match:
        - text: "queue at the food bank again"
          place: {ward: Manningham}
      no_match:
        - text: "lovely weather"
          place: {ward: Manningham}
  - id: food_bank_queue_rising
    description: More food bank queue posts in a ward than its own usual hour, three times over.
    query: '"food bank"'
    place: any
    window:
      per: ward
      within: 1h
      count: ">= 2"
      rise: ">= 3x"
      baseline: 1d
    labels: {kind: tension, topic: food_bank_rise, severity: low}
    examples:
      match:
        - text: "queue at the food bank again"
          place: {ward: Manningham}
      no_match:
        - text: "lovely weather"
          place: {ward: Manningham}
"""


def stream() -> list[RawPost]:
    """Posts over five hours in two wards: quiet hours, then busy ones."""
    wards = ("Manningham", "Toller")
    minutes = [0, 50, 110, 170, 200, 215, 225, 232, 238, 245, 250, 262, 275, 290, 293, 296]
    out = []
    for i, m in enumerate(minutes):
        ward = wards[i % 2] if i < 10 else "Manningham"
        out.append(
            RawPost(
                platform="mastodon",
                native_id=f"https://social.example/users/fictional{i % 5}/statuses/{7000 + i}",
                text=f"(fictional) long queue at the food bank in {ward} again, post {i}",
                created_at=T0 + timedelta(minutes=m),
                author_id=f"https://social.example/users/fictional{i % 5}",
                source="test",
                language="en",
            )
        )
    return out


@pytest.fixture
def rules_home(tmp_path: Path) -> Path:
    d = tmp_path / "rules" / "queues"
    d.mkdir(parents=True)
    (d / "pack.yaml").write_text(PACK, encoding="utf-8")
    (d / "rules.yaml").write_text(textwrap.dedent(RULES), encoding="utf-8")
    return tmp_path / "rules"


def evaluator(rules_dir: Path) -> RuleService:
    return RuleService(RuleSetHolder(rules_dir), reload_every=0, stored_windows=True)


async def feed(rt: Runtime, posts: Sequence[RawPost], batch: int = 3) -> None:
    for i in range(0, len(posts), batch):
        await rt.pipeline.deliver("test", posts[i : i + batch], None)
        await rt.pipeline.drain()


async def window_hits(rt: Runtime) -> set[tuple[str, str, str]]:
    """(platform id, rule, area) of each windowed hit. Stored ids are keyed per store, so runs
    on different stores are compared by the platform id each store keeps sealed."""
    ids = await rt.pipeline.ingestor.ids()
    async with rt.engine.connect() as conn:
        rows = await conn.execute(
            select(posts.c.origin, post_labels.c.origin, post_labels.c.value)
            .select_from(post_labels.join(posts, posts.c.id == post_labels.c.post_id))
            .where(post_labels.c.origin.like("queues.%"), post_labels.c.name == "area")
        )
        return {(ids.open(r[0]), r[1], r[2]) for r in rows.all()}


async def one_run(settings: Settings, rules_dir: Path) -> set[tuple[str, str, str]]:
    async with open_runtime(
        settings, classifier=KeywordClassifier(), rules=evaluator(rules_dir)
    ) as rt:
        await feed(rt, stream())
        return await window_hits(rt)


async def test_a_restart_loses_no_window_counts(
    settings: Settings, rules_home: Path, tmp_path: Path
) -> None:
    expected = await one_run(
        replace(settings, database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"),
        rules_home,
    )
    assert {origin for _, origin, _ in expected} == {
        "queues.food_bank_queue_busy",
        "queues.food_bank_queue_rising",
    }, "the stream must fire both windowed rules for the comparison to mean much"
    split = replace(settings, database_url=f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    posts = stream()
    for part in (posts[:7], posts[7:]):  # a restart in the middle of the busy hour
        async with open_runtime(
            split, classifier=KeywordClassifier(), rules=evaluator(rules_home)
        ) as rt:
            await feed(rt, part)
            got = await window_hits(rt)
    assert got == expected


@pytest.mark.postgres
async def test_two_workers_sharing_postgresql_count_like_one(
    migrated_pg_url: str, rules_home: Path, tmp_path: Path
) -> None:
    base = Settings(database_url=migrated_pg_url, home=str(ROOT), classifier="keyword")
    one = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'one.db'}",
        home=str(ROOT),
        classifier="keyword",
    )
    expected = await one_run(one, rules_home)
    posts = stream()
    async with (
        open_runtime(base, classifier=KeywordClassifier(), rules=evaluator(rules_home)) as a,
        open_runtime(base, classifier=KeywordClassifier(), rules=evaluator(rules_home)) as b,
    ):
        for n, i in enumerate(range(0, len(posts), 3)):  # batches alternate between workers
            await feed(a if n % 2 == 0 else b, posts[i : i + 3])
        got = await window_hits(a)
    assert got == expected


async def test_stored_windows_fire_exactly_where_the_in_memory_ones_did(
    settings: Settings, rules_home: Path, tmp_path: Path
) -> None:
    stored = await one_run(
        replace(settings, database_url=f"sqlite+aiosqlite:///{tmp_path / 's.db'}"), rules_home
    )
    memory = RuleService(RuleSetHolder(rules_home), reload_every=0, stored_windows=False)
    async with open_runtime(
        replace(settings, database_url=f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"),
        classifier=KeywordClassifier(),
        rules=memory,
    ) as rt:
        await feed(rt, stream())
        assert await window_hits(rt) == stored
