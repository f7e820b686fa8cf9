"""Signals detection: how soon a rumour and a tension episode are flagged, and how many false
alarms a simulated week raises.

1. Generated weeks (monitor/evaluation/simulate.py) with known ground truth: `--seeds` weeks with
   a rumour and a tension episode, and `--calm-weeks` weeks with neither, at `--noise` times
   the usual background of offensive banter, rules firing on it and one-off claims. Posts are
   scored by the keyword classifier (its weak hashed embeddings included); rule hits are
   simulated from each post's truth with misses and false positives.
2. The bundled demo week (monitor/data/demo/bradford-scenario.jsonl and its .truth.json):
   a) through the real pipeline (import, keyword classifier, shipped rules, signals stage,
      SQLite), scored from what the store holds afterwards;
   b) the same stored posts with the rules' hits replaced by the truth tags' labels: the
      signals on their own, apart from what today's classifier and rules catch.

Baseline, in the same run on the same posts: the same engine with its robustness switched
off — fixed counts (no rise over the area's own baseline), no distinct-author condition nor
per-author cap, no hysteresis — i.e. "N flagged posts in the window" and "N posts in an hour".

    .venv/bin/python benchmarks/signals_detection.py [--seeds 8] [--calm-weeks 6] [--noise 1.5]
        [--no-demo] [--encoder]

Delay is from the ground-truth onset (the episode's first post). For rumours the time at which
the rumour's own posts first reached the spreading threshold (8 in 60 min) is also shown: an
oracle that saw every rumour post could not say "spreading" before it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.config import Settings  # noqa: E402
from monitor.evaluation.evaluate import (  # noqa: E402
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
from monitor.evaluation.simulate import ScenarioSpec, Truth, generate  # noqa: E402
from monitor.signals.config import SignalsConfig  # noqa: E402
from monitor.types import Processed  # noqa: E402

DEMO = ROOT / "monitor" / "data" / "demo" / "bradford-scenario.jsonl"
DEMO_TRUTH = DEMO.with_suffix(".truth.json")


def configs() -> dict[str, SignalsConfig]:
    shipped = SignalsConfig.from_settings(Settings(), hashed_embeddings=True)
    naive_settings = Settings(
        signals_level_rise="0,0,0",  # no baseline: counts alone
        signals_level_authors="0,0,0",  # one account can raise a level
        signals_author_cap=0,  # ... and add any weight
        signals_kind_weights="threat=1,call_to_gather=1,tension=1,hostility=1,hostile=1",
        signals_severity_weights="low=1,medium=1,high=1,critical=1",
        signals_level_weighted="5,10,20",
        signals_down_factor=1.0,  # no hysteresis
        signals_cool_down_minutes=0,
        signals_spread_authors=1,
    )
    naive = SignalsConfig.from_settings(naive_settings, hashed_embeddings=True)
    return {"shipped": shipped, "naive": naive}


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.0f}{unit}"


def _row(name: str, s: Score, changes: int, oracle_lag: float | None = None) -> list[str]:
    return [
        name,
        _fmt(s.rumour_delay_min),
        _fmt(oracle_lag),
        str(s.rumour_clusters),
        f"{s.rumour_coverage:.0%}",
        _fmt(s.tension_delay_min),
        s.tension_peak or "-",
        _fmt(s.tension_lowered_after_end_min),
        str(s.false_alarms),
        f"{changes / s.weeks:.0f}",
    ]


HEADERS = [
    "run",
    "rumour min",
    "vs oracle",
    "clusters",
    "coverage",
    "tension min",
    "peak",
    "down after",
    "false alarms",
    "changes/wk",
]


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEADERS, *rows]) for i in range(len(HEADERS))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(HEADERS, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def oracle_lag(
    result: Score, truth: Truth, items: Sequence[Processed], cfg: SignalsConfig
) -> float | None:
    if result.rumour_delay_min is None or truth.rumour_onset is None:
        return None
    times = {i.post.id: i.post.created_at for i in items}
    at = truth_threshold_time(truth, times, cfg.rumours.spread_posts, cfg.rumours.window)
    if at is None:
        return None
    detected = truth.rumour_onset + timedelta(minutes=result.rumour_delay_min)
    return (detected - at) / timedelta(minutes=1)


def generated(seeds: int, calm_weeks: int, noise: float) -> None:
    cfgs = configs()
    totals: dict[str, dict[str, Any]] = {
        n: {"fa": 0, "weeks": 0.0, "delays": [], "lags": [], "tension": [], "changes": 0}
        for n in cfgs
    }
    rows: list[list[str]] = []
    runs: list[tuple[str, list[Processed], Truth]] = []
    for seed in range(1, seeds + 1):
        items, truth = generate(ScenarioSpec(seed=seed, noise=noise))
        runs.append((f"week {seed}", items, truth))
    for k in range(calm_weeks // 2):  # two weeks each, so that weekly baselines form
        spec = ScenarioSpec(seed=1000 + k, weeks=2, rumour_at=None, tension_at=None, noise=noise)
        items, truth = generate(spec)
        runs.append((f"calm {2 * k + 1}-{2 * k + 2}", items, truth))
    for label, items, truth in runs:
        for name, cfg in cfgs.items():
            r = replay(items, cfg, end=truth.end)
            s = score(r, truth, cfg)
            lag = oracle_lag(s, truth, items, cfg)
            t = totals[name]
            t["fa"] += s.false_alarms
            t["weeks"] += s.weeks
            t["changes"] += len(r.level_changes)
            if truth.rumour_onset is not None:
                t["delays"].append(s.rumour_delay_min)
                t["lags"].append(lag)
                t["tension"].append(s.tension_delay_min)
            if name == "shipped":
                rows.append(_row(label, s, len(r.level_changes), lag))
    print(f"Generated weeks (noise ×{noise}), shipped settings:")
    print(table(rows))
    print()
    print("Summary over all generated weeks:")
    summary = []
    for name, t in totals.items():
        delays = [d for d in t["delays"] if d is not None]
        lags = [x for x in t["lags"] if x is not None]
        tension = [d for d in t["tension"] if d is not None]
        summary.append(
            [
                name,
                f"{statistics.median(delays):.0f} / {max(delays):.0f}" if delays else "-",
                f"{len(delays)}/{len(t['delays'])}",
                f"{statistics.median(lags):.0f}" if lags else "-",
                f"{statistics.median(tension):.0f} / {max(tension):.0f}" if tension else "-",
                f"{len(tension)}/{len(t['tension'])}",
                f"{t['fa'] / t['weeks']:.2f}",
                f"{t['changes'] / t['weeks']:.0f}",
            ]
        )
    heads = [
        "settings",
        "rumour min (median / max)",
        "found",
        "vs oracle",
        "tension min (median / max)",
        "found",
        "false alarms / week",
        "level changes / week",
    ]
    widths = [max(len(r[i]) for r in [heads, *summary]) for i in range(len(heads))]
    print("  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in summary:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    shipped, naive = totals["shipped"], totals["naive"]
    if shipped["fa"]:
        print(f"\nfalse alarms, naive / shipped: {naive['fa'] / shipped['fa']:.1f}×")
    else:
        print(f"\nfalse alarms: naive {naive['fa']}, shipped 0")


async def _through_pipeline(
    db_url: str,
) -> tuple[Replay, list[Processed], float, Callable[[str], str]]:
    from sqlalchemy import select

    from monitor.classify.keyword import KeywordClassifier
    from monitor.ingest.importer import import_file
    from monitor.runtime.app import open_runtime
    from monitor.store import signals as signal_store
    from monitor.store.tables import alerts, level_changes, rumour_posts, rumours

    settings = Settings(database_url=db_url, home=str(ROOT), classifier="keyword")
    if hasattr(settings, "alerts_deliver"):
        settings = settings.with_overrides(alerts_deliver=False)
    cfg = SignalsConfig.from_settings(settings, hashed_embeddings=True)
    started = time.perf_counter()
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        await import_file(DEMO, rt.pipeline, batch_size=settings.ingest_batch_size)
        await rt.pipeline.drain()
        elapsed = time.perf_counter() - started
        async with rt.engine.connect() as conn:
            kinds = ("rising_tension", "rumour_spreading")
            rows = [dict(r._mapping) for r in (await conn.execute(select(alerts))).all()]
            signal_alerts = [r for r in rows if r["labels"].get("kind") in kinds]
            changes = [dict(r._mapping) for r in (await conn.execute(select(level_changes))).all()]
            members = [
                (r.post_id, r.rumour_id)
                for r in (
                    await conn.execute(
                        select(rumour_posts.c.post_id, rumour_posts.c.rumour_id).where(
                            rumour_posts.c.state == "member"
                        )
                    )
                ).all()
            ]
            merged = {
                r.id: r.merged_into
                for r in (
                    await conn.execute(
                        select(rumours.c.id, rumours.c.merged_into).where(
                            rumours.c.merged_into.is_not(None)
                        )
                    )
                ).all()
            }
            items = await signal_store.load_processed(conn)
        key = (await rt.pipeline.ingestor.ids()).key  # the store keeps platform ids keyed
    replay = replay_from_rows(signal_alerts, changes, members, merged, cfg)
    return replay, items, elapsed, key


def demo(encoder: bool) -> None:
    if not DEMO.is_file() or not DEMO_TRUTH.is_file():
        print(f"\n(no demo scenario at {DEMO}: skipped)")
        return
    cfgs = configs()
    cfg = cfgs["shipped"]
    with tempfile.TemporaryDirectory() as tmp:
        result, items, elapsed, key = asyncio.run(
            _through_pipeline(f"sqlite+aiosqlite:///{tmp}/demo.db")
        )
    truth, tags = demo_truth(DEMO_TRUTH, key)
    rows = []
    s = score(result, truth, cfg, area_parents(items))
    rows.append(
        _row(
            "pipeline: keyword + rules",
            s,
            len(result.level_changes),
            oracle_lag(s, truth, items, cfg),
        )
    )
    labelled = with_truth_labels(items, tags)
    for name, c in cfgs.items():
        r = replay(labelled, c, end=truth.end)
        s2 = score(r, truth, c)
        rows.append(
            _row(f"truth labels, {name}", s2, len(r.level_changes), oracle_lag(s2, truth, items, c))
        )
    if encoder:
        from monitor.classify.encoder import Encoder

        vectors = Encoder().encode([i.post.text for i in items]).embeddings
        encoded = [
            Processed(i.post, i.scores, vectors[k].tolist(), i.flags, i.hits)
            for k, i in enumerate(items)
        ]
        enc_cfg = SignalsConfig.from_settings(Settings(), hashed_embeddings=False)
        for name, its in (
            ("encoder, pipeline labels", encoded),
            ("encoder, truth labels", with_truth_labels(encoded, tags)),
        ):
            r = replay(its, enc_cfg, end=truth.end)
            s3 = score(r, truth, enc_cfg)
            rows.append(_row(name, s3, len(r.level_changes), oracle_lag(s3, truth, items, enc_cfg)))
    print(
        f"\nDemo week ({truth.weeks * 7:.0f} days, {len(items)} posts; pipeline import took "
        f"{elapsed:.1f} s). Rumour onset {truth.rumour_onset:%a %H:%M}, tension "
        f"{truth.tension_ward} {truth.tension_onset:%a %H:%M}-{truth.tension_end:%a %H:%M}."
    )
    print(table(rows))
    print(
        "false alarms are alert keys the truth does not explain, over "
        f"{truth.weeks:.2f} simulated weeks"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=8, help="generated weeks with episodes")
    parser.add_argument("--calm-weeks", type=int, default=6, help="generated weeks without")
    parser.add_argument("--noise", type=float, default=1.5, help="background noise multiplier")
    parser.add_argument("--no-demo", action="store_true")
    parser.add_argument(
        "--encoder",
        action="store_true",
        help="also replay the demo with all-MiniLM-L6-v2 embeddings (a few minutes on a CPU)",
    )
    args = parser.parse_args()
    generated(args.seeds, args.calm_weeks, args.noise)
    if not args.no_demo:
        demo(args.encoder)


if __name__ == "__main__":
    main()
