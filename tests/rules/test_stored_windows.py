"""Windowed rules count the same whether the posts go through one run, a run split by a
restart, or two workers sharing the store (issue 13, finding 6). The real pipeline, keyword
classifier and a small windowed rule pack; every post is fictional."""

from __future__ import annotations

import random
import textwrap
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.rules.engine import _fires, window_keys
from monitor.rules.loader import RuleSetHolder
from monitor.rules.service import RuleService
from monitor.rules.window_store import Observation, StoredWindows, baseline_span, reading
from monitor.runtime.app import open_runtime
from monitor.runtime.state import Runtime
from monitor.store import db
from monitor.store.tables import post_labels, posts
from monitor.types import PlaceMatch, Post, RawPost
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


# Windows that fire on every reading, so each hit's reason carries the whole reading: posts,
# distinct authors, velocity and (once the baseline has history) the rise.
EVERY_READING = """\
rules:
  - id: every_post_per_ward
    description: Every reading of a ward's window (a test of the readings themselves).
    query: '"food bank"'
    place: any
    window:
      per: ward
      within: 1h
      count: ">= 1"
      distinct_authors: ">= 1"
      velocity: ">= 0/h"
      velocity_within: 20m
    labels: {kind: tension, topic: readings, severity: low}
    examples:
      match:
        - text: "queue at the food bank again"
          place: {ward: Manningham}
      no_match:
        - text: "lovely weather"
          place: {ward: Manningham}
  - id: every_rise_per_ward
    description: Every reading of a ward's rise over its baseline (a test of the readings).
    query: '"food bank"'
    place: any
    window:
      per: ward
      within: 30m
      count: ">= 1"
      rise: ">= 0.01x"
      baseline: 4h
    labels: {kind: tension, topic: readings, severity: low}
    examples:
      match:
        - text: "queue at the food bank again"
          place: {ward: Manningham}
      no_match:
        - text: "lovely weather"
          place: {ward: Manningham}
"""


def ward(name: str) -> PlaceMatch:
    return PlaceMatch(f"test/ward/{name}", name, "ward", name, None, "Bradford", name)


def reference_reasons(
    batches: Sequence[Sequence[Observation]],
) -> list[tuple[str, str, str]]:
    """What the store gave when it read each post's window with one SQL aggregate over every
    stored row (before the batch's readings were taken in memory): each post counted once per
    rule and key (a post already counted is not counted again), then read over all the rows
    so far, old rows pruned after each batch. Brute force over the same datetimes; (post,
    rule, reason) of each hit."""
    rows: dict[tuple[str, str, str], tuple[datetime, str]] = {}
    started: float | None = None
    out = []
    for batch in batches:
        if started is None:
            started = batch[0].when.timestamp()
        for o in batch:
            t = o.when.timestamp()
            for rule in o.rules:
                spec = rule.window
                assert spec is not None
                for key, name in window_keys(spec, o.post.places, o.clusters).items():
                    rows.setdefault((rule.id, key, o.post.id), (o.when, o.post.author_ref))
                    mine = [v for (r, k, _), v in rows.items() if (r, k) == (rule.id, key)]
                    lo = datetime.fromtimestamp(t - spec.within.total_seconds(), UTC)
                    hi = datetime.fromtimestamp(t, UTC)
                    vlo = datetime.fromtimestamp(t - spec.velocity_within.total_seconds(), UTC)
                    window = [a for at, a in mine if lo < at <= hi]
                    span = baseline_span(spec, t, started)
                    past = 0
                    if span is not None:
                        b_lo, b_hi = (datetime.fromtimestamp(e, UTC) for e in span)
                        past = sum(1 for at, _ in mine if b_lo <= at < b_hi)
                    r = reading(
                        spec, key, t, started, len(window), len(set(window)),
                        sum(1 for at, _ in mine if vlo < at <= hi), past,
                    )  # fmt: skip
                    fired, reason = _fires(spec, r, name)
                    if fired:
                        out.append((o.post.id, rule.id, reason))
        # Rows older than two windows and the baseline before the batch's latest post go.
        latest = max(o.when for o in batch)
        for rule in {r.id: r for o in batch for r in o.rules}.values():
            assert rule.window is not None
            keep = 2 * rule.window.within + rule.window.baseline
            rows = {k: v for k, v in rows.items() if k[0] != rule.id or v[0] >= latest - keep}
    return out


@pytest.mark.parametrize("seed", [1, 2])
async def test_readings_taken_in_memory_match_the_stored_rows(
    migrated_store_url: str, tmp_path: Path, seed: int
) -> None:
    """A batch's readings, taken in memory from one read per rule and key, are the ones the
    store's rows give post by post: out-of-order times (some older than the baseline, some
    pruned), several posts a second, posts naming two wards, posts counted again in a later
    batch, batches of 1 to 60."""
    d = tmp_path / "rules" / "readings"
    d.mkdir(parents=True)
    (d / "pack.yaml").write_text(PACK.replace("queues", "readings"), encoding="utf-8")
    (d / "rules.yaml").write_text(EVERY_READING, encoding="utf-8")
    rules = tuple(RuleSetHolder(tmp_path / "rules").current.rules)
    rnd = random.Random(seed)
    wards = [ward("Manningham"), ward("Toller")]
    obs = []
    for i in range(400):
        # A wave of posts, mostly in time order, some minutes or hours late, some in the same
        # second.
        at = T0 + timedelta(seconds=int(i * 40 + rnd.choice([0, 0, 0, -900, -3000, 60, -18000])))
        places = tuple(rnd.sample(wards, rnd.choice([1, 1, 2])))
        post = Post(
            id=f"fictional-{i}", platform="test", source="test", text="", language="en",
            created_at=at, collected_at=at, author_ref=f"author-{rnd.randrange(12)}",
            places=places,
        )  # fmt: skip
        obs.append(Observation(post, rules, at))
    batches: list[list[Observation]] = []
    i = 0
    while i < len(obs):
        n = rnd.choice([1, 2, 5, 17, 60])
        batch = obs[i : i + n]
        if batches and rnd.random() < 0.2:  # posts a previous batch already counted
            batch = batch + rnd.sample(batches[-1], min(2, len(batches[-1])))
        batches.append(batch)
        i += n
    expected = reference_reasons(batches)
    assert len({r for _, r, _ in expected}) == 2 and any("x its 4h" in r for *_, r in expected)
    engine = db.create_engine(migrated_store_url)
    try:
        windows = StoredWindows()
        got = []
        for batch in batches:
            async with engine.begin() as conn:
                hits = await windows.observe(conn, batch)
            got += [
                (o.post.id, h.rule_id, h.reason)
                for o in dict((o.post.id, o) for o in batch).values()
                for h in hits.get(o.post.id, [])
            ]
    finally:
        await engine.dispose()
    assert sorted(got) == sorted(expected)
