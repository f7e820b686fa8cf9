"""Event-level evaluation: the signals against labelled streams, story by story.

Replays the generated weeks (several concurrent claims, a tension episode, solidarity and
counter-speech waves a classifier partly misreads as hostile, chatter bursts; calm and quiet
weeks), the bundled demo week through the real pipeline, and the PHEME events in time order,
and reports per stream: items opened, true stories found, false items per week, minutes from
a story's first post to its item (and, as its floor, to when the story's own posts first met
the incidents' precision gate: 5 posts from 3 authors), claim-cluster purity, levels raised by
response waves; and, for the generated weeks, the median minutes from a story's first post to
its own 3, 4 and 5 posts from 3 authors: what the stories physically allow an item that waits
for that much evidence.

Baseline, in the same run on the same posts: the monitor as it was before claim-level rumours
and response recognition (no cohesion ceiling or claim terms, no claim-share or place
condition on spreading, no earlier way to spread across places, classifier flags alone may
raise any level, responses weighed like any flagged post).

    .venv/bin/python benchmarks/events.py [--weeks 4] [--encoder] [--no-demo] [--no-pheme]
        [--arrival batched|bulk|paced|shuffled] [--json] [--stories]

`--stories`: per story, minutes to its item and to its own evidence and the kinds of alerts
its item is made of; for a rumour, the most of its posts in one velocity window, its busiest
claim cluster (posts, authors, claim share) and, with no item, what held it
(`monitor.evaluation.events.what_held`).

`--encoder` uses the transformer classifier's sentence embeddings (all-MiniLM-L6-v2), and for
the demo and PHEME its scores too: the figures to report. Items are incidents that pass the
incidents' precision gate (what a person is shown), at the time they pass; `signal_*` and
"signal min" are the same incidents ungated, at their first alert (a signal's, or a rule's
own: a threat or call to gather opens one as its post comes, as in the service), and "held"
counts the incidents the gate held back.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.classify.data import default_data_dir  # noqa: E402
from monitor.config import Settings  # noqa: E402
from monitor.demo import BUNDLED_SCENARIO  # noqa: E402
from monitor.evaluation.event_streams import evaluate_all  # noqa: E402
from monitor.evaluation.events import EVIDENCE, StreamResult, table  # noqa: E402


def summary(results: list[StreamResult]) -> dict[str, float | int | None]:
    weeks = [r for r in results if r.name.startswith(("week", "calm", "quiet"))]
    delays = [d for r in weeks for d in r.delays_min]
    signal = [d for r in weeks for d in r.signal_delays_min]
    floor = [d for r in weeks for d in r.floor_min]
    scored = [r for r in weeks if r.purity is not None]
    return {
        "stories": sum(r.stories for r in weeks),
        "found": sum(r.found for r in weeks),
        "false_per_week": sum(r.false_items for r in weeks)
        / max(sum(r.weeks for r in weeks), 1e-9),
        "median_min": statistics.median(delays) if delays else None,
        # The same incidents ungated, at their first signal alert: what was reported before
        # the evaluation applied the precision gate.
        "signal_false_per_week": sum(r.signal_false_items or 0 for r in weeks)
        / max(sum(r.weeks for r in weeks), 1e-9),
        "signal_median_min": statistics.median(signal) if signal else None,
        "held": sum(r.held for r in weeks),
        "gate_floor_min": statistics.median(floor) if floor else None,
        "purity": statistics.mean(r.purity for r in scored if r.purity is not None)
        if scored
        else None,
        "wave_levels": sum(r.wave_levels for r in weeks),
    } | {
        f"evidence_{n}/{a}_min": _median(
            [d for r in weeks for d in r.evidence_min.get(f"{n}/{a}", [])]
        )
        for n, a in EVIDENCE
    }


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _made_of(row: dict[str, Any]) -> str:
    """The alert kinds an item was made of; 'missed' only for a story with no item. The demo
    week's items are the pipeline's own incidents, whose keys do not list their kinds."""
    if row["minutes_to_item"] is None:
        return "missed"
    return "+".join(row["made_of"]) or "(kinds not in the item's key)"


def _near(row: dict[str, Any]) -> str:
    """How near a rumour story came to spreading, and what held one with no item."""
    out = f"most of its posts in one window {row['most_posts_in_window']}"
    c = row["closest_cluster"]
    if c is not None:
        share = "-" if c["claim_share"] is None else f"{c['claim_share']:.2f}"
        out += (f"; busiest cluster r{c['cluster']}: {c['posts_in_window']} posts from "
                f"{c['authors_in_window']} authors, claim share {share}"
                f"{', spread' if c['spread'] else ''}")  # fmt: skip
    return out + (f"; held: {row['held']}" if row["held"] else "")


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weeks", type=int, default=4)
    ap.add_argument("--encoder", action="store_true")
    ap.add_argument("--no-demo", action="store_true")
    ap.add_argument("--no-pheme", action="store_true")
    ap.add_argument("--arrival", default="batched")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--stories", action="store_true",
                    help="also print each story's minutes to its item, the kinds of alerts "
                         "the item is made of, its own evidence's minutes and, for a rumour, "
                         "what held it")  # fmt: skip
    args = ap.parse_args()
    pheme = default_data_dir() / "labelled" / "pheme" / "pheme9-sources.csv"
    started = time.monotonic()
    results = asyncio.run(
        evaluate_all(
            Settings(),
            encoder=args.encoder,
            weeks=args.weeks,
            demo=None if args.no_demo else BUNDLED_SCENARIO,
            pheme=None if args.no_pheme or not pheme.is_file() else pheme,
            arrival=args.arrival,
            baseline=True,
        )
    )
    shipped = [r for r in results if not r.name.endswith("(baseline)")]
    base = [r for r in results if r.name.endswith("(baseline)")]
    if args.json:
        print(json.dumps({"shipped": [r.as_dict() for r in shipped],
                          "baseline": [r.as_dict() for r in base]}, indent=2))  # fmt: skip
        return
    print(f"embeddings: {'encoder' if args.encoder else 'keyword'}; arrival: {args.arrival}")
    print(table(results))
    s, b = summary(shipped), summary(base)
    print("\ngenerated weeks, all together:   shipped  vs  baseline")
    for key in ("found", "false_per_week", "median_min", "signal_false_per_week",
                "signal_median_min", "held", "gate_floor_min", "purity",
                "wave_levels"):  # fmt: skip
        print(f"  {key:<16} {_fmt(s[key]):>22}  {_fmt(b[key]):>10}")
    print(f"  stories          {s['stories']!s:>22}")
    # What the stories physically allow: no item that waits for this much evidence can come
    # sooner (the same posts in both columns).
    print("  first post to a story's own n posts from a authors (median min):")
    for n, a in EVIDENCE:
        print(f"    {n} posts, {a} authors {_fmt(s[f'evidence_{n}/{a}_min']):>15}")
    if args.stories:
        print("\nper story (shipped): minutes to item; to 3/3 and 5/3 evidence; its alerts' kinds")
        for r in shipped:
            for row in r.per_story:
                three, five = _fmt(row["minutes_to_3/3"]), _fmt(row["minutes_to_5/3"])
                print(f"  {r.name:<14} {row['story']:<18} {_fmt(row['minutes_to_item']):>7}  "
                      f"3/3 {three:>6}  5/3 {five:>6}  "
                      f"{_made_of(row)}")  # fmt: skip
                if "held" in row:
                    print(f"      {_near(row)}")
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
