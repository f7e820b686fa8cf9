"""Scaled out, signals run once, in the scheduler leader, following the store: two workers
processing a generated week (signals off inline) and the follower give the levels, rumours
and alerts of one process running signals inline; a follower killed mid-way, one whose
signals fail, and two followers after a lost lead count nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.alerts.service import AlertService
from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.evaluation.simulate import ScenarioSpec, generate
from monitor.runtime.pipeline import Pipeline
from monitor.signals.follower import SignalsFollower, lead_together
from monitor.signals.stage import SignalsStage
from monitor.store import posts as post_store
from monitor.store import signals as queries
from monitor.store.tables import (
    alert_posts,
    alerts,
    area_counts,
    area_levels,
    level_changes,
    notifications,
    rumour_posts,
    rumours,
)
from monitor.types import Post, Processed, RuleHit, Stage
from tests.conftest import ROOT, fresh_pg_database, run_sync
from tests.signals.conftest import make_store

pytestmark = pytest.mark.postgres

SPEC = ScenarioSpec(
    seed=5,
    weeks=3 / 7,
    volume=0.5,
    rumour_at=timedelta(days=1, hours=9),
    counter_after=timedelta(hours=6),
    tension_at=timedelta(days=2, hours=1),
    tension_hours=6,
)
BATCH = 64
ITEMS, TRUTH = generate(SPEC)
LATER = TRUTH.end + timedelta(days=1)  # the follower's wall clock: every batch has settled


class ScenarioRules:
    """The scenario's simulated rule hits, as the rule engine would return them."""

    def __init__(self, items: Sequence[Processed]) -> None:
        self.hits = {i.post.id: i.hits for i in items}

    def evaluate(self, post: Post, scores: dict[str, float], now: datetime) -> Sequence[RuleHit]:
        return self.hits.get(post.id, ())


def _batches() -> list[tuple[datetime, list[Processed]]]:
    """The scenario in batches, each with the time a worker processes it (strictly rising,
    at the batch's latest post, as a live stream would be)."""
    out: list[tuple[datetime, list[Processed]]] = []
    for start in range(0, len(ITEMS), BATCH):
        chunk = ITEMS[start : start + BATCH]
        at = chunk[-1].post.created_at
        if out and at <= out[-1][0]:
            at = out[-1][0] + timedelta(microseconds=1)
        out.append((at, chunk))
    return out


# signals_spread_early_rule_authors: off, and on as shipped. With it on, rumour r4 spreads
# early, stops, and spreads again in another ward, changing its alert's label after it was
# routed: one process told that as "updated" and a follower catching up did not, while its
# routing compared wall-clock times written under one clock reading (now a revision counter).
RULE_CORROBORATED = {"off": 0, "on": 2}
DEFAULT = Settings().signals_spread_early_rule_authors


def _settings(url: str, rule_authors: int = DEFAULT) -> Settings:
    return Settings(
        database_url=url,
        home=str(ROOT),
        classifier="keyword",
        signals_spread_early_rule_authors=rule_authors,
    )


class _Clock:
    def __init__(self) -> None:
        self.now = LATER

    def __call__(self) -> datetime:
        return self.now


def _pipeline(engine: AsyncEngine, stages: Sequence[Stage], clock: _Clock) -> Pipeline:
    return Pipeline(
        engine,
        ingestor=None,  # type: ignore[arg-type]  # posts are stored by the test, as intake does
        classifier=KeywordClassifier(),
        rules=ScenarioRules(ITEMS),
        stages=stages,
        clock=clock,
    )


async def _process(engines: Sequence[AsyncEngine], pipelines: Sequence[Pipeline]) -> None:
    """Batch n goes to worker n mod len(pipelines), each worker on its own engine."""
    clocks = [p.clock for p in pipelines]
    for n, (at, chunk) in enumerate(_batches()):
        worker = n % len(pipelines)
        async with engines[worker].begin() as conn:
            await post_store.insert_posts(conn, [i.post for i in chunk])
        clock = clocks[worker]
        assert isinstance(clock, _Clock)
        clock.now = at
        await pipelines[worker].process([i.post for i in chunk])


async def _snapshot(engine: AsyncEngine) -> dict[str, Any]:
    """Everything signals decide, and the alerts and notifications they lead to; without
    wall-clock times and database ids, which legitimately differ."""
    async with engine.connect() as conn:

        async def rows(stmt: Any) -> list[Any]:
            return list((await conn.execute(stmt)).all())

        keys = {r.id: r.key for r in await rows(select(alerts.c.id, alerts.c.key))}
        evidence: dict[str, set[tuple[str, str]]] = {}
        for r in await rows(select(alert_posts)):
            evidence.setdefault(keys[r.alert_id], set()).add((r.post_id, ",".join(r.rules)))
        return {
            "area_counts": sorted(
                (r.area, r.hour, r.posts, r.flagged, round(float(r.weighted), 4))
                for r in await rows(select(area_counts))
            ),
            "levels": sorted(
                (r.area, r.level, r.since, r.below_since) for r in await rows(select(area_levels))
            ),
            "changes": sorted(
                (r.area, r.at, r.from_level, r.to_level, r.reason, keys.get(r.alert_id))
                for r in await rows(select(level_changes))
            ),
            "rumours": sorted(
                (
                    r.id,
                    r.status,
                    r.post_count,
                    r.author_count,
                    sorted(r.places.items()),
                    sorted(r.stance.items()),
                    r.first_seen,
                    r.last_seen,
                    r.spreading,
                    r.spreading_since,
                    r.merged_into,
                    r.representative_post_id,
                )
                for r in await rows(select(rumours))
            ),
            # float16 embeddings in the store move a similarity by ~1e-3 at most
            "members": sorted(
                (r.rumour_id, r.post_id, r.how, r.stance, r.state, r.place, round(r.similarity, 2))
                for r in await rows(select(rumour_posts))
            ),
            "alerts": sorted(
                (
                    r.key,
                    sorted(r.labels.items()),
                    r.summary,
                    r.status,
                    r.post_count,
                    r.first_seen,
                    r.last_seen,
                    sorted(evidence.get(r.key, ())),
                )
                for r in await rows(select(alerts))
            ),
            "notifications": sorted(
                (r.kind, r.alert_key, r.seq, r.route, r.receiver, r.integration, r.recipient)
                for r in await rows(select(notifications))
            ),
        }


def _same(got: dict[str, Any], want: dict[str, Any]) -> None:
    """Equal snapshots; on a difference, name the part and the first rows that differ."""
    for part in want:
        extra = sorted(set(map(repr, got[part])) - set(map(repr, want[part])))[:3]
        missing = sorted(set(map(repr, want[part])) - set(map(repr, got[part])))[:3]
        assert got[part] == want[part], f"{part}: follower has {extra}, inline has {missing}"


@pytest.fixture(scope="module")
def inline_with(pg_migrated_template: str) -> Callable[[int], dict[str, Any]]:
    """One process, signals inline (the embedded mode): the reference, for a value of
    signals_spread_early_rule_authors (each run once for the module). Each run's database
    starts as a copy of one already migrated (`pg_migrated_template`): its store finds the
    migrations done."""
    runs: dict[int, dict[str, Any]] = {}

    async def run(url: str, rule_authors: int) -> dict[str, Any]:
        engine = await make_store(url)
        try:
            settings = _settings(url, rule_authors)
            stages: list[Stage] = [
                SignalsStage.from_settings(settings, KeywordClassifier()),
                AlertService.from_settings(settings, ROOT, engine),
            ]
            await _process([engine], [_pipeline(engine, stages, _Clock())])
            return await _snapshot(engine)
        finally:
            await engine.dispose()

    def get(rule_authors: int) -> dict[str, Any]:
        if rule_authors not in runs:
            with fresh_pg_database(template=pg_migrated_template) as url:
                runs[rule_authors] = run_sync(lambda: run(url, rule_authors))
        return runs[rule_authors]

    return get


@pytest.fixture(scope="module")
def inline(inline_with: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    return inline_with(DEFAULT)


class Workers:
    """Two worker processes on one database, signals off inline, as `--role worker` runs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.settings = _settings(url)
        self.engines: list[AsyncEngine] = []

    async def run(self) -> None:
        self.engines = [await make_store(self.url), await make_store(self.url)]
        pipelines = [
            _pipeline(e, [AlertService.from_settings(self.settings, ROOT, e)], _Clock())
            for e in self.engines
        ]
        await _process(self.engines, pipelines)

    def follower(
        self, engine: AsyncEngine, rule_authors: int = DEFAULT, **kw: Any
    ) -> SignalsFollower:
        """A scheduler leader's follower, as a fresh process builds it."""
        settings = _settings(self.url, rule_authors)
        stage = SignalsStage.from_settings(settings, KeywordClassifier())
        alert_stage = AlertService.from_settings(self.settings, ROOT, engine)
        return SignalsFollower(engine, stage, alerts=alert_stage, clock=lambda: LATER, **kw)


@pytest.fixture(scope="module")
def processed_by_workers(pg_migrated_template: str) -> Iterator[str]:
    """The scenario as two workers leave it, built once for the module: each test gets a copy
    of this database (`workers`), never this one, so what a test's follower writes stays its
    own. The workers keep nothing in memory that the tests read: only the store. It starts
    as a copy of the migrated template."""

    async def build(url: str) -> None:
        w = Workers(url)
        try:
            await w.run()
        finally:
            for e in w.engines:
                await e.dispose()  # a template must have no connections to be copied

    with fresh_pg_database(template=pg_migrated_template) as url:
        run_sync(lambda: build(url))
        yield url


@pytest.fixture
async def workers(processed_by_workers: str) -> AsyncIterator[Workers]:
    with fresh_pg_database(template=processed_by_workers) as url:
        w = Workers(url)
        try:
            w.engines = [await make_store(url), await make_store(url)]
            yield w
        finally:
            for e in w.engines:
                await e.dispose()


@pytest.mark.slow
@pytest.mark.parametrize(
    "rule_corroborated", list(RULE_CORROBORATED), ids=lambda v: f"rule-corroborated spreading {v}"
)
async def test_workers_and_a_follower_equal_one_process(
    workers: Workers, inline_with: Callable[[int], dict[str, Any]], rule_corroborated: str
) -> None:
    rule_authors = RULE_CORROBORATED[rule_corroborated]
    inline = inline_with(rule_authors)
    engine = workers.engines[0]
    before = await _snapshot(engine)
    assert not before["rumours"] and not before["area_counts"]  # workers ran no signals

    taken = await workers.follower(engine, rule_authors).catch_up()

    assert taken == len(ITEMS)
    after = await _snapshot(engine)
    _same(after, inline)
    if rule_authors:  # an alert changed after it was routed, told by both
        assert any(n[0] == "updated" for n in after["notifications"])
    kinds = {dict(a[1])["kind"] for a in after["alerts"]}
    assert {"rising_tension", "rumour_spreading"} <= kinds
    routed = {n[1] for n in after["notifications"]}
    signal_keys = {a[0] for a in after["alerts"] if dict(a[1])["kind"] == "rising_tension"}
    assert signal_keys and signal_keys <= routed  # the follower's alerts were routed
    assert await workers.follower(engine, rule_authors).catch_up() == 0  # nothing new


class Stall:
    """An alert stage that stalls on its n-th batch, after the signals wrote theirs in the
    same transaction: a follower killed there dies with a transaction half done."""

    def __init__(self, inner: Stage, n: int) -> None:
        self.inner = inner
        self.n = n
        self.calls = 0
        self.stalled = asyncio.Event()

    async def __call__(
        self, conn: AsyncConnection, items: Sequence[Processed], now: datetime
    ) -> None:
        self.calls += 1
        if self.calls == self.n:
            self.stalled.set()
            await asyncio.Event().wait()
        await self.inner(conn, items, now)


async def test_a_follower_killed_mid_batch_resumes_without_counting_twice(
    workers: Workers, inline: dict[str, Any]
) -> None:
    engine = workers.engines[0]
    doomed = workers.follower(engine, page=100)
    assert doomed.alerts is not None
    stall = Stall(doomed.alerts, n=9)
    doomed.alerts = stall
    task = asyncio.create_task(doomed.catch_up())
    await asyncio.wait_for(stall.stalled.wait(), 60)
    task.cancel()  # killed inside its ninth transaction
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert 0 < doomed.taken < len(ITEMS)

    # A new leader: a fresh process whose signals load from the store.
    async with engine.connect() as conn:
        cursor = await queries.load_follower_cursor(conn)
    assert (
        cursor is not None and cursor == doomed.cursor and cursor[0] == _batches()[7][0]
    )  # eight committed
    taken = await workers.follower(engine).catch_up()

    assert doomed.taken + taken == len(ITEMS)
    _same(await _snapshot(engine), inline)


async def test_signals_failing_on_a_batch_are_tried_again(
    workers: Workers, inline: dict[str, Any]
) -> None:
    engine = workers.engines[0]
    follower = workers.follower(engine)
    calls = _fail_once(follower.stage, on_call=3)
    taken = await follower.catch_up()  # the third batch rolls back and is taken again
    assert follower.stage.failures == 1 and calls[0] == len(_batches()) + 1
    assert taken == len(ITEMS) and follower.skipped == 0
    _same(await _snapshot(engine), inline)


def _fail_once(stage: SignalsStage, on_call: int) -> list[int]:
    """Make the stage's engine raise on its n-th batch. The stage builds a new engine at
    each reload, so every one it builds is wrapped."""
    load = stage._load
    calls = [0]

    async def patched(*args: Any, **kw: Any) -> None:
        await load(*args, **kw)
        observe = stage.engine.observe

        def flaky(items: Sequence[Processed], now: datetime) -> Any:
            calls[0] += 1
            if calls[0] == on_call:
                raise ValueError("a blip inside signals")
            return observe(items, now)

        stage.engine.observe = flaky  # type: ignore[method-assign]

    stage._load = patched  # type: ignore[method-assign]
    return calls


async def test_a_follower_that_lost_the_lead_cannot_move_the_cursor_twice(
    workers: Workers, inline: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    # Two followers at once (a leader that lost its lock and has not noticed yet, and the
    # new one): the cursor's row lock lets one take each batch; the other sees the cursor
    # moved and reloads its signals from the store before going on.
    engine = workers.engines[0]
    a, b = workers.follower(engine, page=150), workers.follower(workers.engines[1], page=150)
    while sum(await asyncio.gather(a.step(), b.step())):
        pass
    assert a.taken + b.taken == len(ITEMS)
    assert "another follower moved the cursor" in caplog.text
    _same(await _snapshot(engine), inline)


async def test_only_posts_processed_a_settle_delay_ago_are_taken(
    migrated_pg_url: str,
) -> None:
    engine = await make_store(migrated_pg_url)
    try:
        settings = _settings(migrated_pg_url)
        clock = _Clock()
        pipeline = _pipeline(engine, [], clock)
        batches = _batches()[:2]
        for at, chunk in batches:
            async with engine.begin() as conn:
                await post_store.insert_posts(conn, [i.post for i in chunk])
            clock.now = at
            await pipeline.process([i.post for i in chunk])
        second = batches[1][0]
        now = [second + timedelta(seconds=9)]
        follower = SignalsFollower(
            engine,
            SignalsStage.from_settings(settings, KeywordClassifier()),
            settle=timedelta(seconds=10),
            clock=lambda: now[0],
        )
        assert await follower.catch_up() == BATCH  # the second batch has not settled yet
        now[0] = second + timedelta(seconds=10)
        assert await follower.catch_up() == BATCH
    finally:
        await engine.dispose()


async def test_first_run_after_inline_signals_starts_after_what_they_took(
    migrated_pg_url: str,
) -> None:
    # A store moved from one process (signals inline) to scaled out: the follower must not
    # take up again the posts the inline signals already counted.
    engine = await make_store(migrated_pg_url)
    try:
        settings = _settings(migrated_pg_url)
        clock = _Clock()
        stage = SignalsStage.from_settings(settings, KeywordClassifier())
        inline_pipeline = _pipeline(engine, [stage], clock)
        worker = _pipeline(engine, [], clock)
        batches = _batches()[:4]
        for n, (at, chunk) in enumerate(batches):
            async with engine.begin() as conn:
                await post_store.insert_posts(conn, [i.post for i in chunk])
            clock.now = at
            await (inline_pipeline if n < 2 else worker).process([i.post for i in chunk])
            if n == 1:  # the switch: the follower's first run happens here
                follower = SignalsFollower(
                    engine,
                    SignalsStage.from_settings(settings, KeywordClassifier()),
                    clock=lambda: LATER,
                )
                assert await follower.catch_up() == 0
        assert await follower.catch_up() == 2 * BATCH
        async with engine.connect() as conn:
            counted = (await conn.execute(select(area_counts.c.posts))).scalars().all()
        placed = sum(1 for _, chunk in batches for i in chunk if i.post.places)
        assert sum(counted) == placed * 3  # ward, locality and district, each post once
    finally:
        await engine.dispose()


async def test_leader_duties_start_in_order_and_stop_in_reverse() -> None:
    events: list[str] = []

    class Duty:
        def __init__(self, name: str, fail_stop: bool = False) -> None:
            self.name, self.fail_stop = name, fail_stop

        async def start(self) -> None:
            events.append(f"start {self.name}")

        async def stop(self) -> None:
            events.append(f"stop {self.name}")
            if self.fail_stop:
                raise RuntimeError("stop failed")

    start, stop = lead_together(Duty("alerts"), None, Duty("signals", fail_stop=True))
    await start()
    with pytest.raises(RuntimeError):
        await stop()
    assert events == ["start alerts", "start signals", "stop signals", "stop alerts"]


async def test_workers_run_no_signals_and_the_scheduler_leader_follows(
    migrated_pg_url: str, redis_url: str
) -> None:
    from monitor.runtime.app import open_runtime

    settings = _settings(migrated_pg_url).with_overrides(
        queue_url=redis_url, queue_stream=f"test:{uuid.uuid4().hex}", alerts_deliver=False
    )
    async with open_runtime(settings, classifier=KeywordClassifier(), role="worker") as rt:
        assert not any(isinstance(s, SignalsStage) for s in rt.pipeline.stages)
        assert any(isinstance(s, AlertService) for s in rt.pipeline.stages)
    async with open_runtime(settings, classifier=KeywordClassifier(), role="scheduler") as rt:
        for _ in range(100):  # the leader's follower writes its cursor on its first step
            async with rt.engine.connect() as conn:
                if await queries.load_follower_cursor(conn) == queries.START:
                    break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the scheduler leader did not start the signals follower")


async def test_one_process_keeps_signals_inline(settings: Settings) -> None:
    from monitor.incidents.stage import IncidentStage
    from monitor.runtime.app import open_runtime

    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        kinds = [type(s) for s in rt.pipeline.stages]
        # signals first, then the incidents they feed, then the alerts' routing
        assert kinds == [SignalsStage, IncidentStage, AlertService]
        async with rt.engine.connect() as conn:
            assert await queries.load_follower_cursor(conn) is None  # no follower runs
