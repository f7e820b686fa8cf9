"""The bundled demo week end to end: imported through the real pipeline (ingest, keyword
classifier, shipped rules, signals stage, SQLite), scored against its ground truth.

Two views of the same run:
- what the pipeline raised with today's keyword classifier and rules;
- the stored posts replayed through the signals with the truth tags' labels in place of the
  rules' hits: the signals on their own, apart from what the classifier and rules catch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.evaluation.evaluate import (
    Replay,
    Score,
    area_parents,
    demo_truth,
    replay,
    replay_from_rows,
    score,
    truth_threshold_time,
    with_truth_labels,
)
from monitor.evaluation.simulate import Truth
from monitor.signals.config import SignalsConfig
from monitor.types import Processed
from tests.conftest import ROOT

DEMO = ROOT / "monitor" / "data" / "demo" / "bradford-scenario.jsonl"
TRUTH = DEMO.with_suffix(".truth.json")
MIN = timedelta(minutes=1)

# What the shipped settings achieve on the demo (see benchmarks/signals_detection.py).
RUMOUR_WITHIN_MIN = 8 * 60  # of onset: the claim trickles at about one post an hour for 5 h
RUMOUR_BEHIND_ORACLE_MIN = 90  # after its own posts first reach 8 in 60 min
TENSION_WITHIN_MIN = 30  # of the incident, with the truth's labels
TENSION_DOWN_WITHIN_MIN = 6 * 60  # after the episode's end


@dataclass
class DemoRun:
    truth: Truth
    tags: dict[str, list[str]]
    stored: Replay
    items: list[Processed]
    config: SignalsConfig


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    if not DEMO.is_file() or not TRUTH.is_file():
        pytest.skip(f"no demo scenario at {DEMO}")
    from monitor.ingest.importer import import_file
    from monitor.runtime.app import open_runtime
    from monitor.store import signals as queries
    from monitor.store.tables import alerts, level_changes, rumour_posts, rumours

    db = tmp_path_factory.mktemp("demo") / "demo.db"
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{db}", home=str(ROOT), classifier="keyword"
    )
    if hasattr(settings, "alerts_deliver"):
        settings = settings.with_overrides(alerts_deliver=False)
    config = SignalsConfig.from_settings(settings, hashed_embeddings=True)

    async def run() -> tuple[Replay, list[Processed], Callable[[str], str]]:
        async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
            report = await import_file(DEMO, rt.pipeline, batch_size=500)
            await rt.pipeline.drain()
            assert not report.problems
            async with rt.engine.connect() as conn:
                rows = [dict(r._mapping) for r in (await conn.execute(select(alerts))).all()]
                kinds = ("rising_tension", "rumour_spreading")
                signal_alerts = [r for r in rows if r["labels"].get("kind") in kinds]
                changes = [
                    dict(r._mapping) for r in (await conn.execute(select(level_changes))).all()
                ]
                members = (
                    await conn.execute(
                        select(rumour_posts.c.post_id, rumour_posts.c.rumour_id).where(
                            rumour_posts.c.state == "member"
                        )
                    )
                ).all()
                merged = (
                    await conn.execute(
                        select(rumours.c.id, rumours.c.merged_into).where(
                            rumours.c.merged_into.is_not(None)
                        )
                    )
                ).all()
                items = await queries.load_processed(conn)
            key = (await rt.pipeline.ingestor.ids()).key  # stored ids are keyed
        stored = replay_from_rows(
            signal_alerts,
            changes,
            [(p, c) for p, c in members],
            {a: b for a, b in merged},
            config,
        )
        return stored, items, key

    stored, items, key = asyncio.run(run())
    truth, tags = demo_truth(TRUTH, key)
    return DemoRun(truth, tags, stored, items, config)


def _oracle_lag(run: DemoRun, result: Score) -> float:
    assert run.truth.rumour_onset is not None and result.rumour_delay_min is not None
    times = {i.post.id: i.post.created_at for i in run.items}
    cfg = run.config.rumours
    crossed = truth_threshold_time(run.truth, times, cfg.spread_posts, cfg.window)
    assert crossed is not None
    return (run.truth.rumour_onset + result.rumour_delay_min * MIN - crossed) / MIN


@pytest.mark.slow
def test_demo_rumour_is_one_cluster_flagged_in_time_with_no_false_alarms(
    demo_run: DemoRun,
) -> None:
    result = score(demo_run.stored, demo_run.truth, demo_run.config, area_parents(demo_run.items))
    assert result.rumour_clusters == 1, result
    assert result.rumour_coverage >= 0.7  # replies to posts it missed stay out (keyword vectors)
    assert result.rumour_alerts == 1
    assert result.rumour_delay_min is not None
    assert result.rumour_delay_min <= RUMOUR_WITHIN_MIN
    assert _oracle_lag(demo_run, result) <= RUMOUR_BEHIND_ORACLE_MIN
    assert result.false_alarms == 0, result.false_alarm_keys


@pytest.mark.slow
def test_demo_signals_alone_find_both_episodes_and_nothing_else(demo_run: DemoRun) -> None:
    labelled = with_truth_labels(demo_run.items, demo_run.tags)
    result = score(
        replay(labelled, demo_run.config, end=demo_run.truth.end),
        demo_run.truth,
        demo_run.config,
    )
    assert result.rumour_alerts == 1 and result.rumour_coverage >= 0.9
    assert _oracle_lag(demo_run, result) <= RUMOUR_BEHIND_ORACLE_MIN
    assert result.tension_delay_min is not None
    assert result.tension_delay_min <= TENSION_WITHIN_MIN
    assert result.tension_peak in ("high", "critical")
    assert result.tension_lowered_after_end_min is not None
    assert result.tension_lowered_after_end_min <= TENSION_DOWN_WITHIN_MIN
    assert result.false_alarms == 0, result.false_alarm_keys


@pytest.mark.slow
def test_demo_tension_raises_little_horton_through_the_pipeline(demo_run: DemoRun) -> None:
    result = score(demo_run.stored, demo_run.truth, demo_run.config, area_parents(demo_run.items))
    assert result.tension_delay_min is not None
    assert result.tension_lowered_after_end_min is not None


def test_demo_truth_file_is_read_as_a_truth() -> None:
    if not TRUTH.is_file():
        pytest.skip(f"no demo truth at {TRUTH}")
    truth, tags = demo_truth(Path(TRUTH))
    assert truth.rumour_onset is not None and truth.tension_ward == "Little Horton"
    assert truth.tension_onset is not None and truth.tension_end is not None
    assert truth.tension_onset < truth.tension_end <= truth.end
    assert truth.rumour_posts and all(p in tags for p in truth.rumour_posts)


@pytest.mark.slow
@pytest.mark.model
# Encodes the whole demo week (3,564 posts): about 15 s on two idle cores, but past the
# suite's 300 s hang guard on a shared machine running both test workers at load 15.
@pytest.mark.timeout(900)
def test_demo_rumour_is_one_cluster_with_the_real_encoder(demo_run: DemoRun) -> None:
    """The same stored posts and labels, with all-MiniLM-L6-v2 sentence embeddings in place of
    the keyword classifier's hashed ones, and the encoder's thresholds. The embeddings are the
    ones a service stores for clustering: its classifier's (`load_classifier` on this
    checkout's settings: the shipped model on ONNX Runtime fp32 on a CPU, within 1e-6 of
    PyTorch's), one forward pass giving scores and embedding, of the text its encoder reads
    (disguised words written plainly). That pass is `monitor demo`'s too, so the week is
    encoded once per run for both (tests/conftest.py, `analyse_demo_week`)."""
    from ..classify.conftest import require_model
    from ..conftest import analyse_demo_week

    require_model()
    analyses = analyse_demo_week([i.post.text for i in demo_run.items])
    assert analyses is not None, "the shipped model is installed, yet the keyword one loaded"
    items = [
        Processed(i.post, i.scores, a.embedding, i.flags, i.hits)
        for i, a in zip(demo_run.items, analyses, strict=True)
    ]
    config = SignalsConfig.from_settings(Settings(), hashed_embeddings=False)
    result = score(replay(items, config, end=demo_run.truth.end), demo_run.truth, config)
    assert result.rumour_clusters == 1, result
    assert result.rumour_coverage >= 0.75
    assert result.rumour_alerts == 1
    assert _oracle_lag(demo_run, result) <= 30
    assert result.false_alarms == 0, result.false_alarm_keys
